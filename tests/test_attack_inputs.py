"""Red-team findings on inputs and public answers (issue 20), as regression tests of the intended behaviour.

- Finding 8: drafts leak through feed headers: `/calendar.ics?q=word` changed its ETag and
  Last-Modified when only a *draft* matched the word.
- Low items: far dates (`to=9999-12-31`, `from=0001-01-01`) and JSON nested ~2,000 deep gave 500s;
  the Content-Security-Policy let pages connect to any `ws:`/`wss:` host.
"""

from __future__ import annotations

import pytest

from tests.conftest import make_account, make_session
from tests.test_attack_boards import online_session, taiwa

DEPTH = 2000


def validators(answer) -> dict[str, str | None]:  # noqa: ANN001 - an httpx response
    return {"ETag": answer.headers.get("etag"), "Last-Modified": answer.headers.get("last-modified")}


# ---------------------------------------------------------------- finding 8: drafts and public feeds

async def test_a_draft_never_changes_the_public_feeds(client, db):
    """Finding 8: `/calendar.ics?q=word` carried an ETag and Last-Modified computed over drafts too,
    so anyone could tell that an unpublished session mentions a word (and when it was edited) by
    watching the headers. Intended: drafts influence neither the headers nor the body of any public
    feed (`/calendar.ics` with or without filters, `/orgs/{slug}/calendar.ics`)."""
    account = await make_account(db, "organizer@kanazawa.example")
    await make_session(db, account.org_id, **online_session(title="防災の集い"))
    feeds = ["/calendar.ics?q=再開発", "/calendar.ics?q=防災", "/calendar.ics", "/orgs/kanazawa/calendar.ics"]
    before = {path: await client.get(path) for path in feeds}
    for path, answer in before.items():
        assert answer.status_code == 200, (path, answer.status_code)

    draft = await make_session(db, account.org_id, **online_session(title="駅西の再開発（非公開）", status="draft"))
    assert draft
    changed = []
    for path, earlier in before.items():
        later = await client.get(path)
        if validators(later) != validators(earlier) or later.content != earlier.content:
            changed.append(f"{path}: {validators(earlier)} -> {validators(later)}"
                           f"{' (body changed)' if later.content != earlier.content else ''}")
        etag = earlier.headers.get("etag")
        if etag:
            again = await client.get(path, headers={"If-None-Match": etag})
            if again.status_code != 304:
                changed.append(f"{path}: If-None-Match with the earlier ETag answered {again.status_code}, not 304")
    assert not changed, "a draft changed what the public sees of the feeds:\n" + "\n".join(changed)


# ---------------------------------------------------------------- far dates

@pytest.mark.parametrize("path", [
    "/sessions?to=9999-12-31", "/sessions?from=0001-01-01", "/sessions?from=0001-01-01&to=9999-12-31",
    "/calendar.ics?to=9999-12-31", "/calendar.ics?from=0001-01-01",
    "/api/sessions?to=9999-12-31", "/api/sessions?from=0001-01-01",
])
async def test_far_dates_in_filters_are_refused_not_a_server_error(client, db, path):
    """Low item: `/sessions?to=9999-12-31`, `?from=0001-01-01` (and the feed and the API with them)
    answered 500: the date plus or minus a day leaves Python's range. Intended: never a 500. The API
    answers 422 naming the field (as for any unreadable date); pages and feeds answer a 4xx, or — as
    they do for any other unreadable filter — 200 with the filter dropped and, on the page, a
    message next to the date field."""
    account = await make_account(db, "organizer@kanazawa.example")
    await make_session(db, account.org_id, **online_session(title="防災の集い"))
    answer = await client.get(path)
    assert answer.status_code < 500, f"GET {path} answered {answer.status_code}"
    if path.startswith("/api/"):
        assert answer.status_code == 422, answer.text
        assert set(answer.json()["error"].get("fields", {})) & {"from", "to"}, answer.text
    elif answer.status_code == 200 and path.startswith("/sessions"):
        assert "field-error" in answer.text, "the page must say which date it could not use"
    elif answer.status_code == 200:
        assert answer.text.startswith("BEGIN:VCALENDAR")
    else:
        assert 400 <= answer.status_code < 500


# ---------------------------------------------------------------- deeply nested JSON

def deep_bodies() -> dict[str, bytes]:
    return {"arrays": b"[" * DEPTH + b"]" * DEPTH,
            "objects": b'{"title":' * DEPTH + b"1" + b"}" * DEPTH,
            "mixed": b'{"name":[' * (DEPTH // 2) + b'"x"' + b"]}" * (DEPTH // 2)}


async def test_json_nested_2000_deep_is_a_client_error_on_every_api_write(client, db, settings):
    """Low item: a JSON body nested ~2,000 deep made the JSON decoder overflow: 500 on public
    endpoints (registrations, joining a board) and on organizers' ones. Intended: a 4xx (400 or 422,
    or 413) with the usual error body, on every /api POST and PATCH."""
    account = await make_account(db, "organizer@kanazawa.example")
    session_id = await make_session(db, account.org_id, **online_session(title="防災の集い"))
    token = taiwa("create-token", "--email", "organizer@kanazawa.example", db=settings.db_path).splitlines()[-1]
    bearer = {"Authorization": f"Bearer {token}"}
    board = await client.post(f"/api/sessions/{session_id}/boards", headers=bearer,
                              json={"title": "入れ子", "prompts": ["地域の良いところ"]})
    assert board.status_code == 201, board.text
    board_id = board.json()["id"]
    venue = await client.post("/api/venues", headers=bearer, json={"name": "市民交流センター"})
    venue_id = venue.json().get("id", 1)
    writes = [("POST", f"/api/sessions/{session_id}/registrations", {}),
              ("POST", f"/api/boards/{board_id}/participants", {}),
              ("POST", "/api/sessions", bearer), ("POST", "/api/venues", bearer),
              ("POST", f"/api/sessions/{session_id}/boards", bearer), ("POST", f"/api/boards/{board_id}/polls", bearer),
              ("PATCH", f"/api/sessions/{session_id}", bearer), ("PATCH", f"/api/venues/{venue_id}", bearer),
              ("PATCH", "/api/accommodation-requests/1", bearer)]
    failures = []
    for method, path, headers in writes:
        for shape, body in deep_bodies().items():
            answer = await client.request(method, path, content=body,
                                          headers={**headers, "Content-Type": "application/json"})
            if not 400 <= answer.status_code < 500:
                failures.append(f"{method} {path} ({shape}): {answer.status_code}")
            elif "error" not in answer.json():
                failures.append(f"{method} {path} ({shape}): {answer.status_code} without an error body")
    assert not failures, "JSON nested 2,000 deep:\n" + "\n".join(failures)


# ---------------------------------------------------------------- the Content-Security-Policy

async def test_pages_may_connect_only_to_their_own_origin(client, db):
    """Low item: `connect-src 'self' ws: wss:` let an injected script open a WebSocket to any host
    (a channel out for whatever it reads). Intended: `connect-src 'self'` (same-origin WebSockets are
    covered by 'self'), no bare scheme or wildcard."""
    for path in ("/", "/sessions", "/j", "/organize/login"):
        policy = (await client.get(path)).headers.get("content-security-policy", "")
        directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
        sources = directives.get("connect-src", directives.get("default-src", []))
        loose = [s for s in sources if s in ("*", "ws:", "wss:", "http:", "https:", "data:", "blob:") or "*" in s]
        assert not loose, f"{path}: connect-src allows {loose} ({policy})"
        assert "'self'" in sources
