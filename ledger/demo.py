"""A demo theme (論点整理) for `taiwa serve --demo`: Kanazawa's review of public transport, with the
opinions residents gave by paper, mail, phone and public comment, four issues, and responses that
change status over the weeks before the briefing — the public page reads as the story of the debate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledger import store
from ledger.models import OpinionInput, ResponseInput
from ledger.themes import today
from sessions.timestamps import now_utc

SLUG = "koukyou-koutsuu"
OPINIONS = [
    ("バスの本数が朝夕だけでも増えると通勤に使える", "paper", 52), ("病院へ行く便が午前中に1本しかない", "phone", 50),
    ("乗り換えの時刻が合わず30分以上待つことがある", "mail", 47), ("免許を返納した後の買い物が心配です", "phone", 45),
    ("通学の時間帯に満員で乗れない日がある", "public_comment", 40), ("予約制の乗合タクシーを試してほしい", "paper", 38),
    ("バス停に屋根とベンチがほしい（高齢の母が立って待っている）", "mail", 35), ("時刻表の文字が小さく読めない", "paper", 30),
    ("やさしい日本語や英語の案内もほしい", "public_comment", 28), ("夜9時以降の便があれば外食に出かけられる", "mail", 21),
]
ISSUES = [("バスの本数と時間帯をどうするか", [0, 4, 9]), ("通院・買い物の移動手段をどう確保するか", [1, 3, 5]),
          ("乗り継ぎをどう改善するか", [2]), ("バス停と案内をどう分かりやすくするか", [6, 7, 8])]
# (issue, days ago, status, response)
RESPONSES = [
    (0, 33, "considering", "来年春のダイヤ改正に合わせ、朝夕の増便を運行事業者と協議します。"),
    (1, 31, "considering", "通院時間帯の便について、医療機関と利用状況を調べます。"),
    (3, 26, "partly_adopted", "主要なバス停の時刻表を大きな文字に替えます。屋根の設置は道路管理者と協議中です。"),
    (1, 14, "continuing", "予約制乗合タクシーの実証運行を2地区で始めます。結果を説明会で報告します。"),
    (0, 7, "adopted", "平日の朝7時台と夕方6時台にそれぞれ2便を増やします（来年4月から）。"),
]


async def seed_demo_theme(db: Any) -> bool:
    """Create the demo theme once, under the organization of the public-transport briefing (its sessions
    tagged 公共交通 join the theme); False when it exists or there is no such session."""
    if await store.slug_taken(db, SLUG):
        return False
    row = await db.fetch_one("select id, org_id from sessions where title like ? order by starts_at limit 1",
                             ("%公共交通%",))
    if row is None:
        return False
    now, day = now_utc(), today()
    async with db.transaction() as conn:
        theme_id = await store.create_theme(
            conn, row["org_id"], slug=SLUG, title="これからの公共交通", published=True, now=now - timedelta(days=60),
            description="バス路線の見直しについて、市民の皆さんからいただいた意見と、それに対する市の考え方を時系列で"
                        "公開しています。意見は説明会のほか、紙・メール・電話・パブリックコメントで受け付けています。")
        await store.set_session_theme(conn, row["id"], theme_id)
        opinion_ids = [await store.add_opinion(conn, theme_id, OpinionInput(
            text=text, source=source, received_on=day - timedelta(days=ago)), origin=None, now=now)
            for text, source, ago in OPINIONS]
        issue_ids = []
        for title, members in ISSUES:
            issue_id = await store.create_issue(conn, theme_id, title, now=now - timedelta(days=34))
            await store.link_opinions(conn, issue_id, [opinion_ids[i] for i in members])
            issue_ids.append(issue_id)
        for issue, ago, status, body in RESPONSES:
            await store.add_response(conn, issue_ids[issue], ResponseInput(body=body, status=status,
                                                                           department="交通政策課"),
                                     author_id=None, now=now - timedelta(days=ago))
        await store.add_response(conn, issue_ids[2], ResponseInput(
            body="（下書き）乗り継ぎ時刻の見直し案を作成中です。", status="considering", department="交通政策課",
            publish=False), author_id=None, now=now)
    return True
