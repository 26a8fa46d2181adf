"""Signing staff in and out (/organize/login, /organize/logout): the only /organize pages that
need no account.

Failed attempts are limited (TAIWA_LIMITS) for one account from one client address
(`login_account_client`), for one account from anywhere (`login_account`, a much higher ceiling) and
from one client address (`login_client`): a stranger's failures lock only the stranger out, never the
organizer signing in from elsewhere. An attempt takes its place under all three before its password
is checked, so attempts sent together cannot all be checked; a failure then counts from when it
failed; a sign-in that succeeds gives its place back and clears its account's failures from that
address.
"""

from __future__ import annotations

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from server.auth import accounts
from server.auth.limits import client_key, wait_text
from server.auth.shared_limits import Counter
from server.core.errors import TooManyRequests
from server.core.forms import form_values
from server.core.i18n import current_locale
from server.core.i18n import gettext as _
from server.core.middleware import LOGIN_COOKIE, _cookies
from server.core.redirects import local_path
from server.auth.guards import Db


def _attempt(email: str, client: str) -> list[Counter]:
    """What a sign-in attempt counts against; the first is forgotten when it succeeds."""
    return [("login_account_client", f"{email} {client}"), ("login_account", email), ("login_client", client)]


@get("/organize/login", include_in_schema=False)
async def login_form(request: Request) -> Template:
    return Template("pages/organize/login.html", context={"next": local_path(request.query_params.get("next")),
                                                          "values": {}, "error": ""})


@post("/organize/login", include_in_schema=False)
async def login(request: Request, db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    email = values.get("email", "").strip().lower()
    client = client_key(request)
    target = local_path(values.get("next"))
    if target == "/":
        target = "/organize"
    limits = request.app.state.shared_limits
    attempt = _attempt(email, client)
    taken = await limits.take(*attempt)
    if taken.wait:
        raise TooManyRequests(detail=_("Too many failed sign-in attempts. Please wait {wait} and try again.").format(
            wait=wait_text(taken.wait, current_locale.get())))
    account = await accounts.check_password(db, email, values.get("password", ""))
    if account is None:  # the place taken stays: a failure, counted from now
        await limits.renew(taken)
        return Template("pages/organize/login.html", context={
            "next": target, "values": {"email": values.get("email", "")},
            "error": _("The email address or password is not correct.")})
    await limits.release(taken, forget=attempt[:1])
    old = _cookies(request.scope).get(LOGIN_COOKIE)
    async with db.transaction() as conn:
        if old:
            await accounts.end_login(conn, old)  # a new session id at every login
        token = await accounts.start_login(conn, account.id)
    settings = request.app.state.settings
    return Redirect(path=target, status_code=303, cookies=[Cookie(
        key=LOGIN_COOKIE, value=token, httponly=True, samesite="lax", secure=settings.secure_cookies,
        max_age=int(accounts.LOGIN_LIFETIME.total_seconds()), path="/")])


@post("/organize/logout", include_in_schema=False)
async def logout(request: Request, db: Db) -> Redirect:
    token = _cookies(request.scope).get(LOGIN_COOKIE)
    if token:
        async with db.transaction() as conn:
            await accounts.end_login(conn, token)
    return Redirect(path="/", status_code=303, cookies=[Cookie(key=LOGIN_COOKIE, value="", max_age=0, path="/")])


ROUTES = [login_form, login, logout]
