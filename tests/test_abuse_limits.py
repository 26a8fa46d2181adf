"""Abuse limits: sign-in per account and per client, registrations per client, notes and questions
per participant. Each is configurable (TAIWA_LIMITS), says in the user's language how long to wait,
and lifts by itself."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings
from server.auth.limits import DEFAULT_LIMITS, Limit, SlidingWindow, parse_limits
from tests.harness import fresh_database, PASSWORD, TaiwaServer, html, login, make_account, prepare_workshop
from tests.socket_clients import Api, facilitator, op, participant
from tests.socket_clients import crowd  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)


@pytest.fixture
def settings(db_target: Path | str, request: pytest.FixtureRequest) -> Settings:
    return Settings(db_path=db_target, secret="test-secret-" + "x" * 20,
                    base_url="http://testserver.local", background=False,
                    limits=parse_limits(getattr(request, "param", "")))


def test_limits_are_read_from_taiwa_limits_over_the_defaults():
    limits = parse_limits("note=3/60, question=1/30")
    assert limits["note"] == Limit(3, 60) and limits["question"] == Limit(1, 30)
    assert limits["login_account"] == DEFAULT_LIMITS["login_account"]
    for wrong, says in [("notes=3/60", "unknown limit 'notes'"), ("note=three/60", "note=COUNT/SECONDS"),
                        ("note=0/60", "at least 1"), ("note=3/0", "1 to 86400 seconds")]:
        with pytest.raises(ValueError, match=says):
            parse_limits(wrong)


def test_settings_take_taiwa_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("TAIWA_LIMITS", "login_account=3/120")
    assert Settings.from_env().limit("login_account") == Limit(3, 120)
    monkeypatch.setenv("TAIWA_LIMITS", "")
    monkeypatch.setenv("TAIWA_REGISTRATIONS_PER_CLIENT", "7")
    assert Settings.from_env().limit("registration") == Limit(7, DEFAULT_LIMITS["registration"].seconds)


def test_a_lockout_lifts_when_its_oldest_attempt_leaves_the_window():
    window = SlidingWindow(limit=2, seconds=0.3)
    window.record("k")
    assert not window.blocked("k") and window.retry_after("k") == 0
    window.record("k")
    assert window.blocked("k") and window.retry_after("k") == 1
    time.sleep(0.35)
    assert not window.blocked("k")


@pytest.mark.parametrize("settings", ["login_account=3/5"], indirect=True)
async def test_sign_in_lockout_per_account_says_how_long_and_lifts(client, db):
    await make_account(db, "target@kanazawa.example")
    await make_account(db, "colleague@kanazawa.example")
    for _ in range(3):
        await login(client, "target@kanazawa.example", "guess-guess-guess")
    blocked = await login(client, "target@kanazawa.example", PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    # Japanese by default: how long, not "forever" (what is left of the 5 s, however slow the machine was)
    assert re.search(r"[1-5]秒", html(blocked).get_text())
    client.cookies.set("taiwa_lang", "en")
    blocked = await login(client, "target@kanazawa.example", PASSWORD)
    assert re.search(r"Please wait [1-5] seconds?", html(blocked).get_text())
    other = await login(client, "colleague@kanazawa.example", PASSWORD)  # another account is not locked out
    assert other.status_code == 200 and other.url.path == "/organize"
    await asyncio.sleep(5.1)
    client.cookies.clear()
    again = await login(client, "target@kanazawa.example", PASSWORD)
    assert again.status_code == 200 and again.url.path == "/organize"


@pytest.mark.parametrize("settings", ["login_client=4/900"], indirect=True)
async def test_sign_in_lockout_per_client_covers_guessing_many_accounts(client, db):
    await make_account(db, "someone@kanazawa.example")
    for n in range(4):
        await login(client, f"guess{n}@kanazawa.example", "guess-guess-guess")
    blocked = await login(client, "someone@kanazawa.example", PASSWORD)
    assert blocked.status_code == 429
    assert "15分" in html(blocked).get_text()


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("limits")
    server = TaiwaServer(prepare_workshop(fresh_database(folder)), folder / "server.log",
                         env={"TAIWA_LIMITS": "note=3/60,question=2/60"})
    server.start()
    yield server
    server.stop()


async def test_notes_and_questions_per_participant_are_limited_in_their_language(limited_server, crowd):
    api = Api(limited_server)
    try:
        board = await api.new_board("上限の確認")
        hanako = await participant(api, crowd, board, "花子")
        taro = await participant(api, crowd, board, "Taro", lang="en")
        organizer = await facilitator(api, crowd, board)
        for n in range(3):
            assert (await hanako.call("note:add", {"op": op(), "zone": "z1", "text": f"意見{n}"}))["ok"]
        refused = await hanako.call("note:add", {"op": op(), "zone": "z1", "text": "四つ目"})
        assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
        assert "付箋" in refused["error"]["message"] and "1分" in refused["error"]["message"]
        assert hanako.connected
        # others are not held back, and other changes still go through for her
        assert (await taro.call("note:add", {"op": op(), "zone": "z2", "text": "my idea"}))["ok"]
        note = (await hanako.board())["notes"][0]["id"]
        assert (await hanako.call("note:edit", {"op": op(), "note": note, "text": "書き直した意見"}))["ok"]

        poll_board = await api.new_board("質問の上限")
        asker = await participant(api, crowd, poll_board, "Jiro", lang="en")
        for n in range(2):
            assert (await asker.call("question:ask", {"op": op(), "text": f"Question {n}?"}))["ok"]
        refused = await asker.call("question:ask", {"op": op(), "text": "One more?"})
        assert refused["error"]["code"] == "rate_limited"
        assert "wait a minute" in refused["error"]["message"]
        assert organizer.connected
    finally:
        await api.close()
