"""Staff pages under /organize, one module per page family: sessions and venues, the roster,
boards set-up, .ics import, the ledger's themes (論点整理), and the admin pages.

Every route here needs a signed-in account (guard `staff`, declared once on the router); the
admin pages also need an admin (guard `admins` on their own router). Handlers receive the
session, series, venue or request they act on through the dependencies of server/auth/guards.py,
which refuse another organization's objects. After a save, the page it lands on says once what was
done (server/organize/flash.py). Sign-in and sign-out live in server/auth/signin.py.
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from server.auth.guards import (
    STAFF, acting_org, admins, managed_issue, managed_response, managed_session, managed_theme, managed_venue,
    seen_series, staff, support_request,
)
from server.organize import (
    admin, boards, captions, evaluation, importing, messages, readings, roster, sessions, themes,
)
from server.organize.flash import clear_flash


def organize_router() -> Router:
    """The /organize pages behind their guards."""
    return Router(
        path="/", guards=[staff], route_handlers=[
            *sessions.ROUTES, *messages.ROUTES, *roster.ROUTES, *boards.ROUTES, *captions.ROUTES, *evaluation.ROUTES, *importing.ROUTES, *readings.ROUTES,
            *themes.ROUTES,
            Router(path="/", guards=[admins], route_handlers=admin.ROUTES),
        ],
        dependencies={**STAFF, "session": Provide(managed_session), "venue": Provide(managed_venue),
                      "series": Provide(seen_series), "acting_org": Provide(acting_org),
                      "support_request": Provide(support_request),
                      "theme": Provide(managed_theme), "issue": Provide(managed_issue),
                      "response": Provide(managed_response)},
        after_request=clear_flash, include_in_schema=False,
    )
