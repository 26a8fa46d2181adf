"""One place that turns every error into an answer in the reader's language, never a stack trace."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from http import HTTPStatus
from typing import Any

import msgspec
from litestar.plugins.htmx import HTMXRequest
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from server.auth.limits import SHARED_LIMITS, wait_text
from server.core.database import DatabaseBusy
from server.core.i18n import current_locale, format_date_only, gettext as _, translate
from sessions.validation import FieldError, InvalidInput

log = logging.getLogger("taiwa")


class Conflict(HTTPException):
    """A request that clashes with the current state (e.g. an email already in use)."""

    status_code = 409


class TooManyRequests(HTTPException):
    status_code = 429


async def check_limit(request: Request, name: str, key: str, message: str) -> None:
    """Count one event against the abuse limit `name` (TAIWA_LIMITS) for `key`; past it, 429.

    Shared limits are counted in the database (one count for every process), the others in Redis
    when the deployment has one (one count for every process too), else in this process. `message` is translated and says how long to wait with `{wait}`; Retry-After says it too.
    TAIWA_RATE_LIMITS=off turns the limits off (load tests).
    """
    if not request.app.state.settings.rate_limits:
        return
    if name in SHARED_LIMITS:
        wait = (await request.app.state.shared_limits.take((name, key))).wait
    else:
        wait = await request.app.state.limiter.take(name, key)
    if wait:
        raise TooManyRequests(detail=message.format(wait=wait_text(wait, current_locale.get())),
                              headers={"Retry-After": str(wait)})


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    fields: dict[str, str] | None = None  # present only when named fields are wrong


class ErrorBody(msgspec.Struct):
    """What every API error answers: `{error: {code, message, fields?}}`."""

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "The request could not be read (malformed JSON, wrong content type)",
    401: "No valid API token (Authorization: Bearer <token>)",
    403: "The token's account may not do this",
    404: "No such resource, or not visible to this caller",
    409: "Conflicts with the current state (e.g. registration closed)",
    422: "Some values are not valid; `fields` names them",
    429: "Too many requests from this client; try again later",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error answers an API route can give (all share ErrorBody)."""
    return {status: ResponseSpec(data_container=ErrorBody, description=ERROR_DESCRIPTIONS[status],
                                 generate_examples=False) for status in statuses}


def field_messages(errors: list[FieldError]) -> dict[str, str]:
    """{field: translated message}; the first message per field wins."""
    messages: dict[str, str] = {}
    for error in errors:
        params = {key: format_date_only(value) if isinstance(value, datetime) else value
                  for key, value in error.params.items()}
        messages.setdefault(error.field, translate(error.message, params))
    return messages


def form_with_errors(request: HTMXRequest, template: str, context: dict[str, Any]) -> Template:
    """An invalid form shown again with its messages: 422, or 200 for htmx (which swaps only 2xx)."""
    status = 200 if request.htmx else 422
    return Template(template_name=template, context=context, status_code=status)


def _is_api(request: Request) -> bool:
    return bool(request.scope.get("state", {}).get("is_api"))


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("The request could not be understood"), _("Please check what you entered and try again.")),
        401: (_("Please sign in"), _("This page is for organizers who are signed in.")),
        403: (_("You cannot do this"), _("Your account does not have permission for this page or action.")),
        404: (_("Page not found"), _("The page may have been moved, or the session may not be public yet.")),
        405: (_("This action is not available here"), _("Please go back and try again.")),
        409: (_("This conflicts with existing data"), _("Please check what you entered and try again.")),
        413: (_("The upload is too large"), _("Please send a smaller file.")),
        422: (_("Some values are not valid"), _("Please check what you entered and try again.")),
        429: (_("Too many attempts"), _("Please wait a few minutes and try again.")),
        500: (_("Something went wrong on our side"), _("Your data was not changed. Please try again in a moment.")),
        503: (_("Taiwa is busy right now"), _("Nothing was saved. Please try again in a moment.")),
    }


def _error_code(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
            409: "conflict", 413: "too_large", 422: "invalid", 429: "rate_limited",
            503: "busy"}.get(status, "server_error")


def _answer(request: Request, status: int, message: str | None = None,
            fields: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Response[Any]:
    title, hint = _titles().get(status, _titles()[500] if status >= 500 else _titles()[400])
    if _is_api(request):
        body: dict[str, Any] = {"code": _error_code(status), "message": message or title}
        if fields:
            body["fields"] = fields
        return Response({"error": body}, status_code=status, media_type=MediaType.JSON, headers=headers)
    return Template(template_name="pages/error.html", status_code=status, headers=headers,
                    context={"status": status, "title": title, "hint": message or hint, "fields": fields or {}})


MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def validation_fields(items: list[Any]) -> dict[str, str]:
    """Litestar/msgspec validation details as {field path: message in the reader's language}.

    A missing field is named by its own path (`name`, `children[0].age_months`), not by the object
    that lacks it; msgspec's English detail is added only for English readers.
    """
    fields: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or not item.get("key"):
            continue
        key, detail = str(item["key"]), str(item.get("message", ""))
        prefix = "" if key == "data" else key.removeprefix("data.")
        missing = MISSING_FIELD.search(detail)
        if missing:
            path = f"{prefix}.{missing.group(1)}" if prefix else missing.group(1)
            fields[path] = _("This field is required.")
        else:
            fields[prefix or key] = _("This value is not valid.") + (f" ({detail})" if detail and current_locale.get() == "en" else "")
    return fields


def handle_http_exception(request: Request, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 401 and not _is_api(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(path="/organize/login", query_params={"next": target}, status_code=303)
    if isinstance(exc, ValidationException) and _is_api(request):
        fields = validation_fields(exc.extra if isinstance(exc.extra, list) else [])
        return _answer(request, 422 if fields else 400, _("Some values are not valid."), fields)
    if status == 403 and "CSRF" in str(exc.detail):
        return _answer(request, 403, _("This form has expired. Please reload the page and submit it again."))
    # Our own handlers raise with a translated detail; Litestar's built-in details are English only.
    message = None
    if status in (401, 403, 404, 409, 429) and exc.detail and exc.detail != HTTPStatus(status).phrase:
        message = exc.detail
    return _answer(request, status if status >= 400 else 400, message, headers=exc.headers)


def handle_invalid_input(request: Request, exc: InvalidInput) -> Response[Any]:
    return _answer(request, 422, _("Some values are not valid."), field_messages(exc.errors))


def handle_nested_too_deep(request: Request, exc: RecursionError) -> Response[Any]:
    """JSON nested deeper than the decoder follows (about 2,000 levels): the sender's mistake, a 400."""
    log.warning("%s on %s %s (data nested too deep)", type(exc).__name__, request.method, request.url.path)
    return _answer(request, 400, _("The data is nested too deeply. Send it with fewer levels of brackets."))


BUSY_RETRY_SECONDS = 10


def handle_database_busy(request: Request, exc: DatabaseBusy) -> Response[Any]:
    """Another process held the database's write lock too long: 503 with Retry-After, nothing written."""
    log.warning("database write lock held elsewhere: %s %s answered 503", request.method, request.url.path)
    return _answer(request, 503, _("Taiwa is busy right now and nothing was saved. Please try again in a moment."),
                   headers={"Retry-After": str(BUSY_RETRY_SECONDS)})


def handle_internal_error(request: Request, exc: Exception) -> Response[Any]:
    # logged without the request body: it may hold personal data
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return _answer(request, HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS = {
    HTTPException: handle_http_exception,
    InvalidInput: handle_invalid_input,
    RecursionError: handle_nested_too_deep,
    DatabaseBusy: handle_database_busy,
    HTTP_500_INTERNAL_SERVER_ERROR: handle_internal_error,
    Exception: handle_internal_error,
}
