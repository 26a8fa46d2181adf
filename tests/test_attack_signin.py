"""Red-team findings on signing in behind a proxy (issue 20), as regression tests of the intended behaviour.

- Finding 6: behind the documented nginx every visitor was one client (the peer address), so 20
  wrong sign-ins with made-up emails locked a real organizer out, and 20 registrations blocked
  residents city-wide. Intended: the client's own address from X-Forwarded-For, believed only from a
  trusted proxy and read right to left; a lockout that strangers elsewhere cannot trigger.
- Finding 10: 60 wrong passwords sent at once were all checked (limit 5); each argon2 check ran on
  the event loop (a resident waited 8 s); limits were per process. Intended: a place under the limit
  taken before the check, checks in worker threads, limits kept in the shared database.
- Low items: a password reset left the account's API tokens working; `connect-src` allowed any
  WebSocket host; no HSTS, in the app or in the README's nginx.

Most run against real `taiwa serve` processes on loopback, which the default TAIWA_TRUSTED_PROXIES
trusts as nginx would be: X-Forwarded-For names the visitor, as nginx's `$proxy_add_x_forwarded_for`
does. Two processes share one database file.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.auth import accounts
from server.auth.limits import DEFAULT_LIMITS, parse_limits
from server.settings import Settings, parse_trusted_proxies
from tests.conftest import (
    PASSWORD, ROOT, csrf_from, html, login, make_account, post_form, running_demo_server,
)

DEMO_PASSWORD = "taiwa-demo-2026"
PER_ACCOUNT_AND_CLIENT = DEFAULT_LIMITS["login_account_client"].count  # 5


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two `taiwa serve --demo` processes on one SQLite file, as deployed (default limits and proxies)."""
    db = tmp_path_factory.mktemp("signin") / "taiwa.sqlite3"
    with running_demo_server(db) as first, running_demo_server(db) as second:
        yield first, second


class SignIn:
    """The sign-in form of a running server, posted as a browser behind nginx would (its address in
    X-Forwarded-For)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf: dict[str, str] = {}

    async def post(self, base: str, email: str, password: str, client: str) -> httpx.Response:
        if base not in self.csrf:  # the CSRF cookie and token, kept by the client for every later post
            self.csrf[base] = csrf_from(await self.http.get(base + "/organize/login"))
        return await self.http.post(base + "/organize/login", headers={"X-Forwarded-For": client}, data={
            "_csrf_token": self.csrf[base], "email": email, "password": password})


def checked(answers: list[httpx.Response]) -> int:
    """How many attempts had their password checked (the others were refused beforehand)."""
    wrong = [a for a in answers if a.status_code == 200 and "正しくありません" in html(a).get_text()]
    refused = [a for a in answers if a.status_code == 429]
    assert len(wrong) + len(refused) == len(answers), [a.status_code for a in answers]
    return len(wrong)


# ---------------------------------------------------------------- finding 6: the client behind the proxy

async def test_strangers_behind_the_proxy_cannot_lock_an_organizer_out(servers):
    """Finding 6: a stranger sends 5 wrong passwords for the organizer and 20 for made-up accounts,
    forging the organizer's address in X-Forwarded-For (nginx appends the stranger's real one). The
    stranger is refused from then on; the organizer, from their own address, signs in."""
    base = servers[0]
    stranger = "198.51.100.20, 203.0.113.66"  # what nginx forwards: the forged entry, then the real peer
    async with httpx.AsyncClient(timeout=120) as http, httpx.AsyncClient(timeout=120) as organizer:
        form = SignIn(http)
        tries = [("organizer@kanazawa.example", f"guess-{n}") for n in range(5)]
        tries += [(f"made-up-{n}@city.example.jp", "guess") for n in range(20)]
        answers = [await form.post(base, email, password, stranger) for email, password in tries]
        assert checked(answers) == 20, "the stranger's own limit (login_client=20) should stop them"
        again = await form.post(base, "organizer@kanazawa.example", DEMO_PASSWORD, stranger)
        assert again.status_code == 429, "the stranger is refused even with the right password"

        signed_in = await SignIn(organizer).post(base, "organizer@kanazawa.example", DEMO_PASSWORD, "198.51.100.20")
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/organize", (
            f"the organizer was locked out by a stranger's failures ({signed_in.status_code})")


async def test_registrations_from_one_connection_do_not_block_other_residents(servers):
    """Finding 6: 20 registrations from one address used up the limit of everyone behind the proxy.
    Intended: that address is refused; a resident elsewhere still registers."""
    base = servers[0]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        sessions = (await http.get("/api/sessions", params={"limit": 50})).json()["items"]

        sent = iter(range(1000))

        async def register(session_id: int, client: str) -> httpx.Response:
            # each one a different resident: one address may hold one place in a session
            return await http.post(f"/api/sessions/{session_id}/registrations", headers={"X-Forwarded-For": client},
                                   json={"name": "山田 花子", "email": f"hanako{next(sent)}@example.jp", "mode": "online"})

        for session in sessions:  # a session open for online registration
            if session["format"] != "in_person" and (await register(session["id"], "192.0.2.200")).status_code == 201:
                break
        else:
            pytest.fail("no demo session takes online registrations")
        busy = [await register(session["id"], "203.0.113.77") for _ in range(20)]
        assert [a.status_code for a in busy] == [201] * 20
        assert (await register(session["id"], "203.0.113.77")).status_code == 429
        resident = await register(session["id"], "198.51.100.30")
        assert resident.status_code == 201, f"a resident elsewhere was refused ({resident.status_code})"


@pytest.fixture
def settings(db_target: Path | str, request: pytest.FixtureRequest) -> Settings:
    """The app behind the test client, whose peer is "testclient": trusted as a proxy when asked."""
    trusted, limits = getattr(request, "param", ((), ""))
    return Settings(db_path=db_target, secret="test-secret-" + "x" * 20,
                    base_url="http://testserver.local", background=False, trusted_proxies=trusted,
                    limits=parse_limits(limits))


@pytest.mark.parametrize("settings", [((), "login_client=4/900")], indirect=True)
async def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(client, db):
    """Never trusted from an untrusted peer: a client that makes up a new X-Forwarded-For for each
    attempt is still one client."""
    await make_account(db, "someone@kanazawa.example")
    for n in range(4):
        page = await client.get("/organize/login")
        await client.post("/organize/login", headers={"X-Forwarded-For": f"192.0.2.{n}"}, data={
            "_csrf_token": csrf_from(page), "email": f"guess{n}@kanazawa.example", "password": "guess-guess"})
    page = await client.get("/organize/login")
    blocked = await client.post("/organize/login", headers={"X-Forwarded-For": "192.0.2.99"}, data={
        "_csrf_token": csrf_from(page), "email": "someone@kanazawa.example", "password": PASSWORD})
    assert blocked.status_code == 429


@pytest.mark.parametrize("settings", [(("testclient",), "login_account=8/900")], indirect=True)
async def test_failures_from_many_addresses_together_reach_the_account_ceiling(client, db):
    """The per-account ceiling (`login_account`, here 8) still stops guessing from many addresses:
    5 failures from each of two addresses lock the account for a third; another account is free."""
    await make_account(db, "target@kanazawa.example")
    await make_account(db, "colleague@kanazawa.example")
    csrf = csrf_from(await client.get("/organize/login"))

    async def attempt(email: str, password: str, address: str) -> Any:
        return await client.post("/organize/login", headers={"X-Forwarded-For": address}, data={
            "_csrf_token": csrf, "email": email, "password": password})

    statuses = [(await attempt("target@kanazawa.example", "guess-guess", address)).status_code
                for address in ("192.0.2.1", "192.0.2.2") for _ in range(5)]
    assert statuses == [200] * 5 + [200, 200, 200, 429, 429]
    assert (await attempt("target@kanazawa.example", PASSWORD, "192.0.2.3")).status_code == 429
    colleague = await attempt("colleague@kanazawa.example", PASSWORD, "192.0.2.1")
    assert colleague.status_code == 200 and colleague.url.path == "/organize"


def test_trusted_proxies_are_loopback_unless_taiwa_trusted_proxies_says_otherwise(monkeypatch):
    assert Settings.from_env().trusted_proxies == ("127.0.0.1", "::1")
    monkeypatch.setenv("TAIWA_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    assert Settings.from_env().trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    assert parse_trusted_proxies("") == parse_trusted_proxies("none") == ()
    with pytest.raises(ValueError, match="'nginx' is not an address or a network"):
        parse_trusted_proxies("127.0.0.1,nginx")


# ---------------------------------------------------------------- finding 10: races, blocking, processes

async def test_sixty_wrong_passwords_at_once_are_checked_only_up_to_the_limit(servers):
    """Finding 10: 60 wrong passwords for one account sent together were all checked. Intended:
    exactly `login_account_client` (5) are checked; the others are refused with 429 before any check."""
    base = servers[0]
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=60)) as http:
        form = SignIn(http)
        await form.post(base, "nobody@city.example.jp", "warm-up", "192.0.2.61")  # the CSRF cookie, once
        started = time.monotonic()
        answers = await asyncio.gather(*(form.post(base, "organizer@saku.example", f"guess-{n}", "192.0.2.60")
                                         for n in range(60)))
        elapsed = time.monotonic() - started
    assert checked(answers) == PER_ACCOUNT_AND_CLIENT, (
        f"{checked(answers)} of 60 concurrent wrong passwords were checked (in {elapsed:.1f} s)")


async def test_a_residents_page_stays_fast_during_a_burst_of_sign_ins(servers):
    """Finding 10: each argon2 check ran on the event loop, so a resident's page waited for a burst
    of sign-ins. Intended: checks run in worker threads; during 30 sign-ins at once (each its own
    address and account, so every one is checked) the session list answers in under a second."""
    base = servers[0]
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=60)) as http, \
            httpx.AsyncClient(base_url=base, timeout=60) as resident:
        form = SignIn(http)
        await form.post(base, "nobody@city.example.jp", "warm-up", "192.0.2.99")

        async def seconds_for_the_front_page() -> float:
            started = time.monotonic()
            assert (await resident.get("/")).status_code == 200
            return time.monotonic() - started

        burst = asyncio.gather(*(form.post(base, f"visitor-{n}@city.example.jp", "guess", f"192.0.2.{100 + n}")
                                 for n in range(30)))
        await asyncio.sleep(0.05)
        waits = []
        while not burst.done():
            waits.append(await seconds_for_the_front_page())
            await asyncio.sleep(0.1)
        answers = await burst
    assert waits and statistics.median(waits) < 1.0, (
        f"the front page took {statistics.median(waits):.2f} s (median of {waits}) while sign-ins were checked")
    assert len(waits) >= 3, f"the burst ended before the page could be measured ({waits})"
    assert checked(answers) == 30, "every sign-in of the burst should have been checked"


async def test_two_processes_on_one_database_enforce_one_sign_in_limit(servers):
    """Finding 10: limits were per process, so `--workers N` multiplied them. Intended: two servers
    sharing the database check 5 wrong passwords for one account from one address in all, not more,
    even when 20 arrive at each at once; the lockout is seen by both."""
    first, second = servers
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=60)) as http:
        form = SignIn(http)
        for base in servers:
            await form.post(base, "nobody@city.example.jp", "warm-up", "192.0.2.71")
        answers = await asyncio.gather(*(form.post(base, "organizer@ichinoseki.example", f"guess-{n}", "192.0.2.70")
                                         for n in range(20) for base in (first, second)))
        assert checked(answers) == PER_ACCOUNT_AND_CLIENT, f"{checked(answers)} of 40 were checked by two processes"
        for base in servers:
            assert (await form.post(base, "organizer@ichinoseki.example", DEMO_PASSWORD, "192.0.2.70")).status_code == 429


# ---------------------------------------------------------------- low items

async def test_changing_a_password_ends_the_accounts_api_tokens_and_logins(client, db):
    """Low item: a password reset by an administrator left the account's API tokens working. Intended:
    its API tokens answer 401 and its browser sessions end; other accounts keep theirs."""
    await make_account(db, "admin@kanazawa.example", role="admin")
    organizer = await make_account(db, "organizer@kanazawa.example")
    colleague = await make_account(db, "colleague@kanazawa.example")
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, organizer.id)
        other = await accounts.create_api_token(conn, colleague.id)
    await login(client, "organizer@kanazawa.example")
    organizer_cookie = client.cookies["taiwa_login"]
    client.cookies.clear()

    await login(client, "admin@kanazawa.example")
    saved = await post_form(client, f"/organize/admin/accounts/{organizer.id}/edit", None, {
        "role": "organizer", "active": "1", "display_name": "", "password": "a-brand-new-password-2"})
    assert saved.url.path == "/organize/admin"
    client.cookies.clear()

    assert (await client.get("/api/venues", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert (await client.get("/api/venues", headers={"Authorization": f"Bearer {other}"})).status_code == 200
    client.cookies.set("taiwa_login", organizer_cookie)
    assert (await client.get("/organize")).url.path == "/organize/login"


async def test_hsts_is_sent_when_the_public_address_is_https(tmp_path):
    """Low item: no Strict-Transport-Security. Intended: sent on every answer when TAIWA_BASE_URL is
    https (not on a plain-http development server), with a connect-src of the page's own origin."""
    for base_url, expected in [("https://taiwa.city.example.jp", "max-age=31536000; includeSubDomains"),
                               ("http://127.0.0.1:8000", None)]:
        settings = Settings(db_path=tmp_path / f"{expected is None}.sqlite3", secret="test-secret-" + "x" * 20,
                            base_url=base_url, background=False)
        async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as client:
            for path in ("/", "/organize/login", "/static/css/taiwa.css"):
                answer = await client.get(path)
                assert answer.headers.get("strict-transport-security") == expected, (base_url, path)
                assert "connect-src 'self';" in answer.headers["content-security-policy"]


def test_the_readmes_nginx_forwards_the_client_and_sends_hsts():
    """The README's nginx sample: HSTS on every answer, and X-Forwarded-For in every location (the app
    reads it from a trusted proxy)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    nginx = re.search(r"```nginx\n(.*?)```", readme, re.DOTALL)
    assert nginx is not None
    sample = nginx.group(1)
    assert re.search(r"add_header Strict-Transport-Security \"max-age=\d+[^\"]*\" always;", sample)
    locations = re.findall(r"location [^{]+\{(.*?)\n    \}", sample, re.DOTALL)
    assert len(locations) == 2
    for block in locations:
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in block
