"""An organizer's message to everyone registered for a session: POST /organize/sessions/{id}/messages.

The form and the log of what was sent are on the session's organizer page; the route needs an
account that may change the session (the `session` dependency of the organize router)."""

from __future__ import annotations

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from server.auth.guards import CurrentAccount, Db
from server.core import mail
from server.core.errors import field_messages, form_with_errors
from server.core.forms import form_values
from server.organize.flash import redirect_with_flash
from server.organize.sessions import session_page_context
from sessions import messages
from sessions.models import Session
from sessions.validation import InvalidInput


@post("/organize/sessions/{session_id:int}/messages", include_in_schema=False)
async def send_message(request: Request, session_id: FromPath[int], account: CurrentAccount,
                       session: NamedDependency[Session], db: Db) -> Template | Redirect:
    """Mail the message to every confirmed and waitlisted registrant in their language, and log it."""
    values = form_values(await request.form())
    data = messages.MessageInput(subject=values.get("subject", ""), body=values.get("body", ""),
                                 **({"form_key": values["form_key"][:64]} if values.get("form_key") else {}))
    settings = request.app.state.settings

    async def deliver(conn: object, registration_id: int, subject: str, body: str) -> None:
        await mail.queue_message(conn, registration_id, subject, body, settings=settings)

    try:
        sent = await messages.send_to_registrants(db, session_id, data, sender_id=account.id,
                                                  sender=account.display_name or account.email, deliver=deliver)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session.html", await session_page_context(
            db, account, session, message={"subject": data.subject, "body": data.body, "form_key": data.form_key},
            message_errors=field_messages(invalid.errors)))
    page = f"/organize/sessions/{session_id}"  # the top, where the flash says how many it went to
    return redirect_with_flash(request, page, "sent", sent) if sent is not None else Redirect(page, status_code=303)


ROUTES = [send_message]
