"""The authorization matrix over HTTP: every route (read from the app itself, so a new route without a row
fails), for every kind of visitor, with the expected answer written down per cell.

Roles: anonymous, a board participant (cookie / participant token), a registrant (their own token), a
facilitator of the board's organization, a facilitator of another organization, an organizer of the
organization, an organizer of another organization, an admin. Object-level access (IDOR) is checked with
another organization's ids, another board's participant token, a guessed registrant token and ids that
belong to another session. A refused request must leave the database exactly as it was.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from ledger import store as ledger_store
from ledger import themes as ledger_themes
from ledger.models import IssueInput, OpinionInput, ResponseInput, ThemeInput
from realtime import caption_store, store as board_store
from realtime.board import Actor
from realtime.captions import Captioner
from server.app import create_app
from server.auth import accounts
from server.auth.board_access import participant_cookie
from server.organize.boards import board_errors, create_board
from server.organize.captions import publish, switch_on
from server.core.database import Database
from server.core.middleware import LOGIN_COOKIE
from server.settings import Settings
from readings import store as reading_store
from sessions import evaluation_actions, registration, scheduling, store
from sessions.evaluation import standard_questions
from sessions.timestamps import now_utc
from sessions.models import AccommodationOffer, Recurrence, SessionInput
from sessions.registration_models import AccommodationRequestInput, RegistrationInput
from tests.authz_world import ACCOUNT_ROLES, PROMPTS, ROLES
from tests.harness import html, make_account, make_session, make_venue, next_saturday


LOGIN = "303 login"  # redirected to /organize/login?next=...
JOIN = "303 join"  # redirected to the join page (/j: never with the board's code)
FACILITATE = "303 facilitate"  # a facilitator opening the participant page goes to the facilitator page


def row(*answers: Any) -> dict[str, Any]:
    assert len(answers) == len(ROLES)
    return dict(zip(ROLES, answers))


def everyone(answer: Any) -> dict[str, Any]:
    return row(*[answer] * len(ROLES))


def manage(ok: Any) -> dict[str, Any]:
    """Organizer pages on one session: the organization's organizers and admins; facilitators look only."""
    return row(LOGIN, LOGIN, LOGIN, 403, 404, ok, 404, ok)


def see(ok: Any) -> dict[str, Any]:
    return row(LOGIN, LOGIN, LOGIN, ok, 404, ok, 404, ok)


def own_org(ok: Any) -> dict[str, Any]:
    """Creating in one's own organization: organizers (of any org, for their own) and admins."""
    return row(LOGIN, LOGIN, LOGIN, 403, 403, ok, ok, ok)


def signed_in(ok: Any) -> dict[str, Any]:
    return row(LOGIN, LOGIN, LOGIN, ok, ok, ok, ok, ok)


def admin_only(ok: Any) -> dict[str, Any]:
    return row(LOGIN, LOGIN, LOGIN, 403, 403, 403, 403, ok)


def staff_only(ok: Any) -> dict[str, Any]:
    """Sensitive overviews (support requests): organizers and admins, not facilitators."""
    return row(LOGIN, LOGIN, LOGIN, 403, 403, ok, ok, ok)


def facilitate(ok: Any) -> dict[str, Any]:
    return row(LOGIN, LOGIN, LOGIN, ok, 404, ok, 404, ok)


def api_manage(ok: Any) -> dict[str, Any]:
    return row(401, 401, 401, 403, 404, ok, 404, ok)


def api_facilitate(ok: Any) -> dict[str, Any]:
    return row(401, 401, 401, ok, 404, ok, 404, ok)


def api_own_org(ok: Any) -> dict[str, Any]:
    return row(401, 401, 401, 403, 403, ok, ok, ok)


def api_signed_in(ok: Any) -> dict[str, Any]:
    return row(401, 401, 401, ok, ok, ok, ok, ok)


def by_token(ok: Any) -> dict[str, Any]:
    """Routes keyed by a registrant's secret: only the registrant knows it; everyone else guesses."""
    return row(404, 404, ok, 404, 404, 404, 404, 404)


@dataclass(frozen=True)
class Rule:
    method: str
    route: str  # the route's path as Litestar declares it
    url: str  # the address asked for, with {placeholders}
    expect: dict[str, Any]
    body: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    note: str = ""


SESSION_FORM = {"title": "権限確認の対話", "kind": "dialogue", "format": "in_person", "date": "",
                "start_time": "10:00", "end_time": "12:00", "capacity_in_person": "10", "action": "draft"}
ANSWER = {"status": "confirmed", "message": "手配しました"}
VENUE_JSON = {"name": "権限確認ホール"}
S = "/organize/sessions/{session_id:int}"
B = "/boards/{board_id:int}"

RULES: list[Rule] = [
    # ---------------------------------------------------------------- public pages
    Rule("GET", "/", "/", everyone(200)),
    Rule("GET", "/sessions", "/sessions", everyone(200)),
    Rule("GET", "/healthz", "/healthz", everyone(200), note="for load balancers: names only database and Redis"),
    Rule("GET", "/sessions/{session_id:int}", "/sessions/{session}", everyone(200)),
    Rule("GET", "/sessions/{session_id:int}", "/sessions/{draft}", row(404, 404, 404, 200, 404, 200, 404, 200),
         note="a draft is seen by its organization only"),
    Rule("GET", "/sessions/{session_id:int}", "/sessions/{other_draft}", row(404, 404, 404, 404, 200, 404, 200, 200),
         note="another organization's draft"),
    Rule("GET", "/sessions/{session_id:int}/register", "/sessions/{session}/register", everyone(200)),
    Rule("GET", "/sessions/{session_id:int}/register", "/sessions/{draft}/register",
         row(404, 404, 404, 200, 404, 200, 404, 200)),
    Rule("POST", "/sessions/{session_id:int}/register", "/sessions/{draft}/register",
         row(404, 404, 404, 400, 404, 400, 404, 400), body={"name": "下書き 太郎"},
         note="no registration for a draft (the signed-in organization's staff reach the form check)"),
    Rule("POST", "/sessions/{session_id:int}/register", "/sessions/{session}/register", everyone(400),
         body={"name": "速すぎる 太郎"}, note="the form without its signed stamp is refused as automated"),
    Rule("GET", "/orgs/{slug:str}", "/orgs/kanazawa", everyone(200)),
    Rule("GET", "/lang/{code:str}", "/lang/en?next=/sessions", everyone(303)),
    Rule("GET", "/era/{mode:str}", "/era/wareki?next=/", everyone(303)),
    Rule("GET", "/schema", "/schema", everyone(200)),
    Rule("GET", "/schema/openapi.json", "/schema/openapi.json", everyone(200)),
    Rule("GET", "/schema/{path:str}", "/schema/openapi.yaml", everyone(404)),
    Rule("GET", "/static/{file_path:path}", "/static/js/board.js", everyone(200)),
    Rule("HEAD", "/static/{file_path:path}", "/static/js/board.js", everyone(200)),
    # ---------------------------------------------------------------- calendars
    Rule("GET", "/calendar.ics", "/calendar.ics", everyone(200)),
    Rule("HEAD", "/calendar.ics", "/calendar.ics", everyone(200)),
    Rule("GET", "/orgs/{slug:str}/calendar.ics", "/orgs/kanazawa/calendar.ics", everyone(200)),
    Rule("HEAD", "/orgs/{slug:str}/calendar.ics", "/orgs/kanazawa/calendar.ics", everyone(200)),
    Rule("GET", "/sessions/{session_id:int}/calendar.ics", "/sessions/{session}.ics", everyone(200)),
    Rule("GET", "/sessions/{session_id:int}/calendar.ics", "/sessions/{draft}.ics", everyone(404)),
    Rule("HEAD", "/sessions/{session_id:int}/calendar.ics", "/sessions/{session}/calendar.ics", everyone(200)),
    Rule("GET", "/r/{token:str}/calendar.ics", "/r/{token}/calendar.ics", by_token(200)),
    Rule("HEAD", "/r/{token:str}/calendar.ics", "/r/{token}/calendar.ics", by_token(200)),
    # ---------------------------------------------------------------- the registrant's own pages
    Rule("GET", "/r/{token:str}", "/r/{token}", by_token(200)),
    Rule("GET", "/r/{token:str}/cancel", "/r/{token}/cancel", by_token(200)),
    Rule("POST", "/r/{token:str}/cancel", "/r/{token}/cancel", by_token(303)),
    Rule("POST", "/r/{token:str}/change", "/r/{token}/change", by_token(303), body={"message": "車いすで伺います"}),
    Rule("GET", "/r/{token:str}/erase", "/r/{token}/erase", by_token(200)),
    Rule("POST", "/r/{token:str}/erase", "/r/{token}/erase", by_token(200)),
    # ---------------------------------------------------------------- signing in
    Rule("GET", "/organize/login", "/organize/login", everyone(200)),
    Rule("POST", "/organize/login", "/organize/login", everyone(200),
         body={"email": "nobody-{nonce}@example.jp", "password": "wrong-password"}, note="wrong password: the form again"),
    Rule("POST", "/organize/logout", "/organize/logout", everyone(303)),
    # ---------------------------------------------------------------- organizer pages
    Rule("GET", "/organize", "/organize", signed_in(200)),
    Rule("GET", "/organize/arrange", "/organize/arrange", staff_only(200)),
    Rule("GET", "/organize/arrange.csv", "/organize/arrange.csv", staff_only(200)),
    Rule("GET", "/organize/sessions/new", "/organize/sessions/new", own_org(200)),
    Rule("POST", "/organize/sessions/new", "/organize/sessions/new", own_org(422), body={"title": ""}),
    Rule("GET", S, "/organize/sessions/{session}", see(200)),
    Rule("GET", S, "/organize/sessions/{draft}", see(200)),
    Rule("GET", S + "/edit", "/organize/sessions/{session}/edit", manage(200)),
    Rule("POST", S + "/edit", "/organize/sessions/{session}/edit", manage(422), body={"title": ""}),
    Rule("POST", S + "/publish", "/organize/sessions/{draft}/publish", manage(303)),
    Rule("GET", S + "/cancel", "/organize/sessions/{session}/cancel", manage(200)),
    Rule("POST", S + "/cancel", "/organize/sessions/{session}/cancel", manage(303), body={"reason": "台風のため"}),
    Rule("POST", S + "/duplicate", "/organize/sessions/{session}/duplicate", manage(303)),
    Rule("POST", S + "/messages", "/organize/sessions/{session}/messages", manage(303),
         body={"subject": "会場変更のお知らせ", "body": "第2会議室で行います。"}),
    Rule("GET", S + "/move", "/organize/sessions/{session}/move", manage(200)),
    Rule("POST", S + "/move", "/organize/sessions/{session}/move", manage(422), body={"date": "not a date"}),
    Rule("GET", "/organize/series/{series_id:int}", "/organize/series/{series}", see(200)),
    Rule("POST", "/organize/series/{series_id:int}/publish", "/organize/series/{series}/publish", manage(303)),
    Rule("GET", "/organize/venues", "/organize/venues", own_org(200)),
    Rule("GET", "/organize/venues/new", "/organize/venues/new", own_org(200)),
    Rule("POST", "/organize/venues/new", "/organize/venues/new", own_org(422), body={"name": ""}),
    Rule("GET", "/organize/venues/{venue_id:int}/edit", "/organize/venues/{venue}/edit", manage(200)),
    Rule("POST", "/organize/venues/{venue_id:int}/edit", "/organize/venues/{venue}/edit", manage(422),
         body={"name": ""}),
    Rule("GET", "/organize/import", "/organize/import", own_org(200)),
    Rule("POST", "/organize/import", "/organize/import", own_org(422)),
    Rule("POST", "/organize/import/confirm", "/organize/import/confirm", own_org(422), body={"content": ""}),
    # ---------------------------------------------------------------- registrations (sensitive)
    Rule("GET", S + "/registrations", "/organize/sessions/{session}/registrations", manage(200)),
    Rule("GET", S + "/registrations.csv", "/organize/sessions/{session}/registrations.csv", manage(200)),
    Rule("GET", S + "/registrations/new", "/organize/sessions/{session}/registrations/new", manage(200)),
    Rule("POST", S + "/registrations/new", "/organize/sessions/{session}/registrations/new", manage(303),
         body={"name": "電話 太郎", "phone": "076-220-0000", "mode": "in_person"}),
    Rule("POST", S + "/registrations/{registration_id:int}/check-in",
         "/organize/sessions/{session}/registrations/{registration}/check-in", manage(303)),
    Rule("POST", S + "/registrations/{registration_id:int}/check-in",
         "/organize/sessions/{session}/registrations/{other_registration}/check-in",
         row(LOGIN, LOGIN, LOGIN, 403, 404, 404, 404, 404), note="IDOR: a registration of another session"),
    Rule("POST", S + "/registrations/{registration_id:int}/cancel",
         "/organize/sessions/{session}/registrations/{registration}/cancel", manage(303)),
    Rule("POST", S + "/registrations/{registration_id:int}/cancel",
         "/organize/sessions/{session}/registrations/{other_registration}/cancel",
         row(LOGIN, LOGIN, LOGIN, 403, 404, 404, 404, 404), note="IDOR: a registration of another session"),
    Rule("POST", "/organize/requests/{request_id:int}", "/organize/requests/{request}", manage(303), body=ANSWER),
    Rule("POST", "/organize/requests/{request_id:int}", "/organize/requests/{other_request}",
         row(LOGIN, LOGIN, LOGIN, 404, 403, 404, 303, 303), body=ANSWER, note="IDOR: another organization's request"),
    # ---------------------------------------------------------------- admin
    Rule("GET", "/organize/admin", "/organize/admin", admin_only(200)),
    Rule("GET", "/organize/admin/outbox", "/organize/admin/outbox", admin_only(200)),
    Rule("GET", "/organize/admin/orgs/new", "/organize/admin/orgs/new", admin_only(200)),
    Rule("POST", "/organize/admin/orgs/new", "/organize/admin/orgs/new", admin_only(303),
         body={"slug": "new-org-{nonce}", "name": "新しい団体"}),
    Rule("GET", "/organize/admin/orgs/{org_id:int}/edit", "/organize/admin/orgs/{org}/edit", admin_only(200)),
    Rule("POST", "/organize/admin/orgs/{org_id:int}/edit", "/organize/admin/orgs/{org}/edit", admin_only(303),
         body={"name": "金沢市 市民協働推進課"}),
    Rule("GET", "/organize/admin/accounts/new", "/organize/admin/accounts/new", admin_only(200)),
    Rule("POST", "/organize/admin/accounts/new", "/organize/admin/accounts/new", admin_only(303),
         body={"email": "new-{nonce}@kanazawa.example", "password": "a-long-password-1", "role": "admin",
               "org": "kanazawa"}),
    Rule("GET", "/organize/admin/accounts/{account_id:int}/edit", "/organize/admin/accounts/{account}/edit",
         admin_only(200)),
    Rule("POST", "/organize/admin/accounts/{account_id:int}/edit", "/organize/admin/accounts/{account}/edit",
         admin_only(303), body={"role": "admin", "active": "1"}, note="promotion to admin: admins only"),
    # ---------------------------------------------------------------- boards
    Rule("GET", S + "/boards", "/organize/sessions/{session}/boards", see(200),
         note="facilitators list and run their organization's boards; creating one (POST) stays with organizers"),
    Rule("POST", S + "/boards", "/organize/sessions/{session}/boards", manage(303),
         body={"title": "ボード", "prompts": "良いところ\n困りごと"}),
    Rule("GET", "/j", "/j", everyone(200)),
    Rule("GET", "/j/{code:str}", "/j/{code}", everyone(200)),
    Rule("POST", "/j/{code:str}", "/j/{code}", everyone(303), body={"display_name": "ゆき"}),
    Rule("GET", B, "/boards/{board}", row(JOIN, 200, JOIN, FACILITATE, JOIN, FACILITATE, JOIN, FACILITATE)),
    Rule("GET", B + "/list", "/boards/{board}/list", row(JOIN, 200, JOIN, 200, JOIN, 200, JOIN, 200)),
    Rule("GET", B + "/list", "/boards/{other_board}/list", row(JOIN, JOIN, JOIN, JOIN, 200, JOIN, 200, 200),
         note="IDOR: the participant cookie of one board does not open another"),
    Rule("POST", B + "/commands", "/boards/{board}/commands", row(403, 303, 403, 303, 403, 303, 403, 303),
         body={"type": "note:add", "zone": "z1", "text": "権限確認のメモ", "op": "{nonce}"}),
    Rule("POST", B + "/commands", "/boards/{board}/commands", row(403, 303, 403, 303, 403, 303, 403, 303),
         body={"type": "phase:set", "phase": "vote", "op": "{nonce}"},
         note="a participant reaches the rules, which refuse facilitator commands (checked in the socket table)"),
    Rule("GET", B + "/facilitate", "/boards/{board}/facilitate", facilitate(200)),
    Rule("GET", B + "/present", "/boards/{board}/present", facilitate(200)),
    Rule("GET", B + "/export.md", "/boards/{board}/export.md", facilitate(200)),
    Rule("GET", B + "/export.csv", "/boards/{board}/export.csv", facilitate(200)),
    Rule("GET", B + "/export.json", "/boards/{board}/export.json", facilitate(200)),
    Rule("GET", B + "/polls.csv", "/boards/{board}/polls.csv", facilitate(200)),
    Rule("POST", B + "/outcome", "/boards/{board}/outcome", facilitate(303), body={"publish": "1"}),
    Rule("POST", B + "/next-steps", "/boards/{board}/next-steps", facilitate(303), body={"next_steps": "次回は4月"}),
    Rule("GET", B + "/outcome", "/boards/{board}/outcome", everyone(404), note="not published yet"),
    Rule("GET", B + "/outcome", "/boards/{published_board}/outcome", everyone(200)),
    # ---------------------------------------------------------------- live captions
    Rule("GET", S + "/captions", "/organize/sessions/{session}/captions", manage(200)),
    Rule("POST", S + "/captions", "/organize/sessions/{session}/captions", manage(200), body={"label": "入力者"},
         note="switches captions on and shows a new captioner link once"),
    Rule("POST", S + "/captions/captioners/{captioner_id:int}/revoke",
         "/organize/sessions/{session}/captions/captioners/{captioner}/revoke", manage(303)),
    Rule("POST", S + "/captions/captioners/{captioner_id:int}/revoke",
         "/organize/sessions/{session}/captions/captioners/{other_captioner}/revoke",
         row(LOGIN, LOGIN, LOGIN, 403, 404, 404, 404, 404), note="IDOR: another organization's captioner link"),
    Rule("POST", S + "/captions/lines/{line:int}", "/organize/sessions/{session}/captions/lines/{line}", manage(303),
         body={"text": "訂正した行", "op": "{nonce}"}),
    Rule("POST", S + "/captions/publish", "/organize/sessions/{session}/captions/publish", manage(303),
         body={"publish": "1"}),
    Rule("GET", S + "/captions.vtt", "/organize/sessions/{session}/captions.vtt", manage(200)),
    Rule("GET", S + "/captions.txt", "/organize/sessions/{session}/captions.txt", manage(200)),
    Rule("GET", "/c", "/c", everyone(200)),
    Rule("GET", "/c/{code:str}", "/c/{caption_code}", everyone(200)),
    Rule("GET", "/c/{code:str}", "/c/{draft_caption_code}", everyone(404), note="a draft session's captions"),
    Rule("GET", "/c/{code:str}/captioner/{token:str}", "/c/{caption_code}/captioner/{caption_token}", everyone(200),
         note="whoever holds the captioner link"),
    Rule("GET", "/c/{code:str}/captioner/{token:str}", "/c/{caption_code}/captioner/{other_caption_token}",
         everyone(404), note="IDOR: another stream's captioner link with this code"),
    Rule("POST", "/c/{code:str}/captioner/{token:str}/lines", "/c/{caption_code}/captioner/{caption_token}/lines",
         everyone(303), body={"text": "会場の声", "op": "{nonce}"}),
    Rule("POST", "/c/{code:str}/captioner/{token:str}/lines", "/c/{caption_code}/captioner/ct_{nonce}/lines",
         everyone(404), body={"text": "なりすまし", "op": "{nonce}"}, note="a guessed captioner token"),
    Rule("POST", "/c/{code:str}/captioner/{token:str}/lines/{line:int}",
         "/c/{caption_code}/captioner/{caption_token}/lines/{line}", everyone(303), body={"text": "直す", "op": "{nonce}"}),
    Rule("POST", "/c/{code:str}/captioner/{token:str}/lines/{line:int}",
         "/c/{caption_code}/captioner/{other_caption_token}/lines/{line}", everyone(404),
         body={"text": "改ざん", "op": "{nonce}"}, note="IDOR: another stream's captioner link"),
    Rule("GET", "/r/{token:str}/room", "/r/{token}/room", by_token(200)),
    Rule("POST", "/api/sessions/{session_id:int}/captions", "/api/sessions/{session}/captions", api_manage(201),
         json={"label": "API"}),
    Rule("GET", "/api/sessions/{session_id:int}/captions", "/api/sessions/{session}/captions", api_manage(200)),
    Rule("PATCH", "/api/sessions/{session_id:int}/captions", "/api/sessions/{session}/captions", api_manage(200),
         json={"published": True}),
    Rule("DELETE", "/api/sessions/{session_id:int}/captions/captioners/{captioner_id:int}",
         "/api/sessions/{session}/captions/captioners/{captioner}", api_manage(204)),
    Rule("DELETE", "/api/sessions/{session_id:int}/captions/captioners/{captioner_id:int}",
         "/api/sessions/{session}/captions/captioners/{other_captioner}", row(401, 401, 401, 403, 404, 404, 404, 404),
         note="IDOR: another organization's captioner link"),
    Rule("PATCH", "/api/sessions/{session_id:int}/captions/lines/{line:int}",
         "/api/sessions/{session}/captions/lines/{line}", api_manage(200), json={"text": "直した行"}),
    Rule("GET", "/api/sessions/{session_id:int}/captions.vtt", "/api/sessions/{session}/captions.vtt",
         row(404, 404, 404, 200, 404, 200, 404, 200), note="not published: the organization's staff only"),
    Rule("GET", "/api/sessions/{session_id:int}/captions.txt", "/api/sessions/{session}/captions.txt",
         row(404, 404, 404, 200, 404, 200, 404, 200), note="not published: the organization's staff only"),
    Rule("GET", "/api/sessions/{session_id:int}/captions.vtt", "/api/sessions/{published_captions}/captions.vtt",
         everyone(200)),
    Rule("GET", "/api/sessions/{session_id:int}/captions.txt", "/api/sessions/{published_captions}/captions.txt",
         everyone(200)),
    # ---------------------------------------------------------------- JSON API
    Rule("GET", "/api/sessions", "/api/sessions", everyone(200)),
    Rule("POST", "/api/sessions", "/api/sessions", api_own_org(201),
         json={"title": "API の対話", "starts_at": "2031-05-10T10:00:00+09:00", "ends_at": "2031-05-10T12:00:00+09:00",
               "capacity_in_person": 10}),
    Rule("GET", "/api/sessions/{session_id:int}", "/api/sessions/{session}", everyone(200)),
    Rule("GET", "/api/sessions/{session_id:int}", "/api/sessions/{draft}", row(404, 404, 404, 200, 404, 200, 404, 200)),
    Rule("PATCH", "/api/sessions/{session_id:int}", "/api/sessions/{session}", api_manage(200),
         json={"title": "書き換えた題"}),
    Rule("POST", "/api/sessions/{session_id:int}/duplicate", "/api/sessions/{session}/duplicate", api_manage(201)),
    Rule("GET", "/api/series/{series_id:int}", "/api/series/{series}", row(404, 404, 404, 200, 404, 200, 404, 200),
         note="a series of drafts"),
    Rule("GET", "/api/orgs", "/api/orgs", everyone(200)),
    Rule("GET", "/api/venues", "/api/venues", api_signed_in(200)),
    Rule("POST", "/api/venues", "/api/venues", api_own_org(201), json=VENUE_JSON),
    Rule("GET", "/api/venues/{venue_id:int}", "/api/venues/{venue}", api_manage(200)),
    Rule("PATCH", "/api/venues/{venue_id:int}", "/api/venues/{venue}", api_manage(200), json=VENUE_JSON),
    Rule("POST", "/api/sessions/{session_id:int}/registrations", "/api/sessions/{session}/registrations",
         everyone(201), json={"name": "API 花子", "email": "hanako@example.jp", "mode": "in_person"}),
    Rule("POST", "/api/sessions/{session_id:int}/registrations", "/api/sessions/{draft}/registrations",
         everyone(404), json={"name": "API 花子", "email": "hanako@example.jp", "mode": "in_person"}),
    Rule("GET", "/api/sessions/{session_id:int}/registrations", "/api/sessions/{session}/registrations",
         api_manage(200)),
    Rule("GET", "/api/registrations/{token:str}", "/api/registrations/{token}", by_token(200)),
    Rule("DELETE", "/api/registrations/{token:str}", "/api/registrations/{token}", by_token(200)),
    Rule("PATCH", "/api/accommodation-requests/{request_id:int}", "/api/accommodation-requests/{request}",
         api_manage(200), json=ANSWER),
    Rule("POST", "/api/sessions/{session_id:int}/boards", "/api/sessions/{session}/boards", api_facilitate(201),
         json={"title": "API ボード", "prompts": PROMPTS}),
    Rule("POST", "/api/boards/{board_id:int}/participants", "/api/boards/{board}/participants", everyone(201),
         json={"display_name": "コード 持ち", "code": "{code}"}),
    Rule("POST", "/api/boards/{board_id:int}/participants", "/api/boards/{board}/participants",
         row(404, 404, 404, 201, 404, 201, 404, 201), json={"display_name": "コードなし"},
         note="without the join code only the board's facilitators add participants"),
    Rule("POST", "/api/boards/{board_id:int}/participants", "/api/boards/{board}/participants",
         row(404, 404, 404, 201, 404, 201, 404, 201), json={"display_name": "別のコード", "code": "{other_code}"},
         note="IDOR: another board's join code opens nothing (its facilitators need no code)"),
    Rule("GET", "/api/boards/{board_id:int}/export.md", "/api/boards/{board}/export.md", api_facilitate(200)),
    Rule("GET", "/api/boards/{board_id:int}/export.csv", "/api/boards/{board}/export.csv", api_facilitate(200)),
    Rule("GET", "/api/boards/{board_id:int}/export.json", "/api/boards/{board}/export.json", api_facilitate(200)),
    Rule("POST", "/api/boards/{board_id:int}/polls", "/api/boards/{board}/polls", api_facilitate(201),
         json={"type": "single_choice", "question": "どれが大事？", "options": ["A", "B"]}),
    Rule("GET", "/api/polls/{poll_id:str}/results", "/api/polls/{poll}/results",
         row(404, 404, 404, 200, 404, 200, 404, 200), note="results not revealed: facilitators only"),
    Rule("GET", "/api/polls/{poll_id:str}/results", "/api/polls/{live_poll}/results", everyone(200)),
    # ---------------------------------------------------------------- evaluation (評価)
    Rule("GET", "/e/{code:str}", "/e/{ecode}", everyone(200)),
    Rule("POST", "/e/{code:str}", "/e/{ecode}", everyone(303), body={"q{equestion}": "4"},
         note="anyone in the room answers, no account"),
    Rule("GET", "/e/{code:str}/thanks", "/e/{ecode}/thanks", everyone(200)),
    Rule("GET", "/r/{token:str}/evaluation", "/r/{token}/evaluation", by_token(200)),
    Rule("POST", "/r/{token:str}/evaluation", "/r/{token}/evaluation", by_token(303), body={"q{equestion}": "5"}),
    Rule("GET", "/r/{token:str}/evaluation/thanks", "/r/{token}/evaluation/thanks", by_token(200)),
    Rule("GET", "/sessions/{session_id:int}/evaluation", "/sessions/{session}/evaluation", everyone(404),
         note="results appear on the public outcome only once published"),
    Rule("GET", S + "/evaluation", S.replace("{session_id:int}", "{session}") + "/evaluation", manage(200)),
    Rule("GET", S + "/evaluation", "/organize/sessions/{other_session}/evaluation",
         row(LOGIN, LOGIN, LOGIN, 404, 403, 404, 200, 200), note="IDOR: another organization's evaluation"),
    Rule("POST", S + "/evaluation", "/organize/sessions/{bare_session}/evaluation", manage(303)),
    Rule("POST", S + "/evaluation/questions", "/organize/sessions/{session}/evaluation/questions", manage(303),
         body={"text": "追加の質問", "type": "text"}),
    Rule("POST", S + "/evaluation/questions/{question_id:int}/delete",
         "/organize/sessions/{session}/evaluation/questions/{equestion}/delete", manage(303)),
    Rule("POST", S + "/evaluation/closing", "/organize/sessions/{session}/evaluation/closing", manage(303),
         body={"closes_at": "2031-01-10T17:00"}),
    Rule("GET", S + "/evaluation/paper", "/organize/sessions/{session}/evaluation/paper", manage(200)),
    Rule("POST", S + "/evaluation/paper", "/organize/sessions/{session}/evaluation/paper", manage(303),
         body={"q{equestion}": "3"}),
    Rule("GET", S + "/evaluation/results", "/organize/sessions/{session}/evaluation/results", manage(200)),
    Rule("GET", S + "/evaluation/results", "/organize/sessions/{other_session}/evaluation/results",
         row(LOGIN, LOGIN, LOGIN, 404, 403, 404, 200, 200), note="IDOR: answers of another organization"),
    Rule("POST", S + "/evaluation/publish", "/organize/sessions/{session}/evaluation/publish", manage(303),
         body={"publish": "1"}),
    Rule("POST", S + "/evaluation/to-theme", "/organize/sessions/{session}/evaluation/to-theme", manage(303),
         body={"text": "1"}),
    Rule("POST", S + "/evaluation/to-theme", "/organize/sessions/{other_session}/evaluation/to-theme",
         row(LOGIN, LOGIN, LOGIN, 404, 403, 404, 303, 303), body={"text": "1"},
         note="IDOR: another organization's answers into a theme"),
    Rule("GET", S + "/evaluation.csv", "/organize/sessions/{session}/evaluation.csv", manage(200)),
    Rule("GET", S + "/evaluation/live", "/organize/sessions/{session}/evaluation/live", manage(200)),
    Rule("GET", S + "/evaluation/qr", "/organize/sessions/{session}/evaluation/qr", manage(200)),
    # ---------------------------------------------------------------- reading aids (ふりがな)
    Rule("POST", "/api/readings", "/api/readings", everyone(200), json={"text": "二十日に集まる"}),
    Rule("GET", "/organize/readings", "/organize/readings", own_org(200)),
    Rule("POST", "/organize/readings", "/organize/readings", own_org(303),
         body={"surface": "達古袋", "reading": "やこぶくろ"}),
    Rule("POST", "/organize/readings/{entry_id:int}/delete", "/organize/readings/{reading_entry}/delete",
         row(LOGIN, LOGIN, LOGIN, 403, 403, 303, 404, 404), note="another organization's entry is 404"),
    Rule("GET", S + "/easy", "/organize/sessions/{session}/easy", manage(200)),
    Rule("POST", S + "/easy", "/organize/sessions/{session}/easy", manage(303), body={"body": "あしたは あめです。"}),
    Rule("GET", S + "/easy", "/organize/sessions/{other_session}/easy",
         row(LOGIN, LOGIN, LOGIN, 404, 403, 404, 200, 200), note="IDOR: another organization's session"),
    Rule("POST", "/api/sessions/{session_id:int}/evaluation", "/api/sessions/{bare_session}/evaluation",
         api_manage(201), json={}),
    Rule("POST", "/api/evaluations/{evaluation_id:int}/responses", "/api/evaluations/{evaluation}/responses",
         everyone(201), json={"answers": {"{equestion}": 4}}),
    Rule("GET", "/api/evaluations/{evaluation_id:int}/results", "/api/evaluations/{evaluation}/results",
         api_manage(200)),
    Rule("GET", "/api/evaluations/{evaluation_id:int}/results", "/api/evaluations/{other_evaluation}/results",
         row(401, 401, 401, 404, 403, 404, 200, 200), note="IDOR: another organization's results"),
    # ---------------------------------------------------------------- the ledger (論点整理)
    Rule("GET", "/themes/{slug:str}", "/themes/{theme_slug}", everyone(200)),
    Rule("GET", "/themes/{slug:str}", "/themes/{hidden_slug}", everyone(404), note="an unpublished theme"),
    Rule("GET", "/themes/{slug:str}/feed.atom", "/themes/{theme_slug}/feed.atom", everyone(200)),
    Rule("GET", "/themes/{slug:str}/feed.atom", "/themes/{hidden_slug}/feed.atom", everyone(404)),
    Rule("GET", "/themes/{slug:str}/export.csv", "/themes/{theme_slug}/export.csv", everyone(200)),
    Rule("GET", "/themes/{slug:str}/export.csv", "/themes/{hidden_slug}/export.csv", everyone(404)),
    Rule("POST", "/themes/{slug:str}/follow", "/themes/{theme_slug}/follow", everyone(200),
         body={"email": "f-{nonce}@example.jp"}, note="the same answer for everyone; a mail only to confirm"),
    Rule("POST", "/themes/{slug:str}/follow", "/themes/{hidden_slug}/follow", everyone(404),
         body={"email": "f-{nonce}@example.jp"}),
    Rule("GET", "/themes/{slug:str}/follow/{token:str}", "/themes/{theme_slug}/follow/{token}", everyone(404),
         note="a guessed confirmation token"),
    Rule("POST", "/themes/{slug:str}/follow/{token:str}", "/themes/{theme_slug}/follow/{token}", everyone(404)),
    Rule("GET", "/themes/{slug:str}/unsubscribe/{token:str}", "/themes/{theme_slug}/unsubscribe/{token}",
         everyone(200), note="a guessed token unsubscribes nobody; the answer says nothing of who follows"),
    Rule("POST", "/themes/{slug:str}/unsubscribe/{token:str}", "/themes/{theme_slug}/unsubscribe/{token}",
         everyone(200)),
    Rule("GET", "/organize/themes", "/organize/themes", signed_in(200)),
    Rule("POST", "/organize/themes", "/organize/themes", own_org(422), body={"title": ""}),
    Rule("GET", "/organize/themes/{theme_id:int}", "/organize/themes/{theme}", manage(200)),
    Rule("POST", "/organize/themes/{theme_id:int}", "/organize/themes/{theme}", manage(422), body={"title": ""}),
    Rule("POST", "/organize/themes/{theme_id:int}/sessions", "/organize/themes/{theme}/sessions", manage(303)),
    Rule("POST", "/organize/themes/{theme_id:int}/opinions", "/organize/themes/{theme}/opinions", manage(303),
         body={"text": "権限確認の意見", "source": "paper"}),
    Rule("POST", "/organize/themes/{theme_id:int}/issues", "/organize/themes/{theme}/issues", manage(422),
         body={"issue_title": ""}),
    Rule("GET", "/organize/themes/{theme_id:int}/unanswered", "/organize/themes/{theme}/unanswered", manage(200)),
    Rule("GET", "/organize/themes/{theme_id:int}/due", "/organize/themes/{theme}/due", manage(200)),
    Rule("GET", "/organize/issues/{issue_id:int}", "/organize/issues/{issue}", manage(200)),
    Rule("POST", "/organize/issues/{issue_id:int}/responses", "/organize/issues/{issue}/responses", manage(303),
         body={"body": "権限確認の回答", "status": "considering"}),
    Rule("POST", "/organize/issues/{issue_id:int}/opinions", "/organize/issues/{issue}/opinions", manage(422)),
    Rule("POST", "/organize/responses/{response_id:int}/publish", "/organize/responses/{draft_response}/publish",
         manage(303)),
    Rule("GET", B + "/opinions", "/boards/{board}/opinions", facilitate(200)),
    Rule("POST", B + "/opinions", "/boards/{board}/opinions", facilitate(303)),
    Rule("GET", "/api/themes", "/api/themes", api_signed_in(200)),
    Rule("POST", "/api/themes", "/api/themes", api_own_org(201), json={"title": "API のテーマ"}),
    Rule("GET", "/api/themes/{slug:str}", "/api/themes/{theme_slug}", everyone(200)),
    Rule("GET", "/api/themes/{slug:str}", "/api/themes/{hidden_slug}", everyone(404)),
    Rule("PATCH", "/api/themes/{theme_id:int}/settings", "/api/themes/{theme}/settings", api_manage(200),
         json={"description": "書き換えた説明"}),
    Rule("POST", "/api/themes/{theme_id:int}/opinions", "/api/themes/{theme}/opinions", api_manage(201),
         json={"text": "API の意見", "source": "mail"}),
    Rule("POST", "/api/themes/{theme_id:int}/issues", "/api/themes/{theme}/issues", api_manage(201),
         json={"title": "API の論点", "opinion_ids": []}),
    Rule("POST", "/api/issues/{issue_id:int}/opinions", "/api/issues/{issue}/opinions", api_manage(422),
         json={"opinion_ids": []}),
    Rule("POST", "/api/issues/{issue_id:int}/responses", "/api/issues/{issue}/responses", api_manage(201),
         json={"body": "API の回答", "status": "considering", "publish": False}),
    Rule("POST", "/api/responses/{response_id:int}/publish", "/api/responses/{draft_response}/publish",
         api_manage(200)),
]


# ---------------------------------------------------------------- the world the matrix runs in

@dataclass
class World:
    app: Any
    client: AsyncTestClient
    db: Any
    people: dict[str, accounts.Account]
    ids: dict[str, Any]
    participant_token: str
    other_participant_token: str
    registrant_token: str
    csrf_cookie: str = ""
    csrf_token: str = ""
    api_tokens: dict[str, str] = field(default_factory=dict)
    logins: dict[str, str] = field(default_factory=dict)


async def _register(app: Any, session_id: int, name: str, email: str) -> tuple[int, str]:
    state = app.litestar.state
    result = await registration.register(
        state.db, session_id, RegistrationInput(name=name, email=email, mode="in_person", consent_sensitive=True,
                                                accommodations=[AccommodationRequestInput(code="sign_language")]),
        notify=state.notify, derive_token=state.derive_token)
    return result.registration.id, result.token


async def _board(app: Any, session_id: int, org_id: int) -> board_store.Board:
    db = app.litestar.state.db
    config, errors = board_errors({"title": "権限確認ボード", "prompts": PROMPTS})
    assert not errors
    board = await board_store.get_board(db, await create_board(db, session_id, org_id, config))
    assert board is not None
    return board


async def _poll(app: Any, board_id: int, *, live: bool) -> str:
    service = app.litestar.state.board_service
    actor = Actor(id="f0", name="setup", facilitator=True)
    made = await service.handle(board_id, "poll:create", {"type": "single_choice", "question": "どちら？",
                                                          "options": ["はい", "いいえ"], "live_results": live},
                                actor, uuid.uuid4().hex)
    assert made.result["ok"], made.result
    opened = await service.handle(board_id, "poll:open", {"poll": made.result["id"]}, actor, uuid.uuid4().hex)
    assert opened.result["ok"], opened.result
    return made.result["id"]


async def _captions(app: Any, session_id: int) -> dict[str, Any]:
    """Captions switched on for a session, with a captioner link and one committed line."""
    state = app.litestar.state
    session = await store.get_session(state.db, session_id)
    assert session is not None
    stream, captioner, token = await switch_on(state.db, session, "権限確認")
    added = await state.caption_service.handle(stream, "caption:line", {"text": "最初の行"}, Captioner(id="setup"),
                                               uuid.uuid4().hex)
    assert added["ok"], added
    return {"caption_code": stream.code, "caption_token": token, "captioner": captioner, "line": added["line"]}


async def _offered_session(db: Any, org_id: int, venue_id: int, **values: Any) -> int:
    return await make_session(db, org_id, venue_id, starts_at=next_saturday(weeks=5),
                              accommodations=[AccommodationOffer(code="sign_language", mode="on_request")], **values)


async def _evaluation(app: Any, session_id: int) -> tuple[int, str, int]:
    """The standard evaluation of a session: (id, code, its first question's id)."""
    session = await store.get_session(app.litestar.state.db, session_id)
    assert session is not None
    made = await evaluation_actions.attach(app.litestar.state.db, session_id, session.ends_at, standard_questions(),
                                           opens_at=now_utc(), closes_at=None, now=now_utc())
    return made.id, made.code, made.questions[0].id


async def _draft_response(db: Any, issue_id: int) -> int:
    issue = await ledger_store.issue_row(db, issue_id)
    return await ledger_themes.append_response(db, issue, ResponseInput(body="下書きの回答", status="considering",
                                                                        publish=False), author_id=None)


async def _ledger(db: Any, org_id: int) -> dict[str, Any]:
    """A published theme with an opinion, an issue and a draft response, and an unpublished theme."""
    theme = await ledger_themes.create_theme(db, org_id, ThemeInput(title="権限確認のテーマ", slug="authz-theme"))
    await ledger_themes.create_theme(db, org_id, ThemeInput(title="非公開のテーマ", slug="authz-hidden", published=False))
    opinion = await ledger_themes.add_opinion(db, theme, OpinionInput(text="権限確認の意見", source="paper"))
    issue = await ledger_themes.raise_issue(db, theme, IssueInput(title="権限確認の論点", opinion_ids=[opinion]))
    return {"theme": theme.id, "theme_slug": "authz-theme", "hidden_slug": "authz-hidden", "issue": issue,
            "draft_response": await _draft_response(db, issue)}


async def build_world(app: Any, client: AsyncTestClient) -> World:
    db = app.litestar.state.db
    people = {role: await make_account(db, email, role=kind, org=org)
              for role, (email, kind, org) in ACCOUNT_ROLES.items()}
    # the account the admin pages edit (an allowed edit promotes it; nobody in the matrix signs in with it)
    spare = await make_account(db, "spare@kanazawa.example", role="facilitator")
    org_a, org_b = people["organizer"].org_id, people["other_organizer"].org_id
    venue = await make_venue(db, org_a)
    other_venue = await make_venue(db, org_b, name="富山ホール")
    session = await _offered_session(db, org_a, venue)
    other_session = await _offered_session(db, org_b, other_venue)
    draft = await make_session(db, org_a, venue, status="draft", title="下書きの対話")
    other_draft = await make_session(db, org_b, other_venue, status="draft", title="別団体の下書き")
    start = next_saturday(weeks=8)
    series_ids = await scheduling.create_sessions(db, org_a, SessionInput(
        title="月例の対話", starts_at=start, ends_at=start + timedelta(hours=2), venue_id=venue,
        capacity_in_person=10, recurrence=Recurrence(freq="monthly", count=3)))
    series = (await db.fetch_one("select series_id from sessions where id = ?", (series_ids[0],)))[0]
    registration_id, token = await _register(app, session, "本人 太郎", "taro@example.jp")
    other_registration, _other_token = await _register(app, other_session, "別人 次郎", "jiro@example.jp")
    request = (await db.fetch_one("select id from accommodation_requests where registration_id = ?",
                                  (registration_id,)))[0]
    other_request = (await db.fetch_one("select id from accommodation_requests where registration_id = ?",
                                        (other_registration,)))[0]
    board = await _board(app, session, org_a)
    other_board = await _board(app, other_session, org_b)
    published = await _board(app, session, org_a)
    async with db.transaction() as conn:
        await board_store.set_outcome(conn, published.id, True, False)
        _p, participant_token = await board_store.add_participant(conn, board.id, "参加 さん", "online")
        _q, other_participant_token = await board_store.add_participant(conn, other_board.id, "他 さん", "online")
    captions = await _captions(app, session)
    other_captions = await _captions(app, other_session)
    draft_captions = await _captions(app, draft)
    published_captions = await _offered_session(db, org_a, venue)
    await _captions(app, published_captions)
    await publish(db, await caption_store.stream_of_session(db, published_captions), True)
    world = World(app=app, client=client, db=db, people=people, participant_token=participant_token,
                  other_participant_token=other_participant_token, registrant_token=token, ids={
                      "session": session, "draft": draft, "other_draft": other_draft, "series": series,
                      "venue": venue, "registration": registration_id, "other_registration": other_registration,
                      "request": request, "other_request": other_request, "board": board.id,
                      "other_board": other_board.id, "published_board": published.id, "code": board.join_code,
                      "other_code": other_board.join_code, "poll": await _poll(app, board.id, live=False),
                      "live_poll": await _poll(app, board.id, live=True), "org": org_a,
                      "account": spare.id, "other_session": other_session, "bare_session": draft,
                      **await _ledger(db, org_a), **captions,
                      "other_caption_token": other_captions["caption_token"],
                      "other_captioner": other_captions["captioner"],
                      "draft_caption_code": draft_captions["caption_code"], "published_captions": published_captions})
    world.ids["evaluation"], world.ids["ecode"], world.ids["equestion"] = await _evaluation(app, session)
    world.ids["other_evaluation"] = (await _evaluation(app, other_session))[0]
    async with db.transaction() as conn:
        await reading_store.save_name(conn, org_a, "一関", "いちのせき")
    world.ids["reading_entry"] = (await db.fetch_one("select id from reading_names where org_id = ?", (org_a,)))[0]
    async with db.transaction() as conn:
        for role, account in people.items():
            world.api_tokens[role] = await accounts.create_api_token(conn, account.id)
            world.logins[role] = await accounts.start_login(conn, account.id)
    page = await client.get("/organize/login")
    world.csrf_cookie = page.cookies.get("taiwa_csrf") or client.cookies.get("taiwa_csrf")
    world.csrf_token = html(page).find("input", attrs={"name": "_csrf_token"})["value"]
    assert world.csrf_cookie and world.csrf_token
    return world


async def fresh_objects(world: World, needs: str) -> dict[str, Any]:
    """New objects of the organization for a request that changes things (so cells do not affect each other);
    only those the request names (`needs` is its address and body) are made."""
    app, db = world.app, world.db
    org_a = world.people["organizer"].org_id
    ids, token, participant = dict(world.ids), world.registrant_token, world.participant_token
    wants = lambda *keys: any("{" + key + "}" in needs for key in keys)  # noqa: E731
    if wants("session", "registration", "request", "token", "board", "code"):
        ids["session"] = await _offered_session(db, org_a, world.ids["venue"])
    if "evaluation" in needs or wants("ecode", "bare_session"):
        if ids["session"] == world.ids["session"]:
            ids["session"] = await _offered_session(db, org_a, world.ids["venue"])
        ids["bare_session"] = await _offered_session(db, org_a, world.ids["venue"])
        ids["evaluation"], ids["ecode"], ids["equestion"] = await _evaluation(app, ids["session"])
    if wants("draft"):
        ids["draft"] = await make_session(db, org_a, world.ids["venue"], status="draft", title="公開前の対話")
    if wants("registration", "request", "token"):
        ids["registration"], token = await _register(app, ids["session"], "新規 太郎",
                                                     f"t{secrets.token_hex(4)}@example.jp")
        ids["request"] = (await db.fetch_one("select id from accommodation_requests where registration_id = ?",
                                             (ids["registration"],)))[0]
    if wants("board", "code"):
        board = await _board(app, ids["session"], org_a)
        ids.update(board=board.id, code=board.join_code)
        async with db.transaction() as conn:
            _p, participant = await board_store.add_participant(conn, board.id, "参加 さん", "online")
    if wants("draft_response"):
        ids["draft_response"] = await _draft_response(db, world.ids["issue"])
    if "/captions" in needs or wants("caption_code", "caption_token", "captioner", "line"):
        if not wants("session", "registration", "request", "token", "board", "code"):
            ids["session"] = await _offered_session(db, org_a, world.ids["venue"])
        ids.update(await _captions(app, ids["session"]))
    if wants("series"):
        start = next_saturday(weeks=10)
        made = await scheduling.create_sessions(db, org_a, SessionInput(
            title="連続講座", starts_at=start, ends_at=start + timedelta(hours=2), capacity_in_person=5,
            venue_id=world.ids["venue"], recurrence=Recurrence(freq="weekly", count=2)))
        ids["series"] = (await db.fetch_one("select series_id from sessions where id = ?", (made[0],)))[0]
    async with db.transaction() as conn:
        logins = {role: await accounts.start_login(conn, account.id) for role, account in world.people.items()}
    return {"ids": ids, "token": token, "participant": participant, "logins": logins}


# what a refused request may write: its own count against the abuse limits (a wrong join code counts)
COUNTERS = ("limit_hits",)


async def fingerprint(db: Any) -> str:
    """Every row of every table but the abuse counters (a refused request must not change any of them)."""
    digest = hashlib.sha256()
    for (table,) in await db.fetch_all("select name from sqlite_master where type = 'table' order by name"):
        if table in COUNTERS:
            continue
        for item in await db.fetch_all(f'select * from "{table}"'):  # noqa: S608 - table names from sqlite itself
            digest.update(repr(tuple(item)).encode())
    return digest.hexdigest()


def fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        out = template
        for key, value in values.items():
            out = out.replace("{" + key + "}", str(value))
        return out
    if isinstance(template, dict):
        return {fill(key, values): fill(value, values) for key, value in template.items()}
    return template


def answer_of(response: Any, world_ids: dict[str, Any]) -> Any:
    """The status, with redirects named by where they lead."""
    if response.status_code == 303:
        location = response.headers.get("location", "")
        if location.startswith("/organize/login"):
            return LOGIN
        if location == "/j":
            return JOIN
        if location.endswith("/facilitate") and response.request.method == "GET":
            return FACILITATE
    return response.status_code


async def ask(world: World, rule: Rule, role: str) -> tuple[Any, bool]:
    """Send one cell's request; returns (answer, the database unchanged)."""
    client = world.client
    unsafe = rule.method not in ("GET", "HEAD")
    fresh = await fresh_objects(world, rule.url + repr(rule.body) + repr(rule.json)) if unsafe else None
    ids = fresh["ids"] if fresh else world.ids
    logins = fresh["logins"] if fresh else world.logins
    token = (fresh["token"] if fresh else world.registrant_token) if role == "registrant" else \
        "guess-" + secrets.token_urlsafe(24)
    participant = fresh["participant"] if fresh else world.participant_token
    values = {**ids, "token": token, "nonce": uuid.uuid4().hex[:12]}
    url = fill(rule.url, values)
    cookies = {"taiwa_csrf": world.csrf_cookie}
    headers: dict[str, str] = {}
    is_api = url.startswith("/api/")
    if role in logins and not is_api:
        cookies[LOGIN_COOKIE] = logins[role]
    if role == "participant":
        cookies[participant_cookie(ids["board"])] = participant
        # the other board's participant cookie is presented as if it were this board's
        cookies[participant_cookie(ids["other_board"])] = participant
        if is_api:
            headers["Authorization"] = f"Bearer {participant}"
    if role == "registrant" and is_api:
        headers["Authorization"] = f"Bearer {token}"
    if role in world.api_tokens and is_api:
        headers["Authorization"] = f"Bearer {world.api_tokens[role]}"
    headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    client.cookies.clear()
    refused = rule.expect[role] in REFUSED
    before = await fingerprint(world.db) if refused else ""
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if rule.json is not None:
        kwargs["json"] = fill(rule.json, values)
    elif unsafe and not is_api:
        kwargs["data"] = {"_csrf_token": world.csrf_token, **fill(rule.body or {}, values)}
    response = await client.request(rule.method, url, **kwargs)
    unchanged = await fingerprint(world.db) == before if refused else True
    return answer_of(response, ids), unchanged


def declared_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (OPTIONS is Litestar's own answer)."""
    found = set()
    for route in app.litestar.routes:
        for method in getattr(route, "methods", set()):
            if method != "OPTIONS":
                found.add((method, route.path))
    return found


REFUSED = {LOGIN, JOIN, 401, 403, 404}


async def test_every_route_has_a_row_in_the_matrix(tmp_path):
    app = create_app(Settings(db_path=tmp_path / "t.sqlite3", secret="s" * 32, base_url="http://testserver.local"))
    covered = {(rule.method, rule.route) for rule in RULES}
    missing = sorted(declared_routes(app) - covered)
    assert not missing, f"routes without a row in the authorization matrix: {missing}"
    stale = sorted(covered - declared_routes(app))
    assert not stale, f"rows for routes that do not exist: {stale}"


async def test_http_authorization_matrix(tmp_path):
    settings = Settings(db_path=tmp_path / "taiwa.sqlite3", secret="authz-secret-" + "x" * 20,
                        base_url="http://testserver.local", rate_limits=False, background=False)
    app = create_app(settings)
    started = time.monotonic()
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        world = await build_world(app, client)
        wrong, leaks, checked = [], [], 0
        for rule in RULES:
            for role in ROLES:
                expected = rule.expect[role]
                got, unchanged = await ask(world, rule, role)
                checked += 1
                if got != expected:
                    wrong.append(f"{rule.method} {rule.url} as {role}: expected {expected}, got {got}"
                                 + (f" ({rule.note})" if rule.note else ""))
                if expected in REFUSED and not unchanged:
                    leaks.append(f"{rule.method} {rule.url} as {role} was refused but changed the database")
    print(f"\n[authz] HTTP matrix: {checked} cells ({len(RULES)} rows x {len(ROLES)} roles) "
          f"in {time.monotonic() - started:.1f} s")
    assert not wrong and not leaks, "\n".join(wrong + leaks)
