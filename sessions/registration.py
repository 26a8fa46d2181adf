"""Registering for a session: seats, childcare and accommodations decided and written in one transaction.

Capacity is never exceeded: every decision reads the counts inside the BEGIN IMMEDIATE
transaction that writes the result. Promotion from the waitlist is first come, first served,
and a promoted registrant keeps their children and accommodation requests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import msgspec

from sessions import registration_store as rstore
from sessions import store
from sessions.catalog import MAX_CHILD_AGE_MONTHS, N_, Age
from sessions.models import ChildcareOffer, Session
from sessions.registration_models import Registration, RegistrationInput, RegistrationResult
from sessions.scheduling import Database
from sessions.text import without_controls_in
from sessions.timestamps import now_utc
from sessions.tokens import token_hash
from sessions.validation import FieldError, InvalidInput


class Notify(Protocol):
    """notify(conn, kind, registration_id) queues a message inside the same transaction; a caller that has
    just read the registration and its session in that transaction passes them as `known`."""

    def __call__(self, conn: Any, kind: str, registration_id: int, *,
                 known: tuple[Registration, Session] | None = None) -> Awaitable[None]: ...


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_CHILDREN = 5


class RegistrationClosed(Exception):
    """The session does not take registrations now; the message says why (a message id)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def registration_open(session: Session, now: datetime) -> str | None:
    """None when registration is open, else the reason (a message id) it is closed."""
    if session.status != "published":
        return N_("This session does not take registrations.")
    if session.ends_at <= now:
        return N_("This session has ended.")
    if session.registration_opens_at and now < session.registration_opens_at:
        return N_("Registration has not opened yet.")
    if session.registration_closes_at and now >= session.registration_closes_at:
        return N_("Registration has closed.")
    return None


def _deadline_passed(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now > deadline


def check_input(session: Session, data: RegistrationInput, now: datetime) -> list[FieldError]:
    """Every problem with a registration before anything is written."""
    errors: list[FieldError] = []
    add = lambda name, message, **params: errors.append(FieldError(name, message, params))  # noqa: E731
    if not data.name.strip():
        add("name", N_("Enter your name."))
    elif len(data.name) > 100 or len(data.name_kana) > 100:
        add("name", N_("Keep this under {max} characters."), max=100)
    if not data.email.strip() and not data.phone.strip():
        add("email", N_("Enter an email address or a phone number so the organizer can reach you."))
    if data.email.strip() and not EMAIL.match(data.email.strip()):
        add("email", N_("Enter an email address such as name@example.jp."))
    if data.phone and not re.fullmatch(r"[0-9０-９+\-‐－() ]{6,20}", data.phone.strip()):
        add("phone", N_("Enter a phone number such as 076-000-0000."))
    mode = _mode(session, data)
    if mode == "in_person" and not session.offers_in_person or mode == "online" and not session.offers_online:
        add("mode", N_("This session cannot be joined this way."))
    sensitive = bool(data.children or data.accommodations or data.note.strip())
    if sensitive and not data.consent_sensitive:
        add("consent_sensitive", N_("To request childcare or support, agree to how we use this information. "
                                    "Without your agreement we cannot store it."))
    if len(data.note) > 1000:
        add("note", N_("Keep this under {max} characters."), max=1000)
    if data.children:
        errors += _children_errors(session.childcare, data, mode, now)
    return errors + _request_errors(session, data, now)


def _children_errors(care: ChildcareOffer | None, data: RegistrationInput, mode: str,
                     now: datetime) -> list[FieldError]:
    if care is None:
        return [FieldError("children", N_("This session does not offer childcare."))]
    if mode != "in_person":
        return [FieldError("children", N_("Childcare is only for people taking part in person. Choose "
                                          "\"In person\", or leave the children out to take part online."))]
    if _deadline_passed(care.deadline, now) and care.after_deadline == "closed":
        return [FieldError("children", N_("Childcare requests closed on {date}."), {"date": care.deadline})]
    if len(data.children) > MAX_CHILDREN:
        return [FieldError("children", N_("Register at most {max} children."), {"max": MAX_CHILDREN})]
    errors = []
    for index, child in enumerate(data.children):
        if not 0 <= child.age_months <= MAX_CHILD_AGE_MONTHS or not care.takes_age(child.age_months):
            errors.append(FieldError(f"children.{index}.age_months",
                                     N_("Childcare here is for children aged {min} to {max}."),
                                     {"min": Age(care.min_age_months), "max": Age(care.max_age_months)}))
        if len(child.notes) > 500:
            errors.append(FieldError(f"children.{index}.notes", N_("Keep this under {max} characters."), {"max": 500}))
    return errors


def _request_errors(session: Session, data: RegistrationInput, now: datetime) -> list[FieldError]:
    errors: list[FieldError] = []
    add = lambda name, message, **params: errors.append(FieldError(name, message, params))  # noqa: E731
    seen: set[str] = set()
    for request in data.accommodations:
        offer = session.accommodation(request.code)
        key = f"accommodations.{request.code}"
        if request.code in seen:
            add(key, N_("Each accommodation can be requested once."))
        seen.add(request.code)
        if offer is None:
            add(key, N_("This session does not offer this support."))
        elif offer.mode == "on_request" and _deadline_passed(offer.deadline, now) and \
                offer.after_deadline == "closed":
            add(key, N_("Requests for this support closed on {date}."), date=offer.deadline)
        if len(request.note) > 500:
            add(key, N_("Keep this under {max} characters."), max=500)
    return errors


class AlreadyRegistered(Exception):
    """The email address already holds a registration for this session (the id says which)."""

    def __init__(self, registration_id: int) -> None:
        super().__init__(registration_id)
        self.registration_id = registration_id


class KeyReused(Exception):
    """An Idempotency-Key sent again with a different registration."""


async def register(db: Database, session_id: int, data: RegistrationInput, *, notify: Notify,
                   derive_token: Callable[[str], str], staff: bool = False, same_email_ok: bool = False,
                   now: datetime | None = None, idempotency_key: str | None = None,
                   seen: Session | None = None) -> RegistrationResult:
    """Register for a session: confirmed while seats last, else waitlisted; children and requests likewise.

    derive_token(salt) makes the registrant's secret token (the web shell keys it with its secret).
    With an idempotency key, the same registration sent again returns the first answer (the
    registration as it stands now, with the same token) and takes nothing more.
    An email address already registered for the session is refused (AlreadyRegistered) unless
    same_email_ok (staff registering a family that shares one address).
    `seen`: the session as the caller read it just before; the write then reads only what may have
    changed since (its revision, the seats taken, the address), and the whole session again only if
    it was edited meanwhile.
    """
    now = now or now_utc()
    data = without_controls_in(data)
    key_hash = body_hash = ""
    if idempotency_key is not None:
        key_hash = token_hash(idempotency_key)
        body_hash = hashlib.sha256(msgspec.json.encode(data)).hexdigest()
    async with db.transaction() as conn:
        if key_hash:
            first = await rstore.earlier_registration(conn, session_id, key_hash)
            if first is not None:
                return await _first_answer(conn, first, body_hash, derive_token)
        session, seats = await _session_now(conn, session_id, seen, data, "" if same_email_ok else data.email.strip())
        _check_taking(session, data, now, staff=staff)
        if seats.same_email is not None:
            raise AlreadyRegistered(seats.same_email)
        mode = _mode(session, data)
        taken = seats.in_person if mode == "in_person" else seats.online
        capacity = session.capacity_in_person if mode == "in_person" else session.capacity_online
        status = "confirmed" if taken < capacity else "waitlisted"
        await _check_support_left(conn, session, data)
        salt = secrets.token_urlsafe(24)
        token = derive_token(salt)
        consent = data.consent_sensitive
        registration = await rstore.insert_registration(
            conn, session_id, token_hash=token_hash(token), token_salt=salt, name=data.name.strip(),
            name_kana=data.name_kana.strip(), email=data.email.strip(), phone=data.phone.strip(), mode=mode,
            status=status, consent=consent, staff=staff, locale=data.locale or "ja",
            note=data.note.strip() if consent else "", position=seats.waiting + 1)
        if consent and (data.children or data.accommodations):
            await _add_children_and_requests(conn, session, registration.id, data, status, seats.children, now)
            registration = await rstore.get_registration(conn, registration.id)
            assert registration is not None
        await notify(conn, "confirmed" if status == "confirmed" else "waitlisted", registration.id,
                     known=(registration, session))
        if key_hash:
            await rstore.record_key(conn, session_id, key_hash, body_hash, registration.id)
    return RegistrationResult(token=token, registration=registration)


async def send_link_again(db: Database, registration_id: int, *, notify: Notify) -> None:
    """Mail a registration's own link to its own address (asked for by registering again with it)."""
    async with db.transaction() as conn:
        await notify(conn, "existing_link", registration_id)


async def _first_answer(conn: Any, first: tuple[str, int], body_hash: str,
                        derive_token: Callable[[str], str]) -> RegistrationResult:
    """The answer to the registration first sent with an Idempotency-Key, as it stands now."""
    first_body_hash, registration_id = first
    if first_body_hash != body_hash:
        raise KeyReused()
    earlier = await rstore.get_registration(conn, registration_id)
    assert earlier is not None
    salt = await rstore.token_salt(conn, earlier.id)
    return RegistrationResult(token=derive_token(salt), registration=earlier)


def _mode(session: Session, data: RegistrationInput) -> str:
    return data.mode or ("online" if session.format == "online" else "in_person")


async def _session_now(conn: Any, session_id: int, seen: Session | None, data: RegistrationInput,
                       email: str) -> tuple[Session, rstore.SeatsNow]:
    """Inside the write: the session and its seats taken now (see rstore.seats_now). One read while `seen`
    is current (the same revision), else the session is read anew."""
    asked = _mode(seen, data) if seen is not None else data.mode or ""
    seats = await rstore.seats_now(conn, session_id, email, asked)
    if seats is None:
        raise RegistrationClosed(N_("There is no such session."))
    session = seen if seen is not None and seen.id == session_id and seen.revision == seats.revision else None
    if session is None:
        session = await store.get_session(conn, session_id)
        if session is None:
            raise RegistrationClosed(N_("There is no such session."))
        if _mode(session, data) != asked:  # the waitlist of the mode the session as it is now implies
            seats = await rstore.seats_now(conn, session_id, email, _mode(session, data))
            assert seats is not None
    return msgspec.structs.replace(session, confirmed_in_person=seats.in_person, confirmed_online=seats.online,
                                   confirmed_children=seats.children), seats


def _check_taking(session: Session, data: RegistrationInput, now: datetime, *, staff: bool) -> None:
    """Whether the session takes this registration now (staff may register after registration closed)."""
    closed = registration_open(session, now)
    if closed and not (staff and session.status == "published"):
        raise RegistrationClosed(closed)
    errors = check_input(session, data, now)
    if errors:
        raise InvalidInput(errors)


async def _check_support_left(conn: Any, session: Session, data: RegistrationInput) -> None:
    for request in data.accommodations:
        offer = session.accommodation(request.code)
        if offer and offer.capacity is not None and \
                await rstore.active_requests(conn, session.id, request.code) >= offer.capacity:
            raise InvalidInput([FieldError(f"accommodations.{request.code}",
                                           N_("This support is fully booked. Please contact the organizer."))])


async def _add_children_and_requests(conn: Any, session: Session, registration_id: int, data: RegistrationInput,
                                     status: str, childcare_taken: int, now: datetime) -> None:
    """Children get a free childcare place only with a confirmed seat; requests wait for the organizer."""
    care = session.childcare
    free_places = (care.places - childcare_taken) if care else 0
    for child in data.children:
        late = care is not None and _deadline_passed(care.deadline, now)
        child_status = "confirmed" if status == "confirmed" and free_places > 0 else "waitlisted"
        free_places -= child_status == "confirmed"
        await rstore.insert_child(conn, registration_id, session.id, child.age_months, child.notes.strip(),
                                  child_status, late)
    for request in data.accommodations:
        offer = session.accommodation(request.code)
        assert offer is not None
        late = offer.mode == "on_request" and _deadline_passed(offer.deadline, now)
        await rstore.insert_request(conn, registration_id, session.id, request.code, request.note.strip(),
                                    "confirmed" if offer.mode == "always" else "requested", late)


async def fill_from_waitlist(conn: Any, session: Session, notify: Notify) -> list[int]:
    """Promote waitlisted registrants (FIFO) into free seats, then waiting children into free places."""
    taken = await rstore.counts(conn, session.id)
    promoted: list[int] = []
    for mode, capacity in (("in_person", session.capacity_in_person), ("online", session.capacity_online)):
        free = capacity - taken[mode]
        if free > 0:
            for registration_id in await rstore.first_waitlisted(conn, session.id, mode, free):
                await rstore.set_registration_status(conn, registration_id, "confirmed")
                promoted.append(registration_id)
    childcare_promoted: list[int] = []
    if session.childcare:
        free = session.childcare.places - taken["childcare"]
        if free > 0:
            for child_id, registration_id in await rstore.first_waitlisted_children(conn, session.id, free):
                await rstore.confirm_child(conn, child_id)
                if registration_id not in promoted and registration_id not in childcare_promoted:
                    childcare_promoted.append(registration_id)
    for registration_id in promoted:
        await notify(conn, "promoted", registration_id)
    for registration_id in childcare_promoted:
        await notify(conn, "childcare_promoted", registration_id)
    return promoted


async def cancel_registration(db: Database, registration: Registration, *, notify: Notify) -> list[int]:
    """Cancel a registration and hand its seat (and childcare places) to the first in line."""
    async with db.transaction() as conn:
        if await rstore.registration_status(conn, registration.id) in (None, "cancelled"):
            return []
        await rstore.set_registration_status(conn, registration.id, "cancelled")
        await notify(conn, "cancelled", registration.id)
        session = await store.get_session(conn, registration.session_id)
        assert session is not None
        if session.status != "published" or session.ends_at <= now_utc():
            return []  # nobody moves up for a session that was called off or is over
        return await fill_from_waitlist(conn, session, notify)


async def refill_after_change(db: Database, session_id: int, *, notify: Notify) -> list[int]:
    """After capacity or childcare places were raised: promote whoever now fits."""
    async with db.transaction() as conn:
        session = await store.get_session(conn, session_id)
        if session is None or session.status != "published":
            return []
        return await fill_from_waitlist(conn, session, notify)


async def set_request_status(db: Database, request_id: int, status: str, message: str, *, notify: Notify) -> None:
    """The organizer's answer to an accommodation request, told to the registrant."""
    if status not in ("requested", "confirmed", "unavailable"):
        raise InvalidInput([FieldError("status", N_("Choose one of the options."))])
    if len(message) > 1000:
        raise InvalidInput([FieldError("message", N_("Keep this under {max} characters."), {"max": 1000})])
    async with db.transaction() as conn:
        row = await rstore.request_with_session(conn, request_id)
        if row is None or row["status"] == "cancelled":
            return
        await rstore.set_request_status(conn, request_id, status, message.strip())
        if (row["status"], row["message"]) != (status, message.strip()):
            await notify(conn, "accommodation_changed", row["registration_id"])
