"""Pages for residents and workshop participants: the listing and session pages, registration and
the registrant's own page (/r) and online room, calendar feeds, joining and using a board (/j,
/boards), live captions (/c), evaluations (/e), the ledger's theme pages (/themes), and /healthz for load balancers.

None of them needs an account. The facilitator's board pages (facilitation.py) share the
/boards prefix but sit behind the `staff` guard on a router of their own.
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from server.auth.guards import STAFF, facilitated_board, staff
from server.public import (
    board_opinions, boards, calendars, captions, evaluation, facilitation, health, online_room, registration, sessions,
    themes,
)


def public_router() -> Router:
    """Resident pages (open), and the facilitator's board pages (guarded)."""
    return Router(
        path="/", include_in_schema=False,
        route_handlers=[
            *sessions.ROUTES, *registration.ROUTES, *online_room.ROUTES, *evaluation.ROUTES, *calendars.ROUTES,
            *boards.ROUTES, *themes.ROUTES, *captions.ROUTES, *health.ROUTES,
            Router(path="/", guards=[staff], route_handlers=[*facilitation.ROUTES, *board_opinions.ROUTES],
                   dependencies={**STAFF, "board": Provide(facilitated_board)}),
        ],
    )
