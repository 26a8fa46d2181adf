"""The message an organizer sees once after a save (保存しました): a 303 carries a short-lived cookie
naming what happened, the page it lands on shows the message (partials/_flash.html, role="status"),
and every full staff page answered takes the cookie away again, so a reload does not repeat it.

The cookie holds only a word from FLASHES (and a count for sent messages), never text a user wrote.
"""

from __future__ import annotations

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect

FLASH_COOKIE = "taiwa_flash"
FLASH_PATH = "/organize"
FLASHES = ("saved", "published", "notified", "cancelled", "moved", "duplicated", "added", "sent", "to_theme")


def redirect_with_flash(request: Request, path: str, flash: str, *counts: int) -> Redirect:
    """A 303 to `path` whose page then says once what was done (`counts`: how many were told; for
    "to_theme", how many were sent and how many were there already)."""
    assert flash in FLASHES
    value = "-".join([flash, *(str(n) for n in counts)])
    return Redirect(path=path, status_code=303, cookies=[Cookie(
        key=FLASH_COOKIE, value=value, path=FLASH_PATH, max_age=60, httponly=True, samesite="lax",
        secure=request.app.state.settings.secure_cookies)])


async def clear_flash(response: Response) -> Response:
    """after_request of the staff pages: a page that showed the message takes its cookie away."""
    if not 300 <= (response.status_code or 200) < 400:
        response.delete_cookie(FLASH_COOKIE, path=FLASH_PATH)
    return response
