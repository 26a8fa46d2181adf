"""Realistic demo data for `taiwa serve --demo`: three organizations, their venues, sessions and accounts.

The organizations and wording follow the public 協働のまちづくり plans of Kanazawa, Saku and
Ichinoseki; the neighbourhood council, venues, addresses, phone numbers and people are invented.
Dates are relative to today (Asia/Tokyo), so the demo always has upcoming sessions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sessions import scheduling, store
from sessions.models import AccommodationOffer, ChildcareOffer, Recurrence, SessionInput, VenueInput

TZ = "Asia/Tokyo"
# add_account(conn, *, org_id, email, password, role, display_name) creates an account inside the
# seeding transaction, leaving an existing one with that email alone (accounts are the web shell's)
AddAccount = Callable[..., Awaitable[object]]
DEMO_PASSWORD = "taiwa-demo-2026"
DEMO_ACCOUNTS: tuple[dict[str, str], ...] = (
    {"email": "admin@taiwa.example", "role": "admin", "org": "kanazawa", "display_name": "Taiwa 管理者"},
    {"email": "organizer@kanazawa.example", "role": "organizer", "org": "kanazawa",
     "display_name": "北村 真理子（市民協働推進課）"},
    {"email": "organizer@saku.example", "role": "organizer", "org": "saku-support",
     "display_name": "小林 由美（市民活動サポートセンター）"},
    {"email": "organizer@ichinoseki.example", "role": "organizer", "org": "ichinoseki-kawabe",
     "display_name": "佐藤 浩（川辺地区地域協働体 事務局）"},
    {"email": "facilitator@saku.example", "role": "facilitator", "org": "saku-support",
     "display_name": "高橋 彩（ファシリテーター）"},
)

ORGS: dict[str, dict[str, str]] = {
    "kanazawa": {
        "name": "金沢市 市民協働推進課", "name_en": "Kanazawa City, Civic Collaboration Division",
        "contact_email": "kyodo@city.kanazawa.example", "contact_phone": "076-000-2081",
        "website": "https://www.city.kanazawa.example/kyodo/",
    },
    "saku-support": {
        "name": "佐久市市民活動サポートセンター", "name_en": "Saku Citizens' Activity Support Center",
        "contact_email": "info@saku-support.example", "contact_phone": "0267-00-1180",
        "website": "https://saku-support.example/",
    },
    "ichinoseki-kawabe": {
        "name": "一関市 川辺地区地域協働体",
        "name_en": "Kawabe District Neighbourhood Collaboration Council (Ichinoseki)",
        "contact_email": "jimukyoku@kawabe-kyodo.example", "contact_phone": "0191-00-2345",
        "website": "https://kawabe-kyodo.example/",
    },
}
CONTACT_NAMES = {
    "kanazawa": "市民協働推進課 北村",
    "saku-support": "市民活動サポートセンター 小林",
    "ichinoseki-kawabe": "川辺地区地域協働体 事務局 佐藤",
}

VENUES: dict[str, tuple[str, VenueInput]] = {
    "kanazawa-plaza": ("kanazawa", VenueInput(
        name="金沢市民協働プラザ 多目的ホール", name_en="Kanazawa Civic Collaboration Plaza, Multipurpose Hall",
        address="石川県金沢市広坂1丁目2番3号 3階", address_en="3F, 1-2-3 Hirosaka, Kanazawa, Ishikawa",
        capacity=200, features=["step_free", "elevator", "accessible_toilet", "hearing_loop", "nursing_room"],
        access_notes="香林坊バス停から徒歩5分。駐車場はありませんので公共交通機関をご利用ください。",
        access_notes_en="5 minutes on foot from the Korinbo bus stop. No parking; please come by public transport.",
    )),
    "kanazawa-ekinishi": ("kanazawa", VenueInput(
        name="駅西市民交流センター 研修室A", name_en="Ekinishi Community Center, Seminar Room A",
        address="石川県金沢市西念3丁目4番5号", address_en="3-4-5 Sainen, Kanazawa, Ishikawa",
        capacity=60, features=["step_free", "elevator", "accessible_toilet", "parking"],
        access_notes="金沢駅西口から徒歩10分。無料駐車場30台。",
        access_notes_en="10 minutes on foot from the west exit of Kanazawa Station. Free parking for 30 cars.",
    )),
    "saku-center": ("saku-support", VenueInput(
        name="佐久市市民活動サポートセンター 交流スペース",
        name_en="Saku Citizens' Activity Support Center, Meeting Space",
        address="長野県佐久市中込3丁目1番2号 1階", address_en="1F, 3-1-2 Nakagomi, Saku, Nagano",
        capacity=40, features=["step_free", "accessible_toilet", "nursing_room", "parking"],
        access_notes="JR小海線 中込駅から徒歩7分。授乳室とおむつ替え台があります。",
        access_notes_en="7 minutes on foot from Nakagomi Station (JR Koumi Line). Nursing room and changing table.",
    )),
    "sakudaira-hall": ("saku-support", VenueInput(
        name="佐久平交流センター 大会議室", name_en="Sakudaira Exchange Center, Main Conference Room",
        address="長野県佐久市佐久平駅南11番10号", address_en="11-10 Sakudaira-eki-minami, Saku, Nagano",
        capacity=120, features=["step_free", "elevator", "accessible_toilet", "hearing_loop", "parking"],
        access_notes="佐久平駅南口から徒歩3分。",
        access_notes_en="3 minutes on foot from the south exit of Sakudaira Station.",
    )),
    "kawabe-center": ("ichinoseki-kawabe", VenueInput(
        name="川辺市民センター 大ホール", name_en="Kawabe Community Center, Main Hall",
        address="岩手県一関市川辺字本町25番地", address_en="25 Hon-machi, Kawabe, Ichinoseki, Iwate",
        capacity=80, features=["step_free", "accessible_toilet", "parking"],
        access_notes="市民センター前バス停すぐ。駐車場50台。",
        access_notes_en="Next to the Shimin Center-mae bus stop. Parking for 50 cars.",
    )),
    "kawabe-washitsu": ("ichinoseki-kawabe", VenueInput(
        name="川辺市民センター 研修室（和室）", name_en="Kawabe Community Center, Tatami Room",
        address="岩手県一関市川辺字本町25番地", address_en="25 Hon-machi, Kawabe, Ichinoseki, Iwate",
        capacity=30, features=["parking", "nursing_room"],
        access_notes="和室のため座卓ですが、椅子もご用意できます。",
        access_notes_en="Low tables on tatami; chairs are available on request.",
    )),
}

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def _new_year_holiday(day: date) -> bool:
    """年末年始 (28 December to 4 January), when city offices and community centers are closed."""
    return (day.month == 12 and day.day >= 28) or (day.month == 1 and day.day <= 4)


def _on(today: date, days: int, weekday: int | None = None, weeks: int = 1) -> date:
    """`days` from today, on the next `weekday` when one is given, pushed back a week at a time until
    none of `weeks` weekly occurrences falls in the new-year holidays."""
    day = today + timedelta(days=days)
    if weekday is not None:
        day += timedelta(days=(weekday - day.weekday()) % 7)
    while any(_new_year_holiday(day + timedelta(weeks=k)) for k in range(weeks)):
        day += timedelta(weeks=1)
    return day


def _nth(today: date, months_ahead: int, weekday: int, n: int) -> date:
    """The nth weekday (第n土曜日) of the month `months_ahead` after this one."""
    years, month = divmod(today.month - 1 + months_ahead, 12)
    return _on(date(today.year + years, month + 1, 1), 0, weekday) + timedelta(weeks=n - 1)


def _always(code: str, **extra: Any) -> AccommodationOffer:
    return AccommodationOffer(code=code, mode="always", **extra)  # type: ignore[arg-type]


def _on_request(code: str, **extra: Any) -> AccommodationOffer:
    return AccommodationOffer(code=code, mode="on_request", **extra)  # type: ignore[arg-type]


def _childcare(places: int, min_months: int = 6, max_months: int = 72) -> ChildcareOffer:
    return ChildcareOffer(places=places, min_age_months=min_months, max_age_months=max_months,
                          note="無料・要予約。保育士が別室でお預かりします。 / Free, book ahead; qualified childminders "
                               "in a separate room.")


def _weather_reason(day: date) -> str:
    weather = {6: "台風の接近", 7: "台風の接近", 8: "台風の接近", 9: "台風の接近", 10: "台風の接近",
               12: "大雪の予報", 1: "大雪の予報", 2: "大雪の予報", 3: "大雪の予報"}.get(day.month, "大雨の予報")
    return f"{weather}のため、安全を考慮して中止します。延期の日程は決まり次第お知らせします。"


def _sessions(today: date) -> list[dict[str, Any]]:
    """The demo sessions: organization, venue, day, (start, end) and the SessionInput fields."""
    forum_day = _on(today, 45, SUN)
    student_day = _on(today, 30, SAT)
    course_day = _on(today, 12, SAT, weeks=4)
    walk_day = _on(today, 26, SUN)
    return [
        # ---- 金沢市 市民協働推進課
        dict(
            org="kanazawa", venue="kanazawa-plaza", day=_on(today, 10, SAT), time=("10:00", "12:00"),
            title="対話の場「みんなでつくる 金沢の協働のまちづくり」",
            title_en="Dialogue session: building Kanazawa together through collaboration",
            description="次期協働推進計画づくりに向けて、市民・地域団体・市民活動団体・事業者・学生が同じテーブルで"
                        "語り合う対話の場です。「じぶんごと」「みんなごと」として地域の課題を出し合い、それぞれの"
                        "「できること」を共有します。託児と手話通訳（要申込）がありますので、子育て中の方や"
                        "聴覚に障害のある方もお気軽にご参加ください。",
            description_en="A dialogue session for the next collaboration plan, where residents, neighbourhood "
                           "associations, civic groups, businesses and students sit at the same table. We share "
                           "the issues we see in our community and what each of us can contribute. Childcare and "
                           "sign language interpretation (on request) are available, so parents of small children "
                           "and Deaf participants are very welcome.",
            kind="dialogue", capacity_in_person=60, languages=["ja", "jsl"],
            themes=["協働のまちづくり", "対話の場", "協働推進計画", "子育て世代"],
            themes_en=["community building through collaboration", "dialogue sessions", "collaboration plan", "parents"],
            facilitators=["北村 真理子", "森田 健一"], childcare=_childcare(10),
            accommodations=[_on_request("sign_language"), _always("wheelchair_space", capacity=4),
                            _always("hearing_loop")],
        ),
        dict(
            org="kanazawa", venue=None, day=_on(today, 17, WED), time=("19:30", "21:00"),
            title="オンライン意見交換会「働く子育て世代の声を市政へ」",
            title_en="Online opinion exchange: bringing working parents' voices into city policy",
            description="平日の昼間は参加しにくい、子育て中の働く世代のための夜のオンライン意見交換会です。"
                        "子育て支援や地域活動への参加のしやすさについて、小グループで率直にお話しください。"
                        "カメラはオフでも構いません。いただいたご意見は論点整理として市の回答とあわせて公開します。",
            description_en="An evening online opinion exchange for working parents who cannot attend daytime "
                           "meetings. In small groups we talk openly about childcare support and how to make "
                           "community activities easier to join; cameras may stay off. Your opinions will be "
                           "published in the issues and responses log together with the city's answers.",
            kind="briefing", format="online", online_url="https://meet.example.jp/kanazawa-kosodate-yoru",
            capacity_online=100, themes=["子育て支援", "働く世代", "オンライン参加", "論点整理"],
            themes_en=["support for parents", "working people", "taking part online", "issues and responses"],
            facilitators=["森田 健一"], accommodations=[_always("easy_japanese")],
        ),
        dict(
            org="kanazawa", venue="kanazawa-plaza", day=forum_day, time=("13:30", "16:30"),
            title="市民フォーラム「あらゆる市民がつながるパートナーシップによるまちづくり」",
            title_en="Citizens' forum: community building through partnerships that connect everyone",
            description="協働推進計画の取組を振り返り、評価と今後の方向性を市民の皆さんと共有する市民フォーラムです。"
                        "第1部は町会・市民活動団体・企業による事例発表、第2部はパネルディスカッションです。"
                        "会場とオンラインのハイブリッドで開催し、要約筆記と手話通訳、磁気ループを用意します。",
            description_en="A citizens' forum that looks back on the collaboration plan and shares its evaluation "
                           "and next steps with residents. Part one presents case studies by neighbourhood "
                           "associations, civic groups and companies; part two is a panel discussion. Held in the "
                           "hall and online, with captioning, sign language interpretation and a hearing loop.",
            kind="forum", format="hybrid", online_url="https://meet.example.jp/kanazawa-forum",
            capacity_in_person=180, capacity_online=300, languages=["ja", "jsl"],
            themes=["協働のまちづくり", "パートナーシップ", "評価", "公開"],
            themes_en=["community building through collaboration", "partnership", "evaluation", "open results"],
            facilitators=["北村 真理子", "山口 晴美"], childcare=_childcare(15, 12, 72),
            registration_opens_at=datetime.combine(today - timedelta(days=1), time(9, 0)),
            registration_closes_at=datetime.combine(forum_day - timedelta(days=3), time(17, 0)),
            accommodations=[_always("captioning", note="PC要約筆記をスクリーンに表示 / Typed captions on screen"),
                            _always("hearing_loop", capacity=10), _always("sign_language"),
                            _always("wheelchair_space", capacity=6), _on_request("braille_materials")],
        ),
        dict(
            org="kanazawa", venue="kanazawa-ekinishi", day=student_day, time=("13:00", "17:00"),
            title="学生と企業の協働ワークショップ",
            title_en="Students and businesses: a collaboration workshop",
            description="市内の大学生と、社会貢献活動に取り組む企業の担当者が混成チームをつくり、"
                        "地域課題の解決に向けた協働プロジェクトを考えるワークショップです。"
                        "SDGsの視点から、学生の発想と企業の資源を組み合わせたアイデアを発表します。",
            description_en="University students and staff of companies engaged in community contribution form "
                           "mixed teams to design collaborative projects on local issues. Looking through the lens "
                           "of the SDGs, each team presents an idea that combines students' creativity with "
                           "companies' resources.",
            kind="workshop", capacity_in_person=40, languages=["ja", "en"],
            themes=["学生", "事業者", "SDGs", "新たな担い手"], facilitators=["山口 晴美", "Daniel Moore"],
            registration_closes_at=datetime.combine(student_day - timedelta(days=5), time(17, 0)),
            accommodations=[_on_request("interpretation", language="English")],
        ),
        dict(
            org="kanazawa", venue="kanazawa-ekinishi", day=_on(today, 24, THU), time=("18:30", "20:30"),
            title="説明会・意見交換会「これからの公共交通を考える」",
            title_en="Briefing and opinion exchange: the future of public transport",
            description="バス路線の見直し案について担当課から説明し、利用者の皆さんと意見交換を行います。"
                        "通勤・通学、通院、買い物など日々の移動で困っていることをお聞かせください。"
                        "会場とオンラインの両方から参加でき、中国語通訳とやさしい日本語の資料を用意します。",
            description_en="The transport section presents its draft review of bus routes, followed by an opinion "
                           "exchange with riders. Tell us what makes commuting, school runs, hospital visits or "
                           "shopping trips difficult. Join in person or online; Chinese interpretation and easy "
                           "Japanese materials are provided.",
            kind="briefing", format="hybrid", online_url="https://meet.example.jp/kanazawa-kotsu",
            capacity_in_person=50, capacity_online=100, languages=["ja", "zh"],
            themes=["公共交通", "バス路線", "意見交換"], themes_en=["public transport", "bus routes", "opinion exchange"], facilitators=["森田 健一"],
            accommodations=[_always("interpretation", language="中文"), _always("easy_japanese")],
        ),
        dict(
            org="kanazawa", venue="kanazawa-plaza", day=_on(today, 60, SAT), time=("10:00", "12:30"),
            title="ワークショップ「観光と暮らしが調和するまち」",
            title_en="Workshop: a city where tourism and daily life go together",
            description="観光客の増加による暮らしへの影響と、観光がもたらす地域の魅力の両面について、"
                        "住民・商店街・観光事業者が一緒に考えます。付箋を使ったグループワークで論点を整理し、"
                        "結果は市のウェブサイトで公開します。",
            description_en="Residents, shopping streets and tourism businesses look together at how growing "
                           "tourism affects daily life and what it brings to the community. Group work with "
                           "sticky notes helps us sort out the issues, and the results will be published on the "
                           "city's website.",
            kind="workshop", capacity_in_person=48, languages=["ja", "en"],
            themes=["観光", "まちなか", "暮らし", "公開"], facilitators=["山口 晴美"], childcare=_childcare(8),
            accommodations=[_always("interpretation", language="English"), _on_request("sign_language")],
        ),
        dict(
            org="kanazawa", venue="kanazawa-ekinishi", day=_on(today, 100, TUE), time=("18:30", "20:00"),
            title="市民ワークショップ 論点整理の報告会（準備中）",
            title_en="Report on the issues and responses log of the citizens' workshops (in preparation)",
            description="これまでの対話の場やワークショップでいただいたご意見と、それに対する市の考え方を"
                        "論点整理としてご報告します。オンライン配信のURLは調整中です。",
            description_en="We report on the opinions received at past dialogue sessions and workshops and the "
                           "city's responses, as collected in the issues and responses log. The streaming link is "
                           "still being arranged.",
            kind="briefing", format="hybrid", status="draft", capacity_in_person=50,
            themes=["論点整理", "公開", "評価"], facilitators=["北村 真理子"],
        ),
        dict(
            org="kanazawa", venue="kanazawa-plaza", day=_on(today, -20, SAT), time=("10:00", "12:00"),
            title="対話の場「協働推進計画の評価をふりかえる」",
            title_en="Dialogue session: looking back on the evaluation of the collaboration plan",
            description="協働推進計画の5年間の取組について、市民アンケートの結果をもとに評価を振り返りました。"
                        "良かった点とうまくいかなかった点を出し合い、次期計画への提案をまとめました。",
            description_en="Based on a residents' survey, participants reviewed the evaluation of five years of the "
                           "collaboration plan. They listed what worked and what did not, and drafted proposals "
                           "for the next plan.",
            kind="dialogue", capacity_in_person=40, themes=["評価", "協働推進計画", "アンケート"],
            facilitators=["北村 真理子", "森田 健一"], childcare=_childcare(6),
        ),
        # ---- 佐久市市民活動サポートセンター
        dict(
            org="saku-support", venue="saku-center", day=course_day, time=("13:30", "16:00"),
            recurrence=Recurrence(freq="weekly", count=4),
            title="ファシリテーター養成講座（全4回）",
            title_en="Facilitator training course (4 sessions)",
            description="地域の話し合いや対話の場を進行できる人を育てる連続講座です。"
                        "傾聴と問いかけ、付箋を使った意見の整理、合意形成の進め方を演習で学びます。"
                        "全4回の受講をおすすめしますが、1回のみの参加もできます。",
            description_en="A course for people who want to facilitate neighbourhood meetings and dialogue "
                           "sessions. Through exercises you practise active listening and asking questions, "
                           "sorting opinions with sticky notes, and reaching agreement. We recommend all four "
                           "sessions, but you may join just one.",
            kind="lecture", capacity_in_person=24, themes=["ファシリテーション", "人材育成", "対話の場"],
            facilitators=["高橋 彩"],
            registration_closes_at=datetime.combine(course_day - timedelta(days=2), time(17, 0)),
        ),
        dict(
            org="saku-support", venue="sakudaira-hall", day=_on(today, 38, SUN), time=("13:30", "16:00"),
            title="空き家活用ワークショップ「空き家を地域の居場所に」",
            title_en="Workshop: turning empty houses into community places",
            description="市内で増えている空き家を、子育てサロンや移住者の交流拠点として活用するアイデアを考えます。"
                        "所有者、不動産事業者、市民活動団体の事例紹介のあと、グループで活用プランをつくります。",
            description_en="How can the growing number of empty houses become parenting salons or meeting places "
                           "for newcomers? After case studies from owners, estate agents and civic groups, groups "
                           "draft their own plans for a house.",
            kind="workshop", capacity_in_person=36, themes=["空き家活用", "移住", "地域資源"],
            facilitators=["高橋 彩", "中島 大輔"], childcare=_childcare(6, 12, 72),
            accommodations=[_always("wheelchair_space", capacity=3)],
        ),
        dict(
            org="saku-support", venue="saku-center", day=_on(today, 3), time=("18:30", "20:00"),
            title="「協働のまちづくりチャレンジ事業」説明会",
            title_en="Briefing: the community collaboration challenge grants",
            description="市民活動団体が市と協働で取り組む事業の提案募集について、制度の概要と申請方法を説明します。"
                        "後半は個別相談の時間です。オンラインでも参加できます。",
            description_en="An introduction to the call for projects that civic groups run together with the city: "
                           "how the scheme works and how to apply. The second half is for individual questions. "
                           "You can also join online.",
            kind="briefing", format="hybrid", online_url="https://meet.example.jp/saku-challenge",
            capacity_in_person=30, capacity_online=60, themes=["協働提案", "市民活動団体", "補助金"],
            facilitators=["小林 由美"],
        ),
        dict(
            org="saku-support", venue="sakudaira-hall", day=_on(today, 52, SUN), time=("10:00", "12:00"),
            title="やさしい日本語で考える 地域の防災ワークショップ",
            title_en="Disaster preparedness workshop in easy Japanese",
            description="外国人住民と日本人住民が一緒に、災害のときの避難や情報の受け取り方を考えます。"
                        "やさしい日本語で進め、ベトナム語の通訳がつきます。ハザードマップを見ながら、"
                        "近所で助け合うためにできることを話し合います。",
            description_en="Foreign and Japanese residents think together about evacuating and getting information "
                           "in a disaster. The workshop is held in easy Japanese with Vietnamese interpretation. "
                           "Looking at the hazard map, we discuss how neighbours can help each other.",
            kind="workshop", capacity_in_person=40, languages=["ja", "vi"],
            themes=["地域の防災", "多文化共生", "やさしい日本語"], facilitators=["中島 大輔", "グエン・ティ・ラン"],
            childcare=_childcare(8, 12, 72),
            accommodations=[_always("easy_japanese"), _always("interpretation", language="Tiếng Việt"),
                            _always("hearing_loop")],
        ),
        dict(
            org="saku-support", venue="saku-center", day=_on(today, 20, FRI), time=("10:00", "11:30"),
            title="子育て支援団体 交流のつどい",
            title_en="Meet-up of childcare support groups",
            description="子育てサークルや子ども食堂など、子育て支援に取り組む団体と関心のある方の交流のつどいです。"
                        "活動の悩みや工夫を共有し、団体どうしの連携のきっかけをつくります。"
                        "お子さん連れでどうぞ。",
            description_en="A meet-up for parenting circles, children's cafeterias and others who support families, "
                           "and anyone interested. We share challenges and good ideas and look for ways groups can "
                           "work together. Children are welcome.",
            kind="dialogue", capacity_in_person=20, themes=["子育て支援", "交流のつどい", "団体連携"],
            facilitators=["小林 由美"], childcare=_childcare(10, 6, 36),
        ),
        dict(
            org="saku-support", venue=None, day=_on(today, 66, WED), time=("19:30", "21:00"),
            title="オンライン講座「市民活動のための情報発信入門」",
            title_en="Online course: getting the word out for civic groups",
            description="団体の活動をより多くの人に届けるための、チラシ・ウェブサイト・SNSの使い分けを学びます。"
                        "新しい担い手とつながる発信のコツを、事例をもとに紹介します。",
            description_en="Learn how to use flyers, websites and social media to reach more people with your "
                           "group's activities. Practical examples show how to connect with new members.",
            kind="lecture", format="online", online_url="https://meet.example.jp/saku-hasshin",
            capacity_online=80, themes=["情報発信", "SNS", "担い手の育成"], facilitators=["中島 大輔"],
        ),
        dict(
            org="saku-support", venue="sakudaira-hall", day=_on(today, 110, SAT), time=("14:00", "16:00"),
            title="協働のまちづくり推進会議 公開意見交換会（案）",
            title_en="Open opinion exchange of the community collaboration council (draft)",
            description="第2次協働のまちづくり計画の進捗について、推進会議の委員と市民が意見を交わします。"
                        "内容と登壇者は調整中です。",
            description_en="Council members and residents exchange views on the progress of the second community "
                           "collaboration plan. Programme and speakers are still being arranged.",
            kind="briefing", status="draft", capacity_in_person=80, themes=["協働のまちづくり計画", "評価"],
        ),
        dict(
            org="saku-support", venue="sakudaira-hall", day=_on(today, -12, SUN), time=("13:30", "16:00"),
            title="市民活動サポートセンター 活動成果報告会",
            title_en="Citizens' activity support center: annual results",
            description="サポートセンターを利用する団体が1年間の活動成果を発表し、参加者と評価・振り返りを行いました。"
                        "発表資料は後日センターのウェブサイトで公開します。",
            description_en="Groups using the support center presented a year of results and reviewed them with "
                           "participants. The slides will be published on the center's website.",
            kind="forum", capacity_in_person=100, themes=["活動成果報告", "評価", "公開"],
            facilitators=["小林 由美", "高橋 彩"], accommodations=[_always("hearing_loop")],
        ),
        # ---- 一関市 川辺地区地域協働体
        dict(
            org="ichinoseki-kawabe", venue="kawabe-washitsu", day=_nth(today, 1, SAT, 3), time=("10:00", "12:00"),
            recurrence=Recurrence(freq="monthly", count=6, monthly_by="weekday"),
            title="川辺地区 円卓会議",
            title_en="Kawabe district round table",
            description="毎月第3土曜日に、自治会・婦人会・PTA・農家・事業所など地区のさまざまな立場の人が集まり、"
                        "地域づくり計画の進み具合と次の一手を話し合う円卓会議です。どなたでも傍聴・参加できます。",
            description_en="Every third Saturday, people from residents' associations, women's groups, the PTA, "
                           "farms and local businesses meet to discuss progress on the district plan and the next "
                           "steps. Anyone may observe or take part.",
            kind="round_table", capacity_in_person=30, themes=["円卓会議", "地域づくり計画", "担い手"],
            facilitators=["佐藤 浩", "菅原 恵子"],
        ),
        dict(
            org="ichinoseki-kawabe", venue="kawabe-center", day=walk_day, time=("09:00", "12:00"),
            cancel=_weather_reason(walk_day),
            title="地域の防災まち歩きワークショップ",
            title_en="Disaster preparedness walk and workshop",
            description="川沿いの低い土地や避難所までの道を実際に歩き、危ない場所や役立つ場所を地図に書き込みます。"
                        "歩いたあとは市民センターで、要支援者の避難を地域でどう支えるかを話し合います。",
            description_en="We walk the low-lying areas along the river and the routes to shelters, marking "
                           "hazards and useful places on a map. Back at the community center we discuss how the "
                           "neighbourhood can help people who need support to evacuate.",
            kind="workshop", capacity_in_person=30, themes=["地域の防災", "まち歩き", "避難支援"],
            facilitators=["菅原 恵子"],
        ),
        dict(
            org="ichinoseki-kawabe", venue="kawabe-center", day=_on(today, 33, TUE), time=("13:30", "15:00"),
            title="意見交換会「高齢者サロンと買物支援のこれから」",
            title_en="Opinion exchange: the future of seniors' salons and shopping support",
            description="担い手の高齢化で続けることが難しくなってきた高齢者サロンや買物代行について、"
                        "利用者・ボランティア・地元商店と一緒に今後のかたちを考えます。"
                        "点字資料・拡大文字資料をご希望の方はお申し込みください。",
            description_en="Seniors' salons and shopping errands are getting harder to keep going as volunteers "
                           "age. Together with users, volunteers and local shops we look for a sustainable way "
                           "forward. Braille or large-print materials are available on request.",
            kind="briefing", capacity_in_person=40, themes=["高齢者支援", "買物支援", "地域福祉"],
            facilitators=["佐藤 浩"],
            accommodations=[_on_request("braille_materials"), _always("wheelchair_space", capacity=3)],
        ),
        dict(
            org="ichinoseki-kawabe", venue="kawabe-center", day=_on(today, 40, FRI), time=("19:00", "20:30"),
            title="対話の場「若者と語る 川辺の未来」",
            title_en="Dialogue session: young people on the future of Kawabe",
            description="地区外に通勤・通学している10代から30代の皆さんと、地域の未来について気軽に語り合います。"
                        "仕事帰りでも参加しやすい夜の開催で、オンラインからも参加できます。",
            description_en="An informal dialogue with people in their teens to thirties, many of whom commute "
                           "outside the district, about where Kawabe is heading. It runs in the evening after "
                           "work and you can also join online.",
            kind="dialogue", format="hybrid", online_url="https://meet.example.jp/kawabe-wakamono",
            capacity_in_person=30, capacity_online=50, themes=["若者の参画", "後継者", "地域づくり計画"],
            facilitators=["菅原 恵子", "千葉 翔太"], childcare=_childcare(5),
        ),
        dict(
            org="ichinoseki-kawabe", venue="kawabe-center", day=_on(today, 75, MON), time=("18:30", "20:30"),
            title="地域協働体と市の意見交換会",
            title_en="Opinion exchange between the council and the city",
            description="地域づくり計画に掲げた取組のうち、市の施策への反映を求める事項について、"
                        "市の担当部署と意見交換を行います。市からの回答は論点整理として公開します。",
            description_en="We discuss with the city's departments the items of the district plan that call for "
                           "action in city policy. The city's answers will be published in the issues and "
                           "responses log.",
            kind="briefing", capacity_in_person=60, themes=["地域協働体", "意見交換", "論点整理"],
            facilitators=["佐藤 浩"], accommodations=[_on_request("sign_language"), _on_request("captioning")],
        ),
        dict(
            org="ichinoseki-kawabe", venue="kawabe-washitsu", day=_on(today, 90, SAT), time=("10:00", "12:00"),
            title="地域づくり計画 見直しワークショップ（案）",
            title_en="Workshop to review the district plan (draft)",
            description="地域づくり計画の中間見直しに向けて、住民アンケートの結果を確認し、優先して取り組む事業を"
                        "話し合います。日程は役員会で確定します。",
            description_en="For the mid-term review of the district plan we look at the residents' survey and "
                           "discuss which projects to prioritise. The date is to be confirmed by the board.",
            kind="workshop", status="draft", capacity_in_person=25, themes=["地域づくり計画", "アンケート"],
        ),
    ]


async def seed_demo(db: Any, add_account: AddAccount) -> int:
    """Seed realistic demo data if the database has no sessions yet; return how many sessions were created.

    Creates (or reuses, by slug) three organizations with their venues, the accounts of DEMO_ACCOUNTS
    (password DEMO_PASSWORD, through `add_account`), published, draft, past and cancelled sessions
    including a monthly round-table series and a weekly course. Returns 0, changing nothing, when
    the database already has sessions.
    """
    if await store.any_sessions(db):
        return 0

    org_ids: dict[str, int] = {}
    async with db.transaction() as conn:
        for slug, fields in ORGS.items():
            existing = await store.get_org_by_slug(conn, slug)
            org_ids[slug] = existing.id if existing else await store.create_org(conn, slug=slug, **fields)
        for account in DEMO_ACCOUNTS:
            await add_account(conn, org_id=org_ids[account["org"]], email=account["email"], password=DEMO_PASSWORD,
                              role=account["role"], display_name=account["display_name"])

    venue_ids = {key: await scheduling.create_venue(db, org_ids[slug], venue) for key, (slug, venue) in VENUES.items()}

    today = datetime.now(ZoneInfo(TZ)).date()
    created = 0
    for spec in _sessions(today):
        slug, venue, day, (start, end) = spec.pop("org"), spec.pop("venue"), spec.pop("day"), spec.pop("time")
        cancel_reason = spec.pop("cancel", "")
        spec.setdefault("status", "published")
        data = SessionInput(
            starts_at=datetime.combine(day, time.fromisoformat(start)),
            ends_at=datetime.combine(day, time.fromisoformat(end)), timezone=TZ,
            venue_id=venue_ids[venue] if venue else None, contact_name=CONTACT_NAMES[slug],
            contact_email=ORGS[slug]["contact_email"], contact_phone=ORGS[slug]["contact_phone"], **spec,
        )
        ids = await scheduling.create_sessions(db, org_ids[slug], data)
        created += len(ids)
        if cancel_reason:
            session = await store.get_session(db, ids[0])
            assert session is not None
            await scheduling.cancel_session(db, session, cancel_reason)
    return created
