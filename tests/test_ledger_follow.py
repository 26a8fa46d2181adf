"""Following a theme by mail (論点整理): double opt-in that cannot be skipped, a mail for each published
response through the outbox and a real SMTP server (aiosmtpd), one-click unsubscribe (RFC 8058
headers, a bare POST), no way to learn who follows, and requests limited per client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.core import mail
from server.core.logs import mask
from server.settings import Settings
from tests.harness import csrf_from, html, read_db
from tests.ledger_helpers import city, issue, opinion, respond, theme_with_sessions
from tests.test_attack_mail_tokens import smtp

BASE = "http://testserver.local"
SECRET = "ledger-follow-secret-" + "x" * 20
SENDER = "Taiwa <no-reply@testserver.local>"


@pytest.fixture
async def quiet(tmp_path: Path) -> AsyncIterator[tuple[AsyncTestClient, Any, Path]]:
    """The app without its background loop (each test delivers when it chooses); client, database, file."""
    path = tmp_path / "taiwa.sqlite3"
    app = create_app(Settings(db_path=path, secret=SECRET, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        yield client, app.litestar.state.db, path


async def ask_to_follow(client: AsyncTestClient, slug: str, address: str, lang: str = "ja") -> Any:
    page = await client.get(f"/themes/{slug}?lang={lang}")
    return await client.post(f"/themes/{slug}/follow?lang={lang}", data={"_csrf_token": csrf_from(page), "email": address})


async def deliver(db: Any, port: int) -> int:
    return await mail.deliver_due(db, f"smtp://127.0.0.1:{port}", SENDER, secret=SECRET)


def link_in(message: Any, kind: str) -> str:
    found = re.search(rf"{re.escape(BASE)}(/themes/[^\s]+/{kind}/[A-Za-z0-9_-]+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


async def a_theme(client: AsyncTestClient, db: Any) -> tuple[Any, dict, int]:
    saku = await city(db)
    theme = await theme_with_sessions(client, saku)
    o = await opinion(client, saku, theme["id"], "バスを増やして")
    return saku, theme, await issue(client, saku, theme["id"], "バスの本数", [o])


async def test_double_opt_in_then_a_mail_per_published_response_then_one_click_unsubscribe(quiet, smtp):
    client, db, path = quiet
    port, inbox = smtp
    saku, theme, issue_id = await a_theme(client, db)
    asked = await ask_to_follow(client, theme["slug"], "hanako@example.jp")
    assert asked.status_code == 200 and "メールを確認してください" in html(asked).h1.get_text()
    await respond(client, saku, issue_id, "検討します。", "considering")
    assert await deliver(db, port) == 1, "only the confirmation: nobody is mailed before confirming"
    confirmation = inbox.to("hanako@example.jp")[0]
    assert "フォローの確認" in confirmation["Subject"] and confirmation["List-Unsubscribe"] is None
    confirm_link = link_in(confirmation, "follow")
    assert mask(f'"GET {confirm_link} HTTP/1.1"') == f'"GET /themes/{theme["slug"]}/follow/*** HTTP/1.1"', \
        "the token never reaches the access log"
    assert all("/follow/{token}" in row[0] for row in read_db(path, "select body from outbox where kind = 'follow_confirm'")), \
        "the stored mail holds no working link"

    page = await client.get(confirm_link)  # a mail scanner opening the link confirms nothing
    assert page.status_code == 200 and html(page).select_one("form button")
    await respond(client, saku, issue_id, "まだ検討中です。", "considering")
    assert await deliver(db, port) == 0
    confirmed = await client.post(confirm_link, data={"_csrf_token": csrf_from(page)})
    assert confirmed.status_code == 200 and "フォローしています" in confirmed.text

    await respond(client, saku, issue_id, "下書きです。", "adopted", publish=False)
    assert await deliver(db, port) == 0, "a draft is not mailed"
    await respond(client, saku, issue_id, "平日に2便を増やします。", "adopted", department="交通政策課")
    assert await deliver(db, port) == 1
    notice = inbox.to("hanako@example.jp")[-1]
    assert "平日に2便を増やします。" in notice.get_content() and "反映" in notice.get_content()
    assert "公共交通の見直し" in notice["Subject"] and "\n" not in notice["Subject"]
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = re.fullmatch(r"<(.+)>", notice["List-Unsubscribe"]).group(1)
    assert one_click == BASE + link_in(notice, "unsubscribe")

    client.cookies.clear()  # a mail program: no cookie, no CSRF token, just the RFC 8058 body
    gone = await client.post(one_click.removeprefix(BASE), content=b"List-Unsubscribe=One-Click",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert gone.status_code == 200, gone.text
    assert read_db(path, "select count(*) from theme_followers")[0][0] == 0, "the address is forgotten"
    await respond(client, saku, issue_id, "対応しました。", "done")
    assert await deliver(db, port) == 0
    again = await client.post(one_click.removeprefix(BASE), content=b"List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200, "unsubscribing twice is harmless"


async def test_the_unsubscribe_page_works_with_a_button_too(quiet, smtp):
    client, db, path = quiet
    port, inbox = smtp
    saku, theme, issue_id = await a_theme(client, db)
    await ask_to_follow(client, theme["slug"], "taro@example.jp", lang="en")
    await deliver(db, port)
    confirmation = inbox.to("taro@example.jp")[0]
    assert "Confirm that you want to follow" in confirmation["Subject"], "mail in the language of the request"
    link = link_in(confirmation, "follow")
    page = await client.get(link)
    await client.post(link, data={"_csrf_token": csrf_from(page)})
    unsubscribe = link.replace("/follow/", "/unsubscribe/")
    form = html(await client.get(unsubscribe)).select_one("main form")
    assert form["action"] == unsubscribe and form["method"] == "post"
    done = await client.post(unsubscribe + "?lang=en")
    assert done.status_code == 200 and "no longer follow" in done.text
    assert read_db(path, "select count(*) from theme_followers")[0][0] == 0


async def test_double_opt_in_cannot_be_bypassed(quiet, smtp):
    client, db, path = quiet
    port, inbox = smtp
    saku, theme, issue_id = await a_theme(client, db)
    await ask_to_follow(client, theme["slug"], "victim@example.jp")
    page = await client.get(f"/themes/{theme['slug']}")
    token = csrf_from(page)
    for guess in ("x", "0" * 43, "{token}", "%7Btoken%7D", "a" * 200):
        answer = await client.post(f"/themes/{theme['slug']}/follow/{guess}", data={"_csrf_token": token})
        assert answer.status_code == 404, guess
    hashed = read_db(path, "select token_hash from theme_followers")[0][0]
    assert (await client.post(f"/themes/{theme['slug']}/follow/{hashed}", data={"_csrf_token": token})).status_code == 404
    no_csrf = await client.post(f"/themes/{theme['slug']}/follow/x")
    assert no_csrf.status_code == 403
    assert read_db(path, "select confirmed_at from theme_followers")[0][0] is None
    await respond(client, saku, issue_id, "検討します。", "considering")
    await deliver(db, port)
    assert len(inbox.to("victim@example.jp")) == 1, "the confirmation only"


async def test_a_link_works_only_for_its_own_person_and_theme(quiet, smtp):
    client, db, path = quiet
    port, inbox = smtp
    saku, theme, issue_id = await a_theme(client, db)
    other = await theme_with_sessions(client, saku, slug="another-theme", title="別のテーマ")
    links = {}
    for address in ("a@example.jp", "b@example.jp"):
        await ask_to_follow(client, theme["slug"], address)
    await deliver(db, port)
    for address in ("a@example.jp", "b@example.jp"):
        links[address] = link_in(inbox.to(address)[0], "follow")
        page = await client.get(links[address])
        await client.post(links[address], data={"_csrf_token": csrf_from(page)})
    a_token = links["a@example.jp"].rsplit("/", 1)[1]
    elsewhere = await client.post(f"/themes/{other['slug']}/unsubscribe/{a_token}")
    assert elsewhere.status_code == 200
    assert read_db(path, "select count(*) from theme_followers where confirmed_at is not null")[0][0] == 2, \
        "a's token at another theme's address unsubscribes nobody"
    assert (await client.get(f"/themes/{other['slug']}/follow/{a_token}")).status_code == 404
    await client.post(links["a@example.jp"].replace("/follow/", "/unsubscribe/"))
    await respond(client, saku, issue_id, "検討します。", "considering")
    await deliver(db, port)
    assert len(inbox.to("b@example.jp")) == 2 and len(inbox.to("a@example.jp")) == 1, \
        "unsubscribing a stops a only; b still hears"


async def test_nobody_learns_who_follows_and_requests_are_limited(quiet, smtp):
    client, db, path = quiet
    port, inbox = smtp
    saku, theme, issue_id = await a_theme(client, db)
    first = await ask_to_follow(client, theme["slug"], "known@example.jp")
    await deliver(db, port)
    link = link_in(inbox.to("known@example.jp")[0], "follow")
    await client.post(link, data={"_csrf_token": csrf_from(await client.get(link))})
    again = await ask_to_follow(client, theme["slug"], "known@example.jp")
    stranger = await ask_to_follow(client, theme["slug"], "stranger@example.jp")
    main = lambda r: html(r).select_one("main").get_text(" ", strip=True)
    assert main(first) == main(again) == main(stranger), "the same answer whoever follows"
    await deliver(db, port)
    assert len(inbox.to("known@example.jp")) == 1, "a follower asking again is not mailed again"
    await ask_to_follow(client, theme["slug"], "stranger@example.jp")
    await deliver(db, port)
    assert len(inbox.to("stranger@example.jp")) == 1, "a waiting address is not flooded"
    bad = await ask_to_follow(client, theme["slug"], "not an address\r\nBcc: x@example.jp")
    assert bad.status_code == 422 and html(bad).select_one(".field-error")
    answers = [(await ask_to_follow(client, theme["slug"], f"p{n}@example.jp")).status_code for n in range(12)]
    assert 429 in answers and answers[0] == 200
    assert read_db(path, "select count(*) from theme_followers")[0][0] < 14


async def test_an_address_never_confirmed_is_forgotten_after_a_week(quiet, smtp):
    from ledger import following

    client, db, path = quiet
    _saku, theme, _issue = await a_theme(client, db)
    await ask_to_follow(client, theme["slug"], "old@example.jp")
    await ask_to_follow(client, theme["slug"], "new@example.jp")
    async with db.transaction() as conn:
        await conn.execute("update theme_followers set requested_at = '2000-01-01T00:00:00Z' where email = ?",
                           ("old@example.jp",))
    assert await following.forget_unconfirmed(db) == 1
    assert [row[0] for row in read_db(path, "select email from theme_followers")] == ["new@example.jp"]
    assert not read_db(path, "select 1 from outbox where to_address = 'old@example.jp'"), "its unsent mail goes too"
