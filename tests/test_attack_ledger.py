"""The ledger under attack (論点整理): the XSS corpus of tests/test_security_web.py in every field a person
can fill — theme title and description, opinion text (typed by staff and sent from a board note),
issue title, response body and section — checked inert on the public page, the organizer's pages and
the board step, and round-tripping intact through JSON, CSV and the Atom feed (read by feedparser)."""

from __future__ import annotations

import csv
import io
import json

import feedparser

from tests.board_http import act, new_board
from tests.harness import login
from tests.ledger_helpers import city
from tests.test_security_web import PAYLOADS, html_problems, plain, strings

FOLLOWER = "hanako@example.jp"


async def test_the_xss_corpus_is_inert_on_every_ledger_page_and_intact_in_every_export(app, client, db):
    saku = await city(db)
    await login(client, "staff@saku.example")
    headers = {**saku.headers, "Content-Type": "application/json"}
    problems: list[str] = []
    for n, (name, payload) in enumerate(PAYLOADS.items()):
        post = lambda url, body: client.post(url, headers=headers, content=json.dumps(body))  # noqa: E731
        made = await post("/api/themes", {"title": payload, "description": payload, "slug": f"xss-{n}"})
        assert made.status_code == 201, (name, made.text)
        theme = made.json()
        patched = await client.patch(f"/api/sessions/{saku.sessions[0]}", json={"theme_id": theme["id"]},
                                     headers=saku.headers)
        assert patched.status_code == 200
        opinion = (await post(f"/api/themes/{theme['id']}/opinions", {"text": payload, "source": "paper"})).json()
        issue = (await post(f"/api/themes/{theme['id']}/issues", {"title": payload, "opinion_ids": [opinion["id"]]}))
        assert issue.status_code == 201, (name, issue.text)
        issue_id = issue.json()["id"]
        answered = await post(f"/api/issues/{issue_id}/responses", {"body": payload, "status": "considering",
                                                                     "department": payload[:100]})
        assert answered.status_code == 201, (name, answered.text)
        board = await new_board(db, saku.sessions[0], saku.account.org_id)
        await act(app, board.id, "note:add", zone="z1", text=payload)
        slug = theme["slug"]
        for url in (f"/themes/{slug}", f"/themes/{slug}?status=considering", f"/organize/themes/{theme['id']}",
                    f"/organize/issues/{issue_id}", f"/organize/themes/{theme['id']}/unanswered",
                    f"/organize/themes/{theme['id']}/due", "/organize/themes", f"/boards/{board.id}/opinions",
                    f"/sessions/{saku.sessions[0]}"):
            answer = await client.get(url)
            if answer.status_code != 200:
                problems.append(f"[{name}] {url}: {answer.status_code}")
            problems += [f"[{name}] {p}" for p in html_problems(answer.text, url)]
        clean = plain(payload.replace("\x00", "")).strip()
        data = (await client.get(f"/api/themes/{slug}")).json()
        if not any(clean in plain(text) for text in strings(data["issues"])):
            problems.append(f"[{name}] JSON: the text did not survive")
        cells = [cell for row in csv.reader(io.StringIO((await client.get(f"/themes/{slug}/export.csv"))
                                                         .content.decode("utf-8-sig"))) for cell in row]
        if not any(clean in plain(cell) for cell in cells):
            problems.append(f"[{name}] CSV: the text did not survive as one cell")
        if any(cell[:1] in ("=", "+", "-", "@") and len(cell) > 1 for cell in cells):
            problems.append(f"[{name}] CSV: a cell a spreadsheet would run")
        feed = feedparser.parse((await client.get(f"/themes/{slug}/feed.atom")).content)
        if feed.bozo:
            problems.append(f"[{name}] Atom: not well-formed ({feed.bozo_exception})")
        elif clean not in plain(feed.entries[0].content[0].value):
            problems.append(f"[{name}] Atom: the response did not survive")
    assert not problems, "\n".join(problems[:40])
