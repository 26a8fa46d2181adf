"""The JSON API under /api: sessions, series, venues, registrations, boards, polls, captions, evaluations,
readings, and the ledger's themes, opinions, issues and responses.

One router, one guard (`api_tokens`): every operation needs an organizer's bearer token unless
its handler is marked public (`**PUBLIC`), so a new operation is closed until someone opens it.
Objects come through the dependencies of server/auth/guards.py, as on the staff pages.
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from server.api import boards, captions, evaluations, readings, registrations, sessions, themes
from server.auth.guards import (
    STAFF, api_tokens, facilitated_board, managed_evaluation, managed_issue, managed_response, managed_session,
    managed_theme, managed_venue,
)


def api_router() -> Router:
    """The /api operations behind the token guard."""
    return Router(
        path="/", guards=[api_tokens],
        route_handlers=[*sessions.ROUTES, *registrations.ROUTES, *boards.ROUTES, *captions.ROUTES, *evaluations.ROUTES, *readings.ROUTES,
                        *themes.ROUTES],
        dependencies={**STAFF,
                      "session": Provide(managed_session), "venue": Provide(managed_venue),
                      "board": Provide(facilitated_board),
                      "evaluation": Provide(managed_evaluation),
                      "theme": Provide(managed_theme), "issue": Provide(managed_issue),
                      "response": Provide(managed_response)},
    )
