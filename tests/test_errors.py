"""Errors a user can meet: answered in their language, never with a stack trace."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings
from sessions import store
from tests.harness import PASSWORD, csrf_from, html, login, make_account


async def test_unexpected_failure_shows_a_calm_page_without_a_stack_trace(client, db, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(store, "get_session", broken)
    response = await client.get("/sessions/1")
    assert response.status_code == 500
    assert html(response).html["lang"] == "ja"
    assert "Traceback" not in response.text and "disk on fire" not in response.text
    api = await client.get("/api/sessions/1")
    assert api.status_code == 500 and api.json()["error"]["code"] == "server_error"
    assert "disk on fire" not in api.text


async def test_api_errors_follow_accept_language(client):
    english = await client.get("/api/sessions/999999", headers={"Accept-Language": "en"})
    japanese = await client.get("/api/sessions/999999", headers={"Accept-Language": "ja"})
    assert english.status_code == japanese.status_code == 404
    assert english.json()["error"]["message"] == "There is no such session."
    assert english.json()["error"]["message"] != japanese.json()["error"]["message"]


async def test_malformed_json_is_a_400_with_a_message(client, db):
    account = await make_account(db, "staff@kanazawa.example")
    from server.auth import accounts

    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, account.id)
    response = await client.post("/api/sessions", content=b"{not json",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["message"]


async def test_cookies_are_secure_when_served_over_https(tmp_path: Path):
    settings = Settings(db_path=tmp_path / "s.sqlite3", secret="s" * 32, base_url="https://taiwa.example.jp")
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="https://taiwa.example.jp") as client:
        await make_account(app.litestar.state.db, "staff@kanazawa.example")
        page = await client.get("/organize/login")
        response = await client.post("/organize/login", follow_redirects=False, data={
            "_csrf_token": csrf_from(page), "email": "staff@kanazawa.example", "password": PASSWORD})
        cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
        assert any("taiwa_login" in c and "Secure" in c and "HttpOnly" in c for c in cookies)


async def test_personal_pages_are_not_cached(client, db):
    await make_account(db, "staff@kanazawa.example")
    await login(client, "staff@kanazawa.example")
    assert (await client.get("/organize")).headers["cache-control"] == "no-store"
