"""The ledger's staff side (論点整理): building a theme with forms that work without JavaScript, the board
step that sends notes, clusters and questions to the theme without retyping (and without names), the
two views of what is owed, and other organizations' ids refused."""

from __future__ import annotations

from datetime import timedelta

from realtime.board import Actor
from server.auth import accounts
from sessions.timestamps import now_utc, to_db
from tests.board_http import act, new_board, signed_in_organizer
from tests.harness import (
    csrf_from,
    field_errors,
    html,
    login,
    make_account,
    next_saturday,
)
from tests.ledger_helpers import city, issue, opinion, respond, theme_with_sessions


async def form_post(client, page_url: str, action: str, data: dict) -> object:
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"_csrf_token": csrf_from(page), **data})


async def test_an_organizer_builds_a_theme_with_forms_and_publishes_a_draft_response(client, db):
    account, session_id = await signed_in_organizer(client, db, email="staff@saku.example", org="saku")
    made = await form_post(client, "/organize/themes", "/organize/themes",
                           {"title": "公共交通の見直し", "slug": "bus", "published": "1", "description": "バス"})
    assert made.status_code == 200 and made.url.path.startswith("/organize/themes/")
    theme_url = made.url.path
    await form_post(client, theme_url, f"{theme_url}/sessions", {"session": str(session_id)})
    assert html(await client.get(theme_url)).select_one(f"#s-{session_id}").has_attr("checked")
    yesterday = (now_utc() - timedelta(days=1)).date().isoformat()
    added = await form_post(client, theme_url, f"{theme_url}/opinions",
                            {"text": "電話で：夜の便がほしい\n帰りが遅い", "source": "phone", "received_on": yesterday})
    assert added.status_code == 200 and "電話で：夜の便がほしい" in added.text
    empty = await form_post(client, theme_url, f"{theme_url}/opinions", {"text": " ", "source": "phone"})
    assert empty.status_code == 422 and field_errors(empty)
    future = await form_post(client, theme_url, f"{theme_url}/opinions",
                             {"text": "x", "source": "paper", "received_on": "2999-12-31"})
    assert future.status_code == 422 and any("未来" in e for e in field_errors(future))
    opinion_id = html(await client.get(theme_url)).select_one("input[name=opinion]")["value"]
    no_title = await form_post(client, theme_url, f"{theme_url}/issues", {"opinion": opinion_id, "issue_title": ""})
    assert no_title.status_code == 422 and html(no_title).select_one(f"#op-{opinion_id}").has_attr("checked")
    raised = await form_post(client, theme_url, f"{theme_url}/issues", {"opinion": opinion_id, "issue_title": "夜の便"})
    assert raised.url.path.startswith("/organize/issues/")
    issue_url = raised.url.path
    drafted = await form_post(client, issue_url, f"{issue_url}/responses",
                              {"body": "運行事業者と協議します。", "status": "considering", "department": "交通政策課",
                               "session_id": str(session_id)})
    assert "下書き" in html(drafted).select_one(".response").get_text()
    assert "運行事業者と協議します。" not in (await client.get("/themes/bus")).text
    publish = html(drafted).select_one(".response form")
    await client.post(publish["action"], data={"_csrf_token": csrf_from(drafted)})
    public = html(await client.get("/themes/bus"))
    assert "運行事業者と協議します。" in public.select_one(".response").get_text()
    assert "まちづくり対話" in public.select_one(".response .meta").get_text(), "the session where it was explained"
    assert [br for br in public.select(".opinion__text br")], "the phone note keeps its line break"


async def test_the_two_views_show_what_is_owed_before_the_next_session(client, db):
    saku = await city(db)
    await login(client, "staff@saku.example")
    theme = await theme_with_sessions(client, saku)
    ops = [await opinion(client, saku, theme["id"], f"意見{n}") for n in range(4)]
    await issue(client, saku, theme["id"], "まだ答えていない論点", [ops[0]])
    stale = await issue(client, saku, theme["id"], "前回より前に答えた論点", [ops[1]])
    fresh = await issue(client, saku, theme["id"], "前回の後に答えた論点", [ops[2]])
    planned = await issue(client, saku, theme["id"], "次回に説明する論点", [ops[3]])
    old = await respond(client, saku, stale, "検討します。", "considering")
    await respond(client, saku, fresh, "検討します。", "considering", publish=False)
    await respond(client, saku, planned, "次回説明します。", "considering", session_id=saku.sessions[2])
    long_ago = to_db(next_saturday(weeks=-10).astimezone())
    async with db.transaction() as conn:  # answered before the last session was held
        await conn.execute("update responses set created_at = ?, published_at = ? where id = ?", (long_ago, long_ago, old))
    unanswered = html(await client.get(f"/organize/themes/{theme['id']}/unanswered"))
    assert [a.get_text() for a in unanswered.select(".owed a")] == ["まだ答えていない論点"]
    due = html(await client.get(f"/organize/themes/{theme['id']}/due"))
    assert [a.get_text() for a in due.select(".owed a")] == ["前回より前に答えた論点"]
    assert "第3回 公共交通を考える対話" in due.select_one("main").get_text()


async def test_a_facilitator_sends_notes_clusters_and_questions_to_the_theme_without_names(app, client, db):
    account, session_id = await signed_in_organizer(client, db, email="staff@saku.example", org="saku")
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, account.id)
    headers = {"Authorization": f"Bearer {token}"}
    theme = (await client.post("/api/themes", json={"title": "駅前の将来", "slug": "ekimae"}, headers=headers)).json()
    board = await new_board(db, session_id, account.org_id)
    no_theme = html(await client.get(f"/boards/{board.id}/opinions"))
    assert no_theme.select_one("main form input[type=checkbox]") is None
    await client.patch(f"/api/sessions/{session_id}", json={"theme_id": theme["id"]}, headers=headers)
    yamada = Actor(id="p-yamada", name="山田 太郎")
    one = (await act(app, board.id, "note:add", yamada, zone="z1", text="駅前に広場を"))["note"]
    two = (await act(app, board.id, "note:add", yamada, zone="z1", text="ベンチがほしい"))["note"]
    rude = (await act(app, board.id, "note:add", yamada, zone="z2", text="消されたメモ"))["note"]
    await act(app, board.id, "note:hide", note=rude, hidden=True)
    await act(app, board.id, "group:set", note=one, title="居場所")
    state = await app.litestar.state.board_service.state(board.id)
    await act(app, board.id, "group:set", note=two, group=next(iter(state.groups)))
    asked = await act(app, board.id, "question:ask", yamada, text="駐輪場はどうなりますか")
    page = await client.get(f"/boards/{board.id}/opinions")
    boxes = html(page).select("main form input[type=checkbox]")
    assert "消されたメモ" not in page.text and "山田" not in page.text
    question = next(b for b in boxes if b["name"] == "question")
    group = next(b for b in boxes if b["name"] == "group")
    sent = await client.post(f"/boards/{board.id}/opinions", data={
        "_csrf_token": csrf_from(page), "group": group["value"], "note": [one, rude, "n999"],
        "question": question["value"]})
    assert "3" in html(sent).select_one("[role=status]").get_text()
    again = await client.post(f"/boards/{board.id}/opinions", data={
        "_csrf_token": csrf_from(sent), "group": group["value"], "note": one})
    assert "0" in html(again).select_one("[role=status]").get_text(), "sent once"
    kept = {(row["source"], row["text"], row["session_id"]) for row in await db.fetch_all(
        "select source, text, session_id from opinions where theme_id = ?", (theme["id"],))}
    assert kept == {("board", "居場所\n・駅前に広場を\n・ベンチがほしい", session_id), ("board", "駅前に広場を", session_id),
                    ("question", "駐輪場はどうなりますか", session_id)}
    stored = " ".join(str(v) for row in await db.fetch_all("select * from opinions") for v in tuple(row))
    assert "山田" not in stored and "p-yamada" not in stored, "personal details are never copied"
    assert asked
    facilitate = html(await client.get(f"/boards/{board.id}/facilitate"))
    assert facilitate.select_one(f"a[href='/boards/{board.id}/opinions']")


async def test_other_organizations_pages_and_boards_are_refused(app, client, db):
    saku = await city(db)
    theme = await theme_with_sessions(client, saku)
    o = await opinion(client, saku, theme["id"], "佐久の意見")
    i = await issue(client, saku, theme["id"], "佐久の論点", [o])
    draft = await respond(client, saku, i, "佐久の下書き", "considering", publish=False)
    board = await new_board(db, saku.sessions[0], saku.account.org_id)
    await make_account(db, "staff@ueda.example", org="ueda")
    await login(client, "staff@ueda.example")
    for url in (f"/organize/themes/{theme['id']}", f"/organize/themes/{theme['id']}/due",
                f"/organize/themes/{theme['id']}/unanswered", f"/organize/issues/{i}", f"/boards/{board.id}/opinions"):
        assert (await client.get(url)).status_code == 404, url
    token = csrf_from(await client.get("/organize/themes"))
    for url, data in ((f"/organize/themes/{theme['id']}/opinions", {"text": "x", "source": "paper"}),
                      (f"/organize/issues/{i}/responses", {"body": "x", "status": "done", "publish": "1"}),
                      (f"/organize/responses/{draft}/publish", {}),
                      (f"/organize/themes/{theme['id']}", {"title": "乗っ取り", "published": ""})):
        assert (await client.post(url, data={"_csrf_token": token, **data})).status_code == 404, url
    assert "佐久の下書き" not in (await client.get(f"/themes/{theme['slug']}")).text
    assert "佐久の論点" in (await client.get(f"/themes/{theme['slug']}")).text
    assert "佐久のテーマ" not in html(await client.get("/organize/themes")).get_text()
    await make_account(db, "fac@saku.example", role="facilitator", org="saku")
    client.cookies.clear()
    await login(client, "fac@saku.example")
    assert (await client.get(f"/organize/issues/{i}")).status_code == 403
