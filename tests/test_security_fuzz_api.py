"""The JSON API under attack: schemathesis against a real `taiwa serve --demo` (uvicorn) on loopback.

Every operation of `/schema/openapi.json` is fuzzed four ways: schema-valid and schema-breaking
(negative) data, each with an organizer's bearer token (path ids pinned to real sessions, venues,
boards, polls and registrations, so requests get past the 404) and without one (ids as generated).
An integrator must never see a 5xx, and every answer must be what the schema promises: a documented
status code, the documented content type and a body matching the documented shape.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from tests.harness import fresh_database, ROOT, ServerProcess

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("TAIWA_FUZZ_EXAMPLES", "40"))  # per operation and way with a token; half without
# `make test` replays the same cases every run (a red CI means a change broke something);
# TAIWA_FUZZ_RANDOM=1 explores new ones, as a developer should now and then.
DERANDOMIZE = not os.environ.get("TAIWA_FUZZ_RANDOM")

# Every operation of the contract: a new one fails test_every_operation_is_fuzzed until it is listed here.
OPERATIONS = [
    "GET /api/sessions", "POST /api/sessions", "GET /api/sessions/{session_id}", "PATCH /api/sessions/{session_id}",
    "POST /api/sessions/{session_id}/duplicate", "GET /api/series/{series_id}", "GET /api/orgs", "GET /api/venues",
    "POST /api/venues", "GET /api/venues/{venue_id}", "PATCH /api/venues/{venue_id}",
    "GET /api/sessions/{session_id}/registrations", "POST /api/sessions/{session_id}/registrations",
    "GET /api/registrations/{token}", "DELETE /api/registrations/{token}",
    "PATCH /api/accommodation-requests/{request_id}", "POST /api/sessions/{session_id}/boards",
    "POST /api/boards/{board_id}/participants", "GET /api/boards/{board_id}/export.json",
    "GET /api/boards/{board_id}/export.csv", "GET /api/boards/{board_id}/export.md",
    "POST /api/boards/{board_id}/polls", "GET /api/polls/{poll_id}/results",
    "POST /api/sessions/{session_id}/evaluation", "POST /api/evaluations/{evaluation_id}/responses",
    "GET /api/evaluations/{evaluation_id}/results",
    "GET /api/themes", "POST /api/themes", "GET /api/themes/{slug}", "PATCH /api/themes/{theme_id}/settings",
    "POST /api/themes/{theme_id}/opinions", "POST /api/themes/{theme_id}/issues", "POST /api/issues/{issue_id}/opinions",
    "POST /api/issues/{issue_id}/responses", "POST /api/responses/{response_id}/publish",
    "POST /api/sessions/{session_id}/captions", "GET /api/sessions/{session_id}/captions",
    "PATCH /api/sessions/{session_id}/captions", "DELETE /api/sessions/{session_id}/captions/captioners/{captioner_id}",
    "PATCH /api/sessions/{session_id}/captions/lines/{line}", "GET /api/sessions/{session_id}/captions.vtt",
    "GET /api/sessions/{session_id}/captions.txt", "POST /api/readings",
]
WAYS = [("valid data", GenerationMode.POSITIVE, True), ("valid data", GenerationMode.POSITIVE, False),
        ("invalid data", GenerationMode.NEGATIVE, True), ("invalid data", GenerationMode.NEGATIVE, False)]


@dataclass
class Target:
    """The running server, an organizer's token and real ids of things that organizer may manage."""

    base: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ids: dict[str, Any] = field(default_factory=dict)
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    unbreakable: set[str] = field(default_factory=set)  # operations without any input to make invalid


def _real_ids(base: str, token: str) -> dict[str, Any]:
    """Ids of the organizer's own sessions, venue, series, board, poll, registration and request."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        sessions = http.get("/api/sessions", params={"org": "kanazawa", "limit": 200}, headers=auth).json()["items"]
        assert sessions, "the demo has sessions of kanazawa"
        with_support = next(s for s in sessions if s["status"] == "published" and s["accommodations"])
        series = next((s["series_id"] for s in sessions if s["series_id"]), None)
        venue = http.get("/api/venues", headers=auth).json()[0]["id"]
        board = http.post(f"/api/sessions/{with_support['id']}/boards", headers=auth,
                          json={"title": "ファズ用ボード", "prompts": ["良いところ", "困りごと"]}).json()
        poll = http.post(f"/api/boards/{board['id']}/polls", headers=auth,
                         json={"type": "single_choice", "question": "どれ？", "options": ["A", "B"], "open": True,
                               "live_results": True}).json()
        registered = http.post(f"/api/sessions/{with_support['id']}/registrations", json={
            "name": "検証 花子", "email": "fuzz@example.jp", "mode": "in_person", "consent_sensitive": True,
            "accommodations": [{"code": with_support["accommodations"][0]["code"], "note": "前の席"}]})
        assert registered.status_code == 201, registered.text
        roster = http.get(f"/api/sessions/{with_support['id']}/registrations", headers=auth).json()
        request_id = next(r["id"] for entry in roster for r in entry["accommodations"])
        evaluation = http.post(f"/api/sessions/{with_support['id']}/evaluation", headers=auth, json={}).json()
        captions = http.post(f"/api/sessions/{with_support['id']}/captions", headers=auth, json={"label": "ファズ"})
        assert captions.status_code == 201, captions.text
        theme = http.post("/api/themes", headers=auth, json={"title": "ファズ用テーマ", "slug": "fuzz-theme"}).json()
        opinion = http.post(f"/api/themes/{theme['id']}/opinions", headers=auth,
                            json={"text": "ファズ用の意見", "source": "paper"}).json()
        issue = http.post(f"/api/themes/{theme['id']}/issues", headers=auth,
                          json={"title": "ファズ用の論点", "opinion_ids": [opinion["id"]]}).json()
        draft = http.post(f"/api/issues/{issue['id']}/responses", headers=auth,
                          json={"body": "下書き", "status": "considering", "publish": False}).json()
    return {"theme_id": theme["id"], "slug": theme["slug"], "issue_id": issue["id"], "response_id": draft["id"],
            "session_id": with_support["id"], "series_id": series, "venue_id": venue, "board_id": board["id"],
            "poll_id": poll["id"], "token": registered.json()["token"], "request_id": request_id,
            "evaluation_id": evaluation["id"],
            "captioner_id": captions.json()["captioner"], "line": 1}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("api-fuzz")
    # rate limits off: a fuzzer is one very busy client, and limits are tested elsewhere
    database = fresh_database(folder)
    server = ServerProcess(database, folder / "server.log", args=["--demo"],
                           secret="api-fuzz-test-secret-0123456789abcdef", env={"TAIWA_RATE_LIMITS": "off"})
    with server:
        made = subprocess.run([sys.executable, "-m", "server.cli", "create-token", "--email",
                               "organizer@kanazawa.example", "--db", str(database)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
        token = made.stdout.strip().splitlines()[-1]
        found = Target(base=server.base, token=token, process=server.process, log_path=server.log_path)
        found.ids = _real_ids(server.base, token)
        started = time.monotonic()
        yield found
        print(f"\n[api fuzz] {sum(found.cases.values())} cases in {time.monotonic() - started:.1f} s over "
              f"{len(found.cases)} operation-ways; statuses {dict(sorted(found.statuses.items()))}; "
              f"no invalid input possible for {sorted(found.unbreakable)}; "
              f"server log {server.log_path}")


@pytest.fixture(scope="module")
def schema(target: Target) -> Any:
    return schemathesis.openapi.from_url(f"{target.base}/schema/openapi.json")


def test_every_operation_is_fuzzed(schema):
    published = sorted(f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations()))
    assert published == sorted(OPERATIONS)


def _fuzz(target: Target, schema: Any, label: str, mode: GenerationMode, with_token: bool, *,
          pin: bool = True) -> list[str]:
    """Run one operation one way; returns a description of each distinct failure (no shrinking)."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {target.token}"} if with_token else {}
    names = [parameter.name for parameter in operation.path_parameters]
    pinned = {name: target.ids[name] for name in names if pin and with_token and target.ids.get(name) is not None}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=pinned or None)
    failures: dict[str, str] = {}
    way = f"{label} [{mode.value}, {'token' if with_token else 'anonymous'}]"

    @settings(max_examples=EXAMPLES if with_token else EXAMPLES // 2, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
    @given(case=strategy)
    def run(case: Any) -> None:
        target.cases[way] += 1
        try:
            response = case.call(base_url=target.base, headers=headers, timeout=30)
        except Exception as error:  # the server hung up or timed out: as bad as a 500
            failures.setdefault(type(error).__name__, f"{way}: {type(error).__name__}: {error}")
            return
        target.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            kinds = ",".join(sorted(type(failure).__name__ for failure in group.exceptions))
            failures.setdefault(f"{response.status_code}:{kinds}", f"{way}:\n{group}")

    try:
        run()
    except Unsatisfiable:
        # nothing of this operation can be made invalid: no body or query, and the path ids were pinned
        if mode is GenerationMode.NEGATIVE and pinned:
            return _fuzz(target, schema, label, mode, with_token, pin=False)
        if mode is not GenerationMode.NEGATIVE:
            raise
        target.unbreakable.add(label)  # e.g. only a string in the path: every string is valid there
    return list(failures.values())


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_answers_every_request_as_documented_and_never_with_5xx(target, schema, label):
    failures: list[str] = []
    for _what, mode, with_token in WAYS:
        failures += _fuzz(target, schema, label, mode, with_token)
    assert not failures, "\n\n".join(failures)[:20_000]


@pytest.mark.parametrize("field, value", [
    ("registration_closes_at", "0082-11-05T07:11:59Z"),  # what the fuzzer sent: stored as "82-11-05…"
    ("starts_at", "0001-01-01T00:00:00+09:00"),  # before year 1 in UTC
    ("ends_at", "9999-12-31T23:00:00-05:00"),  # after year 9999 in UTC
    ("childcare", {"places": 3, "deadline": "0999-01-01T00:00:00Z"}),
])
def test_a_date_in_a_far_off_year_is_refused_and_the_session_stays_readable(target, field, value):
    """Found by the fuzzer: a PATCH with a year-82 deadline was stored, and every read of the session failed."""
    auth = {"Authorization": f"Bearer {target.token}", "Accept-Language": "en"}
    session = f"/api/sessions/{target.ids['session_id']}"
    with httpx.Client(base_url=target.base, timeout=30) as http:
        answer = http.patch(session, json={field: value}, headers=auth)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid" and any(name.startswith(field) for name in error["fields"]), error
        assert "2000" in " ".join(error["fields"].values())
        for read in (session, f"{session}/registrations"):
            assert http.get(read, headers=auth).status_code == 200
        assert http.post("/api/sessions", headers=auth, json={
            "title": "遠い未来", "starts_at": "2026-12-01T10:00:00+09:00", "ends_at": "2026-12-01T12:00:00+09:00",
            field: value}).status_code == 422
