"""Pages for residents and workshop participants: the listing and session pages, registration and
the registrant's own page (/r) and online room, calendar feeds, joining and using a board (/j,
/boards), and live captions (/c).

None of them needs an account. The facilitator's board pages (facilitation.py) share the
/boards prefix but sit behind the `staff` guard on a router of their own.
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from server.auth.guards import STAFF, facilitated_board, staff
from server.public import boards, calendars, captions, facilitation, online_room, registration, sessions


def public_router() -> Router:
    """Resident pages (open), and the facilitator's board pages (guarded)."""
    return Router(
        path="/", include_in_schema=False,
        route_handlers=[
            *sessions.ROUTES, *registration.ROUTES, *online_room.ROUTES, *calendars.ROUTES, *boards.ROUTES,
            *captions.ROUTES,
            Router(path="/", guards=[staff], route_handlers=facilitation.ROUTES,
                   dependencies={**STAFF, "board": Provide(facilitated_board)}),
        ],
    )
