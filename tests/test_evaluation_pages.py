"""Evaluation pages through the in-process client: the organizer attaches the standard evaluation with
one click, adds questions, sets the closing date, enters paper questionnaires, reads results as SVG
charts with tables, publishes chosen free text, downloads CSV, sees trends across a series and the
projector views; residents answer at /e/{code} and from /r/{token}; who may reach what."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any


from sessions.models import Recurrence
from tests.evaluation_helpers import answer, ended_session, move_session, now, set_evaluation_times
from tests.harness import csrf_from, html, login, make_account, next_saturday, post_form
from tests.registration_helpers import form_data, settings, text_of  # noqa: F401 - settings: a fixture

SVG = "{http://www.w3.org/2000/svg}"


async def signed_in(client: Any, world: Any) -> None:
    page = await login(client, world.organizer.email)
    assert page.status_code == 200


def page_of(world: Any, rest: str = "") -> str:
    return f"/organize/sessions/{world.session_id}/evaluation{rest}"


async def test_an_organizer_attaches_the_standard_evaluation_with_one_click_and_adds_a_question(client, db):
    world = await ended_session(client, db, people=0, attach=False)
    await signed_in(client, world)
    session_page = await client.get(f"/organize/sessions/{world.session_id}")
    assert html(session_page).select_one(f"a[href='{page_of(world)}']") is not None
    empty = await client.get(page_of(world))
    button = html(empty).select_one(f"form[action='{page_of(world)}'] button")
    assert text_of(button) == "標準のアンケートを付ける"
    attached = await post_form(client, page_of(world), None, {})
    assert attached.status_code == 200 and attached.url.path == page_of(world)
    questions = [text_of(li) for li in html(attached).select("ol.evaluation-questions > li")]
    assert len(questions) == 8 and questions[0].startswith("全体として、今日の対話の場に満足した")
    assert "配慮を申し込んだ人だけにたずねます" in questions[3]
    added = await post_form(client, page_of(world), page_of(world, "/questions"),
                            {"text": "次に取り上げてほしいテーマ", "type": "multiple_choice", "options": "防災\n子育て\n交通"})
    items = html(added).select("ol.evaluation-questions > li")
    assert len(items) == 9 and [text_of(li) for li in items[-1].select("li")] == ["防災", "子育て", "交通"]
    bad = await post_form(client, page_of(world), page_of(world, "/questions"),
                          {"text": "色", "type": "single_choice", "options": "赤"})
    assert bad.status_code == 422 and "異なる選択肢を2〜20個入力してください。" in text_of(html(bad).select_one(".error-summary"))
    again = await post_form(client, page_of(world), page_of(world), {})
    assert again.status_code == 409


async def test_the_closing_date_is_set_in_the_sessions_time_and_closes_the_room_form(client, db):
    world = await ended_session(client, db, people=0)
    await signed_in(client, world)
    local = (now() + timedelta(hours=9) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")  # Tokyo, 10 min ago
    saved = await post_form(client, page_of(world), page_of(world, "/closing"), {"closes_at": local})
    assert saved.status_code == 200
    assert html(saved).select_one("#f-closes_at")["value"] == local
    room = await client.get(f"/e/{world.evaluation['code']}")
    assert "このアンケートは締め切りました" in text_of(html(room).select_one("main")) and not html(room).select("form.evaluation-form")
    bad = await post_form(client, page_of(world), page_of(world, "/closing"), {"closes_at": "明日"})
    assert bad.status_code == 422 and html(bad).select_one("#f-closes_at[aria-invalid='true']") is not None


async def test_anyone_in_the_room_answers_the_form_and_bad_values_show_messages(client, db):
    world = await ended_session(client, db, people=0)
    code = world.evaluation["code"]
    form_page = await client.get(f"/e/{code}")
    form = html(form_page).select_one("form.evaluation-form")
    legends = [text_of(legend) for legend in form.select("legend")]
    assert "全体として、今日の対話の場に満足した" in legends
    assert "今日利用した方のみお答えください。" in text_of(form)  # the room sees the conditional questions, marked
    data = {**form_data(form), f"q{world.qid('satisfaction')}": "5", f"q{world.qid('good_points')}": "若い人の声が聞けた",
            f"q{world.qid('何で知りましたか')}": [str(world.option("何で知りましたか", "SNS")),
                                                str(world.option("何で知りましたか", "町内会"))]}
    sent = await client.post(f"/e/{code}", data=data)
    assert sent.status_code == 200 and sent.url.path == f"/e/{code}/thanks" and "ご回答ありがとうございました" in sent.text
    bad = await client.post(f"/e/{code}", data={**form_data(form), f"q{world.qid('satisfaction')}": "7"})
    assert bad.status_code == 422
    assert text_of(html(bad).select_one(f"#err-q{world.qid('satisfaction')}")).endswith("1から5の中から選んでください。")
    nothing = await client.post(f"/e/{code}", data=form_data(form))
    assert nothing.status_code == 422 and "1つ以上の質問に答えてください。" in nothing.text
    results = (await client.get(f"/api/evaluations/{world.evaluation['id']}/results", headers=world.auth)).json()
    multiple = next(q for q in results["questions"] if q["text"] == "何で知りましたか")
    assert results["responses"] == 1 and sorted(multiple["counts"].values()) == [0, 1, 1]
    assert (await client.get("/e/nosuchcode")).status_code == 404


async def test_a_registrant_answers_from_their_page_once_and_sees_only_their_questions(client, db):
    world = await ended_session(client, db, people=3)
    token = world.tokens["person2@example.jp"]
    own = await client.get(f"/r/{token}")
    assert html(own).select_one(f"a[href='/r/{token}/evaluation']") is not None
    form_page = await client.get(f"/r/{token}/evaluation")
    text = text_of(html(form_page).select_one("form.evaluation-form"))
    assert "申し込んだ配慮" not in text and "託児を安心して" not in text
    data = {**form_data(html(form_page).select_one("form.evaluation-form")), f"q{world.qid('satisfaction')}": "4"}
    assert (await client.post(f"/r/{token}/evaluation", data=data)).url.path == f"/r/{token}/evaluation/thanks"
    again = await client.post(f"/r/{token}/evaluation", data=data)
    assert again.status_code == 409 and "回答済み" in again.text
    shown = await client.get(f"/r/{token}/evaluation")
    assert "回答済み" in shown.text and not html(shown).select("form.evaluation-form")
    signer = await client.get(f"/r/{world.tokens['person0@example.jp']}/evaluation")
    assert "申し込んだ配慮（手話通訳・要約筆記など）は十分だった" in signer.text


async def test_staff_enter_paper_questionnaires_with_the_support_used(client, db):
    world = await ended_session(client, db, people=0)
    await signed_in(client, world)
    paper = await client.get(page_of(world, "/paper"))
    form = html(paper).select_one("form.evaluation-form")
    assert form is not None and form.select_one("input[name=used_childcare]") is not None
    data = {**form_data(form), f"q{world.qid('satisfaction')}": "3", "used_childcare": "1"}
    saved = await client.post(page_of(world, "/paper"), data=data)
    assert saved.url.path == page_of(world, "/paper") and "保存しました。次のアンケートを入力してください。" in saved.text
    assert "これまでに入力したアンケート：1件" in saved.text
    row = await db.fetch_one("select source, used_childcare, used_accommodation from evaluation_responses")
    assert tuple(row) == ("paper", 1, 0)


async def fill(client: Any, world: Any, values: list[int], texts: list[str]) -> None:
    sat, good = world.qid("satisfaction"), world.qid("good_points")
    for n, value in enumerate(values):
        answers: dict[str, Any] = {sat: value}
        if n < len(texts):
            answers[good] = texts[n]
        assert (await answer(client, world, answers)).status_code == 201


async def test_results_page_draws_each_question_as_an_svg_chart_with_a_table(client, db):
    world = await ended_session(client, db, people=4)
    await fill(client, world, [5, 4, 4, 2], ["説明が丁寧", "<script>alert(1)</script>"])
    await signed_in(client, world)
    page = await client.get(page_of(world, "/results"))
    assert page.status_code == 200
    doc = html(page)
    assert [text_of(dd) for dd in doc.select(".evaluation-summary dd")][:1] == ["4"]
    assert "100%" in text_of(doc.select_one(".evaluation-summary"))  # 4 answers of 4 confirmed registrants
    section = doc.select_one(f"#rq-{world.qid('satisfaction')}").find_parent("section")
    svg = ET.fromstring(str(section.select_one("svg")))
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == "全体として、今日の対話の場に満足した"
    bars = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert bars == [0, 105.0, 0, 210.0, 105.0]  # 1:0 2:1 3:0 4:2 5:1, the longest bar the most common
    table = section.select_one("table")
    assert [[text_of(c) for c in row.select("th, td")] for row in table.select("tbody tr")][3] == ["4 ややそう思う", "2", "50.0"]
    assert "平均 3.75（5点満点）" in text_of(table.select_one("caption"))
    texts = {text_of(label) for label in doc.select(".text-choices label")}
    assert texts == {"説明が丁寧", "<script>alert(1)</script>"}
    assert "<script>alert(1)" not in page.text  # escaped
    assert "回答者が5人未満のため表示しません" in text_of(doc.select_one("#breakdown-title").find_parent("section"))


async def test_chosen_free_text_is_published_on_the_outcome_and_the_rest_stays_private(client, db):
    world = await ended_session(client, db, people=0)
    await fill(client, world, [5, 3], ["会場が明るかった", "山田課長の説明が一方的"])
    assert (await client.get(f"/sessions/{world.session_id}/evaluation")).status_code == 404  # not yet
    await signed_in(client, world)
    page = await client.get(page_of(world, "/results"))
    form = html(page).select_one(f"form[action='{page_of(world, '/publish')}']")
    chosen = next(box["value"] for box in form.select("input[name=text]")
                  if text_of(form.select_one(f"label[for='{box['id']}']")) == "会場が明るかった")
    published = await client.post(page_of(world, "/publish"), data={
        "_csrf_token": csrf_from(page), "publish": "1", "text": [chosen, "999999", "abc"]})
    assert published.status_code == 200 and "公開しました" in published.text
    public = await client.get(f"/sessions/{world.session_id}/evaluation")
    assert public.status_code == 200
    body = text_of(html(public).select_one("main"))
    assert "会場が明るかった" in body and "山田課長" not in body and "配慮・託児を利用した回答者" not in body
    assert html(public).select("svg.evaluation-chart[role=img]") and "平均 4.00（5点満点）" in body
    detail = await client.get(f"/sessions/{world.session_id}")
    assert html(detail).select_one(f"a[href='/sessions/{world.session_id}/evaluation']") is not None
    withdrawn = await client.post(page_of(world, "/publish"), data={"_csrf_token": csrf_from(page), "publish": "0"})
    assert withdrawn.status_code == 200
    assert (await client.get(f"/sessions/{world.session_id}/evaluation")).status_code == 404


async def test_csv_is_utf8_with_bom_and_reads_back_with_the_csv_module(client, db):
    world = await ended_session(client, db, people=0)
    await fill(client, world, [5, 4], ["=HYPERLINK(\"http://evil\")", "駐車場,広く"])
    await signed_in(client, world)
    download = await client.get(page_of(world, ".csv"))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.content.startswith(b"\xef\xbb\xbf") and "no-store" in download.headers["cache-control"]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == ["質問", "種類", "回答", "件数", "%", "平均"]
    satisfaction = [r for r in rows if r[0] == "全体として、今日の対話の場に満足した"]
    assert [r[3] for r in satisfaction] == ["0", "0", "0", "1", "1"] and satisfaction[4][5] == "4.5"
    texts = [r[2] for r in rows if r[1] == "text"]
    assert "駐車場,広く" in texts and "'=HYPERLINK(\"http://evil\")" in texts  # no formula runs in Excel


async def test_trends_compare_the_means_of_the_sessions_of_a_series(client, db):
    organizer = await make_account(db, "staff@kanazawa.example")
    from tests.harness import make_session, make_venue  # a weekly series of three sessions
    from sessions import store
    venue = await make_venue(db, organizer.org_id)
    first = await make_session(db, organizer.org_id, venue, starts_at=next_saturday(weeks=2),
                               recurrence=Recurrence(freq="weekly", count=3))
    series_id = (await store.get_session(db, first)).series_id
    sessions = [s.id for s in await store.series_occurrences(db, series_id)]
    assert len(sessions) == 3
    await login(client, "staff@kanazawa.example")
    for index, session_id in enumerate(sessions[:2]):
        attached = await post_form(client, f"/organize/sessions/{session_id}/evaluation", None, {})
        assert attached.status_code == 200
        evaluation = await db.fetch_one("select id from evaluations where session_id = ?", (session_id,))
        question = await db.fetch_one("select id from evaluation_questions where evaluation_id = ? and "
                                      "bank_key = 'satisfaction'", (evaluation[0],))
        for value in ([3, 4] if index == 0 else [5, 4, 5]):
            response = await client.post(f"/api/evaluations/{evaluation[0]}/responses",
                                         json={"answers": {str(question[0]): value}})
            assert response.status_code == 201
    page = await client.get(f"/organize/sessions/{sessions[1]}/evaluation/results")
    section = html(page).select_one("#trend-title").find_parent("section")
    rows = [[text_of(c) for c in row.select("th, td")] for row in section.select("tbody tr")]
    assert [r[1:3] for r in rows] == [["2", "3.50"], ["3", "4.67"]]
    svg = ET.fromstring(str(section.select_one("svg")))
    widths = [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]
    assert svg.get("role") == "img" and widths == [175.0, 233.5]  # 3.50 and 4.67 of 5


async def test_the_projector_views_show_counts_and_the_qr_code_without_site_chrome(client, db):
    world = await ended_session(client, db, people=0)
    await fill(client, world, [5, 4, 4], ["秘密の感想"])
    await signed_in(client, world)
    setup = await client.get(page_of(world))
    assert html(setup).select_one(f"a[href='{page_of(world, '/qr')}']") is not None
    live = await client.get(page_of(world, "/live"))
    doc = html(live)
    assert doc.select_one(".site-header") is None and doc.select_one("body.projector") is not None
    region = doc.select_one("#evaluation-live")
    assert region["hx-trigger"] == "every 5s" and region["hx-get"].endswith("/live?fragment=1")
    assert "回答3件" in text_of(region).replace(" ", "") and "秘密の感想" not in live.text
    fragment = await client.get(page_of(world, "/live?fragment=1"))
    assert fragment.text.lstrip().startswith("<div id=\"evaluation-live\"") and "<html" not in fragment.text
    qr = await client.get(page_of(world, "/qr"))
    qr_doc = html(qr)
    assert qr_doc.select_one(".site-header") is None
    svg = ET.fromstring(str(qr_doc.select_one(".evaluation-qr svg")))
    assert svg.find(f"{SVG}title").text == "アンケートへのQRコード"
    assert world.evaluation["url"] in text_of(qr_doc.select_one(".evaluation-url"))
    await set_evaluation_times(db, world.evaluation["id"], closes_at=now() - timedelta(minutes=1))
    closed_live = await client.get(page_of(world, "/live"))
    assert html(closed_live).select_one(".evaluation-qr") is None  # no QR to a closed evaluation


async def test_the_qr_partial_renders_for_the_projector_stage(client, db, app):
    from server.public.evaluation import evaluation_qr

    world = await ended_session(client, db, people=0)
    context = await evaluation_qr(db, world.session_id, "http://testserver.local")
    assert context is not None and context["evaluation_url"] == world.evaluation["url"]
    template = app.litestar.template_engine.get_template("partials/_evaluation_qr.html")
    rendered = html(type("Page", (), {"text": template.render(**context)})())
    assert rendered.select_one("section.evaluation-qr svg") is not None
    assert await evaluation_qr(db, 99999, "http://x") is None


async def test_who_may_reach_the_evaluation_pages(client, db):
    world = await ended_session(client, db, people=1)
    await make_account(db, "staff@toyama.example", org="toyama")
    await make_account(db, "fac@kanazawa.example", role="facilitator")
    staff_paths = ["", "/results", "/paper", "/live", "/qr", ".csv"]
    for path in staff_paths:  # nobody signed in: to the sign-in page
        answer_ = await client.get(page_of(world, path), follow_redirects=False)
        assert answer_.status_code == 303 and answer_.headers["location"].startswith("/organize/login"), path
    await login(client, "staff@toyama.example")
    for path in staff_paths:
        assert (await client.get(page_of(world, path))).status_code == 404, path
    page = await client.get("/organize")
    for path in ("", "/questions", "/closing", "/publish", "/paper", "/questions/1/delete"):
        refused = await client.post(page_of(world, path), data={"_csrf_token": csrf_from(page), "publish": "1"})
        assert refused.status_code == 404, path
    await client.post("/organize/logout", data={"_csrf_token": csrf_from(page)})
    await login(client, "fac@kanazawa.example")
    for path in staff_paths:
        assert (await client.get(page_of(world, path))).status_code == 403, path
    assert (await db.fetch_one("select results_published from evaluations"))[0] == 0
    # a registrant of another session cannot reach this one's form, nor any results
    other = await ended_session(client, db, email="o@toyama.example", org="toyama", people=1)
    assert (await client.get(f"/r/{other.tokens['person0@example.jp']}/evaluation")).status_code == 200
    assert (await client.get("/r/" + "A" * 43 + "/evaluation")).status_code == 404
    assert (await client.get(f"/sessions/{world.session_id}/evaluation")).status_code == 404


async def test_a_session_that_has_not_begun_shows_no_evaluation_link_to_registrants(client, db):
    world = await ended_session(client, db, people=1)
    await move_session(db, world.session_id, ended_hours_ago=-30)
    own = await client.get(f"/r/{world.tokens['person0@example.jp']}")
    assert "/evaluation" not in "".join(a["href"] for a in html(own).select("main a"))
