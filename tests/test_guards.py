"""Access is declared once per router: every staff page and every API operation sits behind its
guard, so a handler added later cannot forget the check (the authorization matrix then tests
what each guard and dependency lets through)."""

from __future__ import annotations

from typing import Any

from server.auth.guards import admins, api_tokens, staff

OPEN_STAFF_PATHS = {"/organize/login", "/organize/logout"}  # signing in needs no account
FACILITATOR_PATHS = ("/facilitate", "/present", "/export.", "/polls.csv", "/outcome")


def _handlers(app: Any) -> list[tuple[str, Any]]:
    """(path, handler) for every route the app serves, without Litestar's own OPTIONS answers."""
    found = []
    for route in app.litestar.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.handler_name != "options_handler":
                found.append((route.path, handler))
    return found


def guards(handler: Any) -> list[Any]:
    """The guard functions that apply to a handler (from its own decorator and every router above it)."""
    return [getattr(guard, "func", guard) for guard in handler.resolve_guards()]


def test_every_organize_page_but_sign_in_needs_a_signed_in_account(app: Any) -> None:
    checked = 0
    for path, handler in _handlers(app):
        if path.startswith("/organize") and path not in OPEN_STAFF_PATHS:
            assert staff in guards(handler), f"{path} ({handler.handler_name}) has no staff guard"
            checked += 1
        if path.startswith("/organize/admin"):
            assert admins in guards(handler), f"{path} is not for admins only"
    assert checked > 40


def test_every_api_operation_is_closed_unless_marked_public(app: Any) -> None:
    public = set()
    for path, handler in _handlers(app):
        if path.startswith("/api/"):
            assert api_tokens in guards(handler), f"{path} ({handler.handler_name}) is outside the API router"
            if handler.opt.get("public"):
                public.add((path, *sorted(handler.http_methods)))
    # the operations anyone may call: listing and reading sessions, registering and a registrant's own
    # registration, joining a board with its code, revealed poll results, readings of a text (ふりがな) and answering
    # an evaluation, a published theme (論点整理) and a
    # published captions transcript
    assert {p for p, *_m in public} == {
        "/api/sessions", "/api/sessions/{session_id:int}", "/api/series/{series_id:int}", "/api/orgs",
        "/api/sessions/{session_id:int}/registrations", "/api/registrations/{token:str}",
        "/api/boards/{board_id:int}/participants", "/api/polls/{poll_id:str}/results", "/api/readings",
        "/api/evaluations/{evaluation_id:int}/responses", "/api/themes/{slug:str}",
        "/api/sessions/{session_id:int}/captions.vtt", "/api/sessions/{session_id:int}/captions.txt",
    }
    assert ("/api/themes/{slug:str}", "GET") in public
    assert ("/api/sessions/{session_id:int}/registrations", "GET") not in public  # the roster is not public


def test_facilitator_board_pages_need_a_signed_in_account(app: Any) -> None:
    paths = [path for path, handler in _handlers(app)
             if path.startswith("/boards/") and any(part in path for part in FACILITATOR_PATHS)
             and not (path.endswith("/outcome") and "GET" in handler.http_methods)
             and staff in guards(handler)]
    assert len(paths) >= 7
