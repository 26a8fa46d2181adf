"""Readings (ふりがな) without a server: a hand-read test set of municipal sentences, numbers and
counters, okurigana, local names, the ruby markup of texts and whole pages, easy-Japanese checks."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from hypothesis import given, settings, strategies as st

from readings import easy
from readings.analysis import NameBook, analyse, cache_info, name_book, reading_of
from readings.kana import split_okurigana, to_hiragana
from readings.ruby import annotate_html, ruby_html

SENTENCES = Path(__file__).parent / "data" / "reading_sentences.tsv"


def hand_read_sentences() -> list[tuple[str, str, list[str]]]:
    rows = [line.rstrip("\n").split("\t") for line in SENTENCES.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [(source, sentence, readings.split("|")) for source, sentence, readings in rows]


def test_municipal_sentences_are_read_right_at_least_95_percent_of_the_time():
    rows = hand_read_sentences()
    assert len(rows) >= 150
    assert {source for source, _, _ in rows} >= {"kanazawa", "saku", "second", "ichinoseki", "notice"}
    failures = []
    for source, sentence, expected in rows:
        got = reading_of(analyse(sentence))
        if got not in expected:
            failures.append(f"[{source}] {sentence}\n    expected {' | '.join(expected)}\n    got      {got}")
    summary = f"{len(rows) - len(failures)} of {len(rows)} sentences read exactly right; failures:\n" + (
        "\n".join(failures) or "    none")
    print("\n" + summary)
    if failures:  # shown in pytest's warnings summary, so the failures are listed in every run
        warnings.warn(summary, stacklevel=1)
    assert len(failures) <= len(rows) * 0.05, "\n".join(failures)


@pytest.mark.parametrize(("text", "reading"), [
    ("二十日", "はつか"), ("四日", "よっか"), ("一人", "ひとり"), ("二人", "ふたり"), ("三人", "さんにん"),
    ("4人", "よにん"), ("21人", "にじゅういちにん"), ("10月1日", "じゅうがつついたち"), ("20日", "はつか"),
    ("10月", "じゅうがつ"), ("4月", "しがつ"), ("9月", "くがつ"), ("7月", "しちがつ"), ("14日", "じゅうよっか"),
    ("24日", "にじゅうよっか"), ("毎月1日", "まいつきついたち"), ("1日2回", "いちにちにかい"), ("8日", "ようか"),
    ("3本", "さんぼん"), ("6本", "ろっぽん"), ("300円", "さんびゃくえん"), ("1,000円", "せんえん"),
    ("3万円", "さんまんえん"), ("10分", "じゅっぷん"), ("30分", "さんじゅっぷん"), ("4時", "よじ"), ("9時", "くじ"),
    ("1回", "いっかい"), ("6回", "ろっかい"), ("3階", "さんがい"), ("20歳", "はたち"), ("8歳", "はっさい"),
    ("3か月", "さんかげつ"), ("一ヶ月", "いっかげつ"), ("2026年", "にせんにじゅうろくねん"), ("3つ", "みっつ"),
    ("14:30", "じゅうよじさんじゅっぷん"), ("十分に", "じゅうぶんに"), ("7日", "なのか"), ("1.5倍", "いってんごばい"),
    ("24日(月)", "にじゅうよっか(げつ)"), ("(土・日)", "(ど・にち)"),
])
def test_numbers_and_counters_are_read_as_japanese_readers_say_them(text, reading):
    assert reading_of(analyse(text)) == reading


def test_only_the_kanji_carry_a_reading_and_okurigana_stay_bare():
    assert split_okurigana("食べる", "たべる") == [("食", "た"), ("べる", None)]
    assert split_okurigana("申し込み", "もうしこみ") == [("申", "もう"), ("し", None), ("込", "こ"), ("み", None)]
    assert ruby_html("食べる") == '<ruby>食<rt aria-hidden="true" data-reading="た"></rt></ruby>べる'
    # digits need no reading: 月 carries がつ; ついたち cannot be split, so it goes over 1日
    html = ruby_html("10月1日")
    assert html.startswith('10<ruby>月<rt aria-hidden="true" data-reading="がつ"></rt></ruby>')
    assert '<ruby>1日<rt aria-hidden="true" data-reading="ついたち"></rt></ruby>' in html
    assert to_hiragana("ワークショップ") == "わーくしょっぷ"


def test_an_organizations_names_are_read_its_way_before_the_analyser():
    book = name_book([("佐久平", "さくだいら"), ("十日町", "とおかまち"), ("休館日", "やすみのひ")])
    assert reading_of(analyse("佐久平で対話", book)) == "さくだいらでたいわ"
    assert reading_of(analyse("十日町の集会", book)) == "とおかまちのしゅうかい"
    assert reading_of(analyse("休館日", book)) == "やすみのひ"  # an organization's entry wins over the built-in term
    assert reading_of(analyse("休館日")) == "きゅうかんび"
    assert reading_of(analyse("一関で", NameBook([("一関", "いちのせき")]))) == "いちのせきで"


def test_readings_are_cached():
    before = cache_info().hits
    text = "キャッシュの確認のための文です。"
    first = analyse(text)
    assert analyse(text) is first
    assert cache_info().hits == before + 1


def test_a_page_gets_ruby_in_its_text_but_not_in_scripts_fields_attributes_or_code():
    page = """<!doctype html><html lang="ja"><head><title>対話の場</title><style>.漢{}</style></head><body>
    <h1 title="属性の漢字">市民の対話</h1><script>var 漢字 = "<b>";</script>
    <textarea name="t">入力中の漢字</textarea><input value="値の漢字"><select><option>選択肢</option></select>
    <code>参加</code><p translate="no">参加コード</p><p data-ruby="off">名前</p>
    <ruby>既存<rt data-reading="きそん"></rt></ruby><!-- 注釈の漢字 --><p>参加 &amp; 評価</p></body></html>"""
    out = annotate_html(page)
    soup = BeautifulSoup(out, "html.parser")
    assert [ruby.contents[0] for ruby in soup.h1.find_all("ruby")] == ["市民", "対話"]
    assert soup.h1["title"] == "属性の漢字"
    assert soup.title.string == "対話の場" and soup.style.string == ".漢{}"
    assert soup.script.string == 'var 漢字 = "<b>";'
    assert soup.textarea.string == "入力中の漢字" and soup.option.string == "選択肢"
    assert soup.code.string == "参加" and soup.find("p", translate="no").string == "参加コード"
    assert soup.find("p", attrs={"data-ruby": "off"}).string == "名前"
    assert len(soup.find_all("ruby")) == 5  # 市民, 対話, the existing one, 参加, 評価
    assert "<!-- 注釈の漢字 -->" in out
    assert '<ruby>参加<rt aria-hidden="true" data-reading="さんか"></rt></ruby> &amp; ' in out


def _without_readings(html: str) -> str:
    return re.sub(r"<rt[^>]*></rt>|</?ruby>", "", html)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("市民参加の対話日月年人本回二十四一10:3,.<>&;ab \n、。ー漢字佐久一関①\u200d")), max_size=40))
def test_annotating_adds_readings_and_takes_nothing_away(text):
    segments = analyse(text)
    assert "".join(segment.text for segment in segments) == text
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    page = f"<p>{escaped}</p>"
    assert _without_readings(annotate_html(page)) == page
    assert _without_readings(ruby_html(text)) == escaped


def test_odd_text_never_breaks_the_analyser():
    for text in ["\ud800字", "\x00漢\u200d字", "😀字", "ｶﾞ市", "①②", "e\u0301漢", "\u202e市民", "漢" * 5000]:
        assert "".join(segment.text for segment in analyse(text)) == text


def test_the_easy_japanese_checks_find_long_sentences_double_negatives_and_rare_kanji():
    text = ("申し込まなければなりません。参加できないわけではない。"
            "この会は、市民と市がいっしょにまちのことを考えて、みんなで話し合って、これからどうするかを決める会です。"
            "鬱蒼とした森で集まります。")
    flags = easy.check(text)
    kinds = [(flag.kind, flag.text) for flag in flags]
    assert ("double_negative", "なければなりません") in kinds
    assert ("double_negative", "ないわけではない") in kinds
    assert [flag.kind for flag in flags].count("long_sentence") == 1
    assert ("rare_kanji", "蒼") in kinds and ("rare_kanji", "鬱") not in kinds  # 鬱 is 常用 since 2010
    assert easy.check("あした 10時に 来て ください。") == []


def test_the_vendored_joyo_list_has_its_2136_kanji_and_names_its_source():
    assert len(easy.joyo_kanji() - {"叱"}) == 2136
    header = (Path(easy.__file__).parent / "data" / "joyo_kanji.txt").read_text(encoding="utf-8")
    assert "内閣告示第2号" in header and "著作権法第13条" in header
