"""The Jinja2 environment: gettext, Japanese dates and the labels of the domain's vocabularies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, Template
from markupsafe import Markup, escape

from server.core import i18n
from server.core.furigana import current_ruby, ruby_filter, switch_url, use_org_readings
from server.core.middleware import current_account
from sessions import catalog
from sessions.models import Organization, Session, Venue
from sessions.store import from_db
from sessions.timestamps import now_utc


def localized(obj: Session | Venue | Organization, field: str) -> str:
    """The English variant of a field when reading in English and one was written."""
    if i18n.current_locale.get() == "en":
        english = getattr(obj, f"{field}_en", "")
        if english:
            return english
    return getattr(obj, field)


def label(vocabulary: str, code: str) -> str:
    """The translated display name of a code from one of the catalog's vocabularies."""
    names: dict[str, str] = getattr(catalog, vocabulary.upper())
    return i18n.gettext(names[code]) if code in names else code


def paragraphs(text: str) -> Markup:
    """Plain text as escaped paragraphs, keeping line breaks."""
    blocks = [block.strip() for block in str(text).replace("\r\n", "\n").split("\n\n") if block.strip()]
    return Markup("").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in block.split("\n")))
        for block in blocks
    )


def query(params: dict[str, Any], **changes: Any) -> str:
    """A query string from current parameters with some changed (None or '' removes a key)."""
    merged = {**params, **changes}
    return urlencode({key: value for key, value in merged.items() if value not in (None, "", False)})


def age_text(months: int) -> str:
    """An age in years and months, as a parent reads it: 1歳6か月 / 1 year 6 months."""
    return i18n.format_age(months)


def map_link(address: str) -> str:
    """A search for the venue's address on OpenStreetMap (no key, no tracking script on our pages)."""
    return "https://www.openstreetmap.org/search?" + urlencode({"query": " ".join(address.split())})


def session_calendar_links(session: Session, base_url: str) -> dict[str, str]:
    from server.public.calendars import session_links  # feeds renders with these helpers too

    return session_links(session, base_url)


def feed_calendar_links(path: str, params: dict[str, str], base_url: str) -> dict[str, str]:
    from server.public.calendars import feed_links

    return feed_links(path, params, base_url)


def reading_org(context: dict[str, Any]) -> str | None:
    """The organization whose content a page or fragment shows (its slug), for its ふりがな: an
    explicit `reading_org`, else the session's organization, else the organization shown."""
    explicit = context.get("reading_org")
    if isinstance(explicit, str) and explicit:
        return explicit
    session, org = context.get("session"), context.get("org")
    if isinstance(session, Session):
        return session.org.slug
    if isinstance(org, Organization):
        return org.slug
    return None


class OrgReadingTemplate(Template):
    """A template that tells the ふりがな middleware whose dictionary its answer reads with, and gives
    base.html `reading_org` (the <html data-reading-org> that static/js/ruby.js passes to /api/readings)."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        context = dict(*args, **kwargs)
        org = reading_org(context)
        request = context.get("request")
        if org:
            context["reading_org"] = org
            if request is not None and hasattr(request, "scope"):
                use_org_readings(request.scope, org)
        return super().render(context)


def configure(env: Environment) -> None:
    """Called by Litestar's JinjaTemplateEngine once the environment exists."""
    env.template_class = OrgReadingTemplate
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.globals.update(
        catalog=catalog, label=label, localized=localized, query=query, age_text=age_text,
        when=lambda s: i18n.format_when(s.starts_at, s.ends_at, s.timezone),
        moment=i18n.format_moment, day=i18n.format_date_only,
        locale=lambda: i18n.current_locale.get(), era=lambda: i18n.current_era.get(),
        current_account=lambda: current_account.get(), language_name=i18n.language_name,
        LOCALES=i18n.LOCALES, from_db=from_db, session_calendar_links=session_calendar_links,
        feed_calendar_links=feed_calendar_links, current_time=now_utc, map_link=map_link,
        ruby_on=lambda: current_ruby.get(),
        ruby_switch=lambda request, on: switch_url(request.url.path, request.url.query, on),
    )
    env.filters.update(paragraphs=paragraphs, ruby=ruby_filter)
    env.tests.update(date=lambda value: isinstance(value, date), datetime=lambda value: isinstance(value, datetime))
