"""Helpers of the ledger tests (論点整理): an organizer with an API token, a theme with sessions,
opinions, issues and responses made through the JSON API as an integration would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from server.auth import accounts
from tests.harness import make_account, make_session, make_venue, next_saturday


def bearer(token: str, lang: str = "en") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": lang}


@dataclass
class City:
    """An organizer of one organization, its API token, a venue and three sessions (two past)."""

    account: accounts.Account
    token: str
    sessions: list[int]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


async def city(db: Any, org: str = "saku", email: str | None = None, role: str = "organizer") -> City:
    account = await make_account(db, email or f"staff@{org}.example", role=role, org=org)
    venue = await make_venue(db, account.org_id, name=f"{org} 市民交流センター")
    sessions = [await make_session(db, account.org_id, venue, title=f"第{n}回 公共交通を考える対話",
                                   starts_at=next_saturday(weeks=weeks)) for n, weeks in ((1, -8), (2, -3), (3, 2))]
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, account.id)
    return City(account=account, token=token, sessions=sessions)


async def post_json(client: Any, url: str, body: Any, headers: dict[str, str], status: int = 201) -> Any:
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code == status, (url, response.status_code, response.text)
    return response.json()


async def theme_with_sessions(client: Any, place: City, *, slug: str = "koukyou-koutsuu", published: bool = True,
                              title: str = "公共交通の見直し") -> dict[str, Any]:
    """A theme with the city's three sessions attached (PATCH theme_id on each session)."""
    theme = await post_json(client, "/api/themes", {"title": title, "description": "バス路線と乗合タクシー",
                                                    "slug": slug, "published": published}, place.headers)
    for session_id in place.sessions:
        answer = await client.patch(f"/api/sessions/{session_id}", json={"theme_id": theme["id"]}, headers=place.headers)
        assert answer.status_code == 200 and answer.json()["theme_id"] == theme["id"], answer.text
    return theme


async def opinion(client: Any, place: City, theme_id: int, text: str, source: str = "paper", **extra: Any) -> int:
    return (await post_json(client, f"/api/themes/{theme_id}/opinions", {"text": text, "source": source, **extra},
                            place.headers))["id"]


async def issue(client: Any, place: City, theme_id: int, title: str, opinion_ids: list[int]) -> int:
    return (await post_json(client, f"/api/themes/{theme_id}/issues", {"title": title, "opinion_ids": opinion_ids},
                            place.headers))["id"]


async def respond(client: Any, place: City, issue_id: int, body: str, status: str, **extra: Any) -> int:
    return (await post_json(client, f"/api/issues/{issue_id}/responses", {"body": body, "status": status, **extra},
                            place.headers))["id"]


def days_ago(n: int) -> str:
    return (next_saturday(weeks=0).date() - timedelta(days=n + 7)).isoformat()
