"""Admin pages: organizations and the accounts that work for them."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from server.auth import accounts
from server.core import mail
from server.auth.accounts import ROLES
from server.core.errors import form_with_errors
from server.core.forms import form_values
from server.core.i18n import gettext as _
from server.auth.guards import Db, CurrentAccount
from sessions import store

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def org_errors(values: dict[str, Any], *, new: bool) -> dict[str, str]:
    errors = {}
    if new and not SLUG.match(values.get("slug", "")):
        errors["slug"] = _("Use 2 to 63 lowercase letters, digits and hyphens (for example kanazawa-city).")
    if not values.get("name", "").strip():
        errors["name"] = _("Enter the organization's name.")
    if values.get("contact_email") and "@" not in values["contact_email"]:
        errors["contact_email"] = _("Enter an email address such as name@example.jp.")
    if values.get("website") and not values["website"].startswith(("https://", "http://")):
        errors["website"] = _("Enter a web address starting with https://.")
    for key in ("name", "name_en", "contact_email", "contact_phone", "website"):
        if len(values.get(key, "")) > 200:
            errors[key] = _("Keep this under 200 characters.")
    return errors


def account_errors(values: dict[str, Any], *, new: bool) -> dict[str, str]:
    errors = {}
    if new and not re.match(r"^[^@\s]+@[^@\s]+$", values.get("email", "").strip()):
        errors["email"] = _("Enter an email address such as name@example.jp.")
    if values.get("role") not in ROLES:
        errors["role"] = _("Choose one of the options.")
    password = values.get("password", "")
    if (new or password) and len(password) < 10:
        errors["password"] = _("Use at least 10 characters.")
    if len(values.get("display_name", "")) > 100:
        errors["display_name"] = _("Keep this under 100 characters.")
    return errors


@get("/organize/admin", include_in_schema=False)
async def admin_home(request: Request, db: Db) -> Template:
    return Template("pages/admin/index.html", context={"orgs": await store.list_orgs(db),
                                                        "accounts": await accounts.list_accounts(db)})


@get("/organize/admin/orgs/new", include_in_schema=False)
async def new_org_form(request: Request) -> Template:
    return Template("pages/admin/org_form.html", context={"values": {}, "errors": {}, "org": None})


@post("/organize/admin/orgs/new", include_in_schema=False)
async def create_org(request: Request, db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    errors = org_errors(values, new=True)
    if not errors and await store.get_org_by_slug(db, values["slug"]):
        errors["slug"] = _("This identifier is already in use.")
    if errors:
        return form_with_errors(request, "pages/admin/org_form.html", {"values": values, "errors": errors, "org": None})
    async with db.transaction() as conn:
        await store.create_org(conn, **{key: values.get(key, "").strip() for key in (
            "slug", "name", "name_en", "contact_email", "contact_phone", "website")})
    return Redirect(path="/organize/admin", status_code=303)


@get("/organize/admin/orgs/{org_id:int}/edit", include_in_schema=False)
async def edit_org_form(request: Request, org_id: FromPath[int], db: Db) -> Template:
    org = await store.get_org(db, org_id)
    if org is None:
        raise NotFoundException()
    values = {key: getattr(org, key) for key in ("slug", "name", "name_en", "contact_email", "contact_phone",
                                                  "website")}
    return Template("pages/admin/org_form.html", context={"values": values, "errors": {}, "org": org})


@post("/organize/admin/orgs/{org_id:int}/edit", include_in_schema=False)
async def update_org(request: Request, org_id: FromPath[int], db: Db) -> Template | Redirect:
    org = await store.get_org(db, org_id)
    if org is None:
        raise NotFoundException()
    values = form_values(await request.form())
    errors = org_errors(values, new=False)
    if errors:
        return form_with_errors(request, "pages/admin/org_form.html", {"values": {**values, "slug": org.slug},
                                                              "errors": errors, "org": org})
    async with db.transaction() as conn:
        await store.update_org(conn, org_id, **{key: values.get(key, "").strip() for key in (
            "name", "name_en", "contact_email", "contact_phone", "website")})
    return Redirect(path="/organize/admin", status_code=303)


@get("/organize/admin/accounts/new", include_in_schema=False)
async def new_account_form(request: Request, db: Db) -> Template:
    return Template("pages/admin/account_form.html", context={
        "values": {"role": "organizer"}, "errors": {}, "target": None,
        "orgs": await store.list_orgs(db)})


@post("/organize/admin/accounts/new", include_in_schema=False)
async def create_account(request: Request, db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    errors = account_errors(values, new=True)
    org = await store.get_org_by_slug(db, values.get("org", ""))
    if org is None:
        errors["org"] = _("Choose one of the options.")
    if "email" not in errors and await accounts.get_account_by_email(db, values.get("email", "")):
        errors["email"] = _("An account with this email address already exists.")
    if errors:
        return form_with_errors(request, "pages/admin/account_form.html", {
            "values": {**values, "password": ""}, "errors": errors, "target": None, "orgs": await store.list_orgs(db)})
    async with db.transaction() as conn:
        await accounts.create_account(conn, org_id=org.id, email=values["email"], password=values["password"],  # type: ignore[union-attr]
                                      role=values["role"], display_name=values.get("display_name", ""))
    return Redirect(path="/organize/admin", status_code=303)


@get("/organize/admin/accounts/{account_id:int}/edit", include_in_schema=False)
async def edit_account_form(request: Request, account_id: FromPath[int], db: Db) -> Template:
    target = await accounts.get_account(db, account_id)
    if target is None:
        raise NotFoundException()
    values = {"role": target.role, "display_name": target.display_name, "active": "1" if target.active else ""}
    return Template("pages/admin/account_form.html", context={"values": values, "errors": {}, "target": target,
                                                              "orgs": []})


@post("/organize/admin/accounts/{account_id:int}/edit", include_in_schema=False)
async def update_account(request: Request, account_id: FromPath[int], account: CurrentAccount, db: Db) -> Template | Redirect:
    target = await accounts.get_account(db, account_id)
    if target is None:
        raise NotFoundException()
    values = form_values(await request.form())
    errors = account_errors(values, new=False)
    active = bool(values.get("active"))
    if target.id == account.id and (not active or values.get("role") != "admin"):
        errors["role"] = _("You cannot remove your own administrator rights.")
    if errors:
        return form_with_errors(request, "pages/admin/account_form.html", {
            "values": {**values, "password": ""}, "errors": errors, "target": target, "orgs": []})
    async with db.transaction() as conn:
        await accounts.update_account(conn, account_id, role=values["role"], active=active,
                                      display_name=values.get("display_name", ""),
                                      password=values.get("password") or None)
    return Redirect(path="/organize/admin", status_code=303)


@get("/organize/admin/outbox", include_in_schema=False)
async def outbox_page(request: Request, db: Db) -> Template:
    """Mail waiting, sent and failing: with no SMTP server configured, this is where mail can be read."""
    settings = request.app.state.settings
    return Template("pages/admin/outbox.html", context={
        "messages": await mail.outbox(db), "smtp": bool(settings.smtp_url)})


ROUTES = [outbox_page, admin_home, new_org_form, create_org, edit_org_form, update_org, new_account_form, create_account,
          edit_account_form, update_account]
