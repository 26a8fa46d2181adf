"""What the evaluation tests share: a session that has just ended with registrants (one asked for sign
language, one brought a child), its evaluation attached through the API, and ways to answer it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from server.auth import accounts
from sessions.models import AccommodationOffer, ChildcareOffer
from sessions.timestamps import to_db
from tests.harness import make_account, make_session, make_venue, next_saturday

JSON_HEADERS = {"content-type": "application/json"}


@dataclass
class EndedSession:
    """A session of 金沢市 that ended an hour ago, its registrants' tokens and the evaluation."""

    session_id: int
    api_token: str
    organizer: accounts.Account
    tokens: dict[str, str] = field(default_factory=dict)  # by email
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}

    def question(self, key: str) -> dict[str, Any]:
        """A question of the evaluation by its item-bank key (or its text for a custom one)."""
        return next(q for q in self.evaluation["questions"] if q.get("bank_key") == key or q["text"] == key)

    def qid(self, key: str) -> str:
        return str(self.question(key)["id"])

    def option(self, key: str, label: str) -> int:
        return next(o["id"] for o in self.question(key)["options"] if o["label"] == label)


async def ended_session(client: Any, db: Any, *, people: int = 3, lang: str = "ja", org: str = "kanazawa",
                        email: str = "staff@kanazawa.example", attach: bool = True, **session: Any) -> EndedSession:
    """Registrants: person0 asked for sign language, person1 brought a child, the rest came plainly; then
    the session is moved an hour into the past (registration needs it upcoming)."""
    organizer = await make_account(db, email, org=org)
    venue = await make_venue(db, organizer.org_id)
    session.setdefault("starts_at", next_saturday(weeks=3))
    session_id = await make_session(
        db, organizer.org_id, venue, accommodations=[AccommodationOffer(code="sign_language", mode="on_request")],
        childcare=ChildcareOffer(places=5, min_age_months=6, max_age_months=72), **session)
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, organizer.id)
    world = EndedSession(session_id, token, organizer)
    for n in range(people):
        body: dict[str, Any] = {"name": f"参加者{n}", "email": f"person{n}@example.jp", "mode": "in_person"}
        if n == 0:
            body.update(accommodations=[{"code": "sign_language"}], consent_sensitive=True)
        if n == 1:
            body.update(children=[{"age_months": 30}], consent_sensitive=True)
        answer = await client.post(f"/api/sessions/{session_id}/registrations", json=body,
                                   headers={"Accept-Language": lang})
        assert answer.status_code == 201, answer.text
        world.tokens[body["email"]] = answer.json()["token"]
    await move_session(db, session_id, ended_hours_ago=1)
    if attach:
        created = await client.post(f"/api/sessions/{session_id}/evaluation", headers=world.auth, json={
            "questions": [{"type": "multiple_choice", "text": "何で知りましたか", "options": ["広報誌", "SNS", "町内会"]}]})
        assert created.status_code == 201, created.text
        world.evaluation = created.json()
    return world


async def move_session(db: Any, session_id: int, *, ended_hours_ago: float) -> None:
    """Put the session's end this many hours before now (two hours long)."""
    ends = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=ended_hours_ago)
    async with db.transaction() as conn:
        await conn.execute("update sessions set starts_at = ?, ends_at = ? where id = ?",
                           (to_db(ends - timedelta(hours=2)), to_db(ends), session_id))


async def set_evaluation_times(db: Any, evaluation_id: int, **times: datetime | None) -> None:
    """Change opens_at / closes_at / mailed_at straight in the database (time travel for the rules)."""
    async with db.transaction() as conn:
        for name, value in times.items():
            assert name in ("opens_at", "closes_at", "mailed_at")
            await conn.execute(f"update evaluations set {name} = ? where id = ?", (to_db(value), evaluation_id))


async def backdate_invitations(db: Any, hours: float) -> None:
    when = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=hours)
    async with db.transaction() as conn:
        await conn.execute("update evaluation_invitations set invited_at = ?", (to_db(when),))


async def check_in(db: Any, session_id: int, email: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("update registrations set checked_in_at = ? where session_id = ? and email = ?",
                           (to_db(datetime.now(timezone.utc)), session_id, email))


async def answer(client: Any, world: EndedSession, answers: dict[str, Any], token: str | None = None,
                 **headers: str) -> Any:
    body: dict[str, Any] = {"answers": answers}
    if token is not None:
        body["token"] = token
    return await client.post(f"/api/evaluations/{world.evaluation['id']}/responses", json=body, headers=headers)


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)
