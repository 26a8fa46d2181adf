"""The accountability ledger (論点整理) through the JSON API and the public page: a theme's story in time
order, responses appended and never edited, the status of an issue, drafts and unpublished themes kept
from the public in every page, feed and export, and open data read back by independent parsers
(feedparser for Atom, csv for CSV)."""

from __future__ import annotations

import csv
import io
import json
import re

import feedparser
import jsonschema_rs

from tests.harness import html, make_session, next_saturday
from tests.ledger_helpers import (
    City,
    city,
    issue,
    opinion,
    post_json,
    respond,
    theme_with_sessions,
)


async def story(client, db) -> tuple[City, dict, dict[str, int]]:
    """Three sessions, opinions from paper and a board, three issues; responses that change status."""
    saku = await city(db)
    theme = await theme_with_sessions(client, saku)
    ops = [await opinion(client, saku, theme["id"], text, source, session_id=session)
           for text, source, session in (("バスの本数を増やしてほしい", "board", saku.sessions[0]),
                                         ("病院へ行く便がない", "paper", None),
                                         ("乗合タクシーを試してほしい", "phone", None),
                                         ("バス停に屋根を", "mail", None))]
    ids = {"本数": await issue(client, saku, theme["id"], "バスの本数をどうするか", ops[:2]),
           "乗合": await issue(client, saku, theme["id"], "乗合タクシーを導入するか", [ops[2], ops[1]]),
           "屋根": await issue(client, saku, theme["id"], "バス停の屋根", [ops[3]])}
    await respond(client, saku, ids["本数"], "ダイヤ改正に合わせて検討します。", "considering", department="交通政策課",
                  session_id=saku.sessions[1])
    await respond(client, saku, ids["本数"], "平日の朝夕に2便を増やします。", "adopted", department="交通政策課")
    await respond(client, saku, ids["乗合"], "実証運行を続けます。", "continuing")
    await respond(client, saku, ids["乗合"], "（下書き）運行を終えます。", "not_feasible", publish=False)
    return saku, theme, ids


async def test_a_theme_reads_as_the_story_of_the_debate_in_json(client, db):
    saku, theme, ids = await story(client, db)
    data = (await client.get(f"/api/themes/{theme['slug']}")).json()
    assert set(data) >= {"slug", "title", "description", "sessions", "issues"}
    assert [s["id"] for s in data["sessions"]] == saku.sessions
    assert all(re.search(r"T10:00:00\+09:00$", s["starts_at"]) for s in data["sessions"])
    issues = {i["id"]: i for i in data["issues"]}
    count = issues[ids["本数"]]
    assert count["status"] == "adopted", "an issue stands where its latest published response puts it"
    assert [r["status"] for r in count["responses"]] == ["considering", "adopted"], "oldest first"
    assert count["responses"][0] == {**count["responses"][0], "department": "交通政策課", "session_id": saku.sessions[1]}
    assert set(count["responses"][0]) >= {"body", "status", "published_at"}
    assert [o["text"] for o in count["opinions"]] == ["バスの本数を増やしてほしい", "病院へ行く便がない"]
    assert count["opinions"][0]["source"] == "board" and count["opinions"][0]["session_id"] == saku.sessions[0]
    assert "session_id" not in count["opinions"][1], "an optional field is absent, not null"
    shared = issues[ids["乗合"]]
    assert "病院へ行く便がない" in [o["text"] for o in shared["opinions"]], "one opinion feeds several issues"
    assert shared["status"] == "continuing", "a draft does not change the public status"
    assert [r["body"] for r in shared["responses"]] == ["実証運行を続けます。"]
    assert issues[ids["屋根"]]["status"] is None and issues[ids["屋根"]]["responses"] == []
    assert data["counts"] == {"considering": 0, "adopted": 1, "partly_adopted": 0, "not_feasible": 0,
                              "continuing": 1, "done": 0, "unanswered": 1}


async def test_the_theme_json_matches_its_openapi_schema(client, db):
    _saku, theme, _ids = await story(client, db)
    document = (await client.get("/schema/openapi.json")).json()
    answer = document["paths"]["/api/themes/{slug}"]["get"]["responses"]["200"]["content"]["application/json"]
    schema = {**answer["schema"], "components": document["components"]}
    data = (await client.get(f"/api/themes/{theme['slug']}")).json()
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(data), [str(e) for e in validator.iter_errors(data)]
    assert not validator.is_valid({**data, "issues": [{"id": 1}]}), "the schema says what an issue holds"


async def test_the_public_page_shows_issues_opinions_and_responses_in_time_order_with_counts(client, db):
    saku, theme, ids = await story(client, db)
    page = html(await client.get(f"/themes/{theme['slug']}", headers={"Accept-Language": "ja"}))
    assert page.h1.get_text(strip=True) == "公共交通の見直し"
    counts = {a.select_one(".status-chip").get_text(strip=True): a.select_one(".status-counts__n").get_text()
              for a in page.select(".status-counts a")}
    assert counts["反映"] == "1" and counts["継続"] == "1" and counts["未回答"] == "1" and counts["検討中"] == "0"
    first = page.select_one(f"#issue-{ids['本数']}")
    assert [li.select_one(".status-chip").get_text(strip=True) for li in first.select(".response")] == ["検討中", "反映"]
    assert "交通政策課" in first.get_text() and "第2回 公共交通を考える対話" in first.get_text()
    kinds = [li["class"][-1] for li in page.select(".timeline__item")]
    assert kinds[:2] == ["timeline__item--session", "timeline__item--session"], "two sessions held before the answers"
    assert kinds[-1] == "timeline__item--session", "the next session comes last"
    assert "運行を終えます" not in page.get_text(), "a draft is not on the public page"


async def test_the_status_filter_works_as_a_plain_get_form(client, db):
    _saku, theme, ids = await story(client, db)
    page = html(await client.get(f"/themes/{theme['slug']}?status=adopted"))
    form = page.select_one("form.filter-form")
    assert form["method"] == "get" and form.select_one("select[name=status] option[selected]")["value"] == "adopted"
    assert [a["id"] for a in page.select("article.issue")] == [f"issue-{ids['本数']}"]
    unanswered = html(await client.get(f"/themes/{theme['slug']}?status=unanswered"))
    assert [a["id"] for a in unanswered.select("article.issue")] == [f"issue-{ids['屋根']}"]
    everything = html(await client.get(f"/themes/{theme['slug']}?status=<script>"))
    assert len(everything.select("article.issue")) == 3, "an unknown status shows every issue"


async def test_responses_are_appended_never_edited_and_a_draft_is_published_once(client, db):
    saku, theme, ids = await story(client, db)
    draft = await respond(client, saku, ids["屋根"], "設置を検討します。", "considering", publish=False)
    assert (await client.patch(f"/api/responses/{draft}", json={"body": "x"}, headers=saku.headers)).status_code in (404, 405)
    public = lambda: client.get(f"/api/themes/{theme['slug']}")
    roof = lambda data: next(i for i in data["issues"] if i["id"] == ids["屋根"])
    assert roof((await public()).json())["responses"] == []
    assert (await client.post(f"/api/responses/{draft}/publish", headers=saku.headers)).status_code == 200
    assert roof((await public()).json())["status"] == "considering"
    again = await client.post(f"/api/responses/{draft}/publish", headers=saku.headers)
    assert again.status_code == 409 and again.json()["error"]["code"]
    await respond(client, saku, ids["屋根"], "訂正：一部のバス停に設置します。", "partly_adopted")
    answers = roof((await public()).json())["responses"]
    assert [r["status"] for r in answers] == ["considering", "partly_adopted"], "a correction is a new response"


async def test_drafts_never_reach_the_public_page_json_feed_or_csv(client, db):
    saku, theme, ids = await story(client, db)
    secret = "（下書き）運行を終えます。"
    slug = theme["slug"]
    for url in (f"/themes/{slug}", f"/api/themes/{slug}", f"/themes/{slug}/feed.atom", f"/themes/{slug}/export.csv",
                f"/themes/{slug}?status=not_feasible"):
        answer = await client.get(url)
        assert answer.status_code == 200 and secret not in answer.text and "運行を終えます" not in answer.text, url
    assert "not_feasible" not in (await client.get(f"/themes/{slug}/export.csv")).text


async def test_an_unpublished_theme_is_404_everywhere_until_published(client, db):
    saku = await city(db)
    theme = await theme_with_sessions(client, saku, slug="hidden-plan", published=False, title="非公開の計画")
    o = await opinion(client, saku, theme["id"], "まだ非公開")
    i = await issue(client, saku, theme["id"], "非公開の論点", [o])
    await respond(client, saku, i, "非公開の回答", "considering")
    urls = ["/themes/hidden-plan", "/api/themes/hidden-plan", "/themes/hidden-plan/feed.atom",
            "/themes/hidden-plan/export.csv", "/themes/HIDDEN-PLAN"]
    for url in urls:
        assert (await client.get(url)).status_code == 404, url
    follow = await client.post("/themes/hidden-plan/follow", data={"email": "a@example.jp"})
    assert follow.status_code in (403, 404)
    session_page = await client.get(f"/sessions/{saku.sessions[0]}")
    assert "非公開の計画" not in session_page.text and "/themes/" not in session_page.text
    public_session = (await client.get(f"/api/sessions/{saku.sessions[0]}")).json()
    assert "theme_id" not in public_session, "the public does not learn that a hidden theme exists"
    changed = await client.patch(f"/api/themes/{theme['id']}/settings", json={"published": True}, headers=saku.headers)
    assert changed.status_code == 200 and changed.json()["published"] is True
    assert (await client.get("/themes/hidden-plan")).status_code == 200
    assert "非公開の計画" in (await client.get(f"/sessions/{saku.sessions[0]}")).text


async def test_another_organizations_ids_are_refused(client, db):
    saku, theme, ids = await story(client, db)
    other = await city(db, org="ueda")
    theirs = await theme_with_sessions(client, other, slug="ueda-bus")
    their_opinion = await opinion(client, other, theirs["id"], "上田の意見")
    h = other.headers
    assert (await client.post(f"/api/themes/{theme['id']}/opinions", json={"text": "x", "source": "paper"},
                              headers=h)).status_code == 404
    assert (await client.post(f"/api/themes/{theme['id']}/issues", json={"title": "x", "opinion_ids": []},
                              headers=h)).status_code == 404
    assert (await client.post(f"/api/issues/{ids['本数']}/responses", json={"body": "x", "status": "done"},
                              headers=h)).status_code == 404
    assert (await client.patch(f"/api/themes/{theme['id']}/settings", json={"published": False},
                               headers=h)).status_code == 404
    draft_id = json.loads((await client.get(f"/api/themes/{theme['slug']}")).text)["issues"][1]["responses"][0]["id"] + 1
    assert (await client.post(f"/api/responses/{draft_id}/publish", headers=h)).status_code == 404
    # their opinion under our issue, our session under their theme, their theme on our session
    mixed = await client.post(f"/api/themes/{theme['id']}/issues", json={"title": "混ぜる", "opinion_ids": [their_opinion]},
                              headers=saku.headers)
    assert mixed.status_code == 422 and "opinion_ids" in mixed.json()["error"]["fields"]
    wrong = await client.patch(f"/api/sessions/{saku.sessions[0]}", json={"theme_id": theirs["id"]}, headers=saku.headers)
    assert wrong.status_code == 422 and "theme_id" in wrong.json()["error"]["fields"]
    not_here = await client.post(f"/api/themes/{theme['id']}/opinions", headers=saku.headers,
                                 json={"text": "x", "source": "paper", "session_id": other.sessions[0]})
    assert not_here.status_code == 422
    elsewhere = await client.post(f"/api/issues/{ids['本数']}/responses", headers=saku.headers,
                                  json={"body": "x", "status": "done", "session_id": other.sessions[0]})
    assert elsewhere.status_code == 422
    facilitator = await city(db, org="saku", email="fac@saku.example", role="facilitator")
    refused = await client.post(f"/api/themes/{theme['id']}/opinions", json={"text": "x", "source": "paper"},
                                headers=facilitator.headers)
    assert refused.status_code == 403
    assert (await client.post("/api/themes", json={"title": "x"})).status_code == 401
    after = (await client.get(f"/api/themes/{theme['slug']}")).json()
    assert all(r["body"] != "x" for i in after["issues"] for r in i["responses"])


async def test_bad_input_is_a_clear_4xx(client, db):
    saku = await city(db)
    theme = await theme_with_sessions(client, saku)
    h = saku.headers
    cases = [
        (f"/api/themes/{theme['id']}/opinions", {"text": "  ", "source": "paper"}, "text"),
        (f"/api/themes/{theme['id']}/opinions", {"text": "x", "source": "twitter"}, "source"),
        (f"/api/themes/{theme['id']}/opinions", {"text": "x", "source": "paper", "received_on": "2999-01-01"}, "received_on"),
        (f"/api/themes/{theme['id']}/opinions", {"text": "x" * 4001, "source": "paper"}, "text"),
        ("/api/themes", {"title": "x", "slug": "12345"}, "slug"),
        ("/api/themes", {"title": "x", "slug": "Bad Slug!"}, "slug"),
        ("/api/themes", {"title": ""}, "title"),
    ]
    for url, body, field in cases:
        answer = await client.post(url, json=body, headers=h)
        assert answer.status_code == 422, (body, answer.text)
        assert field in answer.json()["error"]["fields"], answer.text
    for body in ({"text": 3, "source": "paper"}, {"source": "paper"}, {"text": "x", "source": "paper",
                                                                        "received_on": "yesterday"}):
        answer = await client.post(f"/api/themes/{theme['id']}/opinions", json=body, headers=h)
        assert answer.status_code in (400, 422) and answer.json()["error"]["message"], answer.text
    taken = await client.post("/api/themes", json={"title": "二つ目", "slug": theme["slug"]}, headers=h)
    assert taken.status_code == 409
    status = await client.post("/api/issues/99999/responses", json={"body": "x", "status": "done"}, headers=h)
    assert status.status_code == 404
    auto = await post_json(client, "/api/themes", {"title": "スラッグなし"}, h)
    assert re.fullmatch(r"theme-[0-9a-f]{8}", auto["slug"])


ODD = "<script>alert('x')</script>\n二行目 & <b>太字</b>\u202e逆\u0000\u0007\ufeff\U0001F600 =1+2"


async def test_odd_opinion_text_is_escaped_everywhere_and_read_back_intact(client, db):
    saku = await city(db)
    theme = await theme_with_sessions(client, saku, title="<i>テーマ</i> & \u202e")
    as_json = {**saku.headers, "Content-Type": "application/json"}  # ASCII JSON: a lone surrogate as \\ud800
    surrogate = await client.post(f"/api/themes/{theme['id']}/opinions", headers=as_json,
                                  content=json.dumps({"text": "半分\ud800", "source": "paper"}))
    assert surrogate.status_code in (400, 422) and surrogate.json()["error"]["message"]
    made = await client.post(f"/api/themes/{theme['id']}/opinions", headers=as_json,
                             content=json.dumps({"text": ODD, "source": "paper"}))
    assert made.status_code == 201, made.text
    i = await issue(client, saku, theme["id"], "<img src=x onerror=alert(1)>", [made.json()["id"]])
    answered = await client.post(f"/api/issues/{i}/responses", headers=as_json, content=json.dumps(
        {"body": ODD, "status": "considering", "department": "<b>課</b>"}))
    assert answered.status_code == 201, answered.text
    slug = theme["slug"]
    page = await client.get(f"/themes/{slug}")
    soup = html(page)
    assert soup.select("main script") == [] and soup.select("main img") == [] and soup.select("main b") == []
    text = soup.select_one(".opinion__text")
    assert text.select("br"), "a line break in an opinion shows as a line break"
    assert "<script>alert('x')</script>" in text.get_text() and "\u0000" not in page.text
    kept = (await client.get(f"/api/themes/{slug}")).json()["issues"][0]["opinions"][0]["text"]
    assert kept.startswith("<script>alert('x')</script>\n二行目") and "\u0007" not in kept and "\ud800" not in kept
    assert "\U0001F600" in kept and "\u202e" in kept
    feed = feedparser.parse((await client.get(f"/themes/{slug}/feed.atom")).content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries[0].title.endswith("<img src=x onerror=alert(1)>")
    rows = list(csv.reader(io.StringIO((await client.get(f"/themes/{slug}/export.csv")).content.decode("utf-8-sig"))))
    assert rows[1][-1] == kept and rows[2][7] == "<b>課</b>"


async def test_the_atom_feed_has_an_entry_per_published_response_read_by_feedparser(client, db):
    saku, theme, ids = await story(client, db)
    answer = await client.get(f"/themes/{theme['slug']}/feed.atom", headers={"Accept-Language": "ja"})
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert not feed.bozo and feed.version == "atom10"
    assert feed.feed.title == "公共交通の見直し"
    assert feed.feed.link == f"http://testserver.local/themes/{theme['slug']}"
    assert len(feed.entries) == 3, "three published responses, the draft left out"
    titles = [e.title for e in feed.entries]
    assert "反映: バスの本数をどうするか" in titles and "継続: 乗合タクシーを導入するか" in titles
    assert len({e.id for e in feed.entries}) == 3
    adopted = next(e for e in feed.entries if e.title.startswith("反映"))
    assert "平日の朝夕に2便を増やします。" in adopted.content[0].value and "交通政策課" in adopted.content[0].value
    assert adopted.link.endswith(f"#issue-{ids['本数']}")
    page = html(await client.get(f"/themes/{theme['slug']}"))
    assert page.select_one("link[rel=alternate][type='application/atom+xml']")["href"].endswith("/feed.atom")


async def test_the_csv_is_open_data_with_a_bom_read_back_by_csv(client, db):
    saku, theme, ids = await story(client, db)
    answer = await client.get(f"/themes/{theme['slug']}/export.csv")
    assert answer.content.startswith("\ufeff".encode()) and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    mine = [r for r in rows if r["issue_id"] == str(ids["本数"])]
    assert [(r["entry"], r["source_or_status"]) for r in mine] == [
        ("opinion", "board"), ("opinion", "paper"), ("response", "considering"), ("response", "adopted")]
    assert {r["issue_status"] for r in mine} == {"adopted"}
    assert mine[2]["department"] == "交通政策課" and mine[2]["session_id"] == str(saku.sessions[1])
    assert len([r for r in rows if r["entry"] == "response"]) == 3


async def test_sessions_outcomes_and_registrants_link_to_the_theme(client, db):
    saku, theme, _ids = await story(client, db)
    page = html(await client.get(f"/sessions/{saku.sessions[2]}"))
    assert page.select_one(f".theme-link a[href='/themes/{theme['slug']}']")
    registered = await client.post(f"/api/sessions/{saku.sessions[2]}/registrations",
                                   json={"name": "佐久 花子", "email": "hanako@example.jp", "mode": "in_person"})
    assert registered.status_code == 201, registered.text
    own = html(await client.get(f"/r/{registered.json()['token']}"))
    assert own.select_one(f".theme-link a[href='/themes/{theme['slug']}']")
    lone = await make_session(db, saku.account.org_id, title="テーマのない会", starts_at=next_saturday(weeks=4),
                              format="online", online_url="https://meet.example.jp/x", capacity_online=10)
    assert html(await client.get(f"/sessions/{lone}")).select_one(".theme-link") is None


async def test_an_integration_adds_opinions_from_evaluations(client, db):
    from ledger import store, themes

    saku = await city(db)
    made = await theme_with_sessions(client, saku)
    theme = await store.get_theme(db, made["id"])
    texts = [("q5:1", "会場が寒かった"), ("q5:2", "託児があって助かった")]
    assert await themes.add_evaluation_texts(db, theme, 7, texts, session_id=saku.sessions[0]) == 2
    assert await themes.add_evaluation_texts(db, theme, 7, texts, session_id=saku.sessions[0]) == 0, "sent once"
    kept = await store.theme_opinions(db, theme.id)
    assert [(o.source, o.text) for o in kept] == [("evaluation", "会場が寒かった"), ("evaluation", "託児があって助かった")]
    via_api = await opinion(client, saku, made["id"], "アンケート自由記述", source="evaluation")
    assert via_api
