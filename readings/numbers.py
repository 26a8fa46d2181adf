"""Numbers and counters read aloud: 二十日 はつか, 四日 よっか, 一人 ひとり, 10月 じゅうがつ, 3本 さんぼん.

A counter's readings after 1..10 are listed in full (the sound changes are irregular); larger numbers
are read as the number up to their last non-zero unit plus that unit's form (21人 にじゅういちにん).
"""

from __future__ import annotations

import re

_DIGITS = ["ぜろ", "いち", "に", "さん", "よん", "ご", "ろく", "なな", "はち", "きゅう"]
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                 "九": 9, "壱": 1, "弐": 2, "参": 3}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_LARGE_UNITS = {"万": 10_000, "億": 100_000_000, "兆": 1_000_000_000_000}
_HUNDREDS = {1: "ひゃく", 3: "さんびゃく", 6: "ろっぴゃく", 8: "はっぴゃく"}
_THOUSANDS = {1: "せん", 3: "さんぜん", 8: "はっせん"}


def _forms(text: str) -> list[str]:
    return text.split()


# counter -> readings after 1..10; a second list, where given, is used for the last digit of 11, 12, ...
COUNTERS: dict[str, tuple[list[str], list[str] | None]] = {
    "人": (_forms("ひとり ふたり さんにん よにん ごにん ろくにん ななにん はちにん きゅうにん じゅうにん"),
          _forms("いちにん ににん さんにん よにん ごにん ろくにん ななにん はちにん きゅうにん じゅうにん")),
    "日": (_forms("ついたち ふつか みっか よっか いつか むいか なのか ようか ここのか とおか"),
          _forms("いちにち ににち さんにち よっか ごにち ろくにち しちにち はちにち くにち とおか")),
    "日間": (_forms("いちにちかん ふつかかん みっかかん よっかかん いつかかん むいかかん なのかかん ようかかん ここのかかん とおかかん"),
            _forms("いちにちかん ににちかん さんにちかん よっかかん ごにちかん ろくにちかん しちにちかん はちにちかん くにちかん とおかかん")),
    "月": (_forms("いちがつ にがつ さんがつ しがつ ごがつ ろくがつ しちがつ はちがつ くがつ じゅうがつ"), None),
    "か月": (_forms("いっかげつ にかげつ さんかげつ よんかげつ ごかげつ ろっかげつ ななかげつ はっかげつ きゅうかげつ じゅっかげつ"), None),
    "年": (_forms("いちねん にねん さんねん よねん ごねん ろくねん しちねん はちねん きゅうねん じゅうねん"), None),
    "年度": (_forms("いちねんど にねんど さんねんど よねんど ごねんど ろくねんど しちねんど はちねんど きゅうねんど じゅうねんど"), None),
    "年間": (_forms("いちねんかん にねんかん さんねんかん よねんかん ごねんかん ろくねんかん ななねんかん はちねんかん きゅうねんかん じゅうねんかん"), None),
    "年生": (_forms("いちねんせい にねんせい さんねんせい よねんせい ごねんせい ろくねんせい ななねんせい はちねんせい きゅうねんせい じゅうねんせい"), None),
    "時": (_forms("いちじ にじ さんじ よじ ごじ ろくじ しちじ はちじ くじ じゅうじ"), None),
    "時間": (_forms("いちじかん にじかん さんじかん よじかん ごじかん ろくじかん ななじかん はちじかん くじかん じゅうじかん"), None),
    "分": (_forms("いっぷん にふん さんぷん よんぷん ごふん ろっぷん ななふん はっぷん きゅうふん じゅっぷん"), None),
    "分間": (_forms("いっぷんかん にふんかん さんぷんかん よんぷんかん ごふんかん ろっぷんかん ななふんかん はっぷんかん きゅうふんかん じゅっぷんかん"), None),
    "秒": (_forms("いちびょう にびょう さんびょう よんびょう ごびょう ろくびょう ななびょう はちびょう きゅうびょう じゅうびょう"), None),
    "回": (_forms("いっかい にかい さんかい よんかい ごかい ろっかい ななかい はっかい きゅうかい じゅっかい"), None),
    "回目": (_forms("いっかいめ にかいめ さんかいめ よんかいめ ごかいめ ろっかいめ ななかいめ はっかいめ きゅうかいめ じゅっかいめ"), None),
    "階": (_forms("いっかい にかい さんがい よんかい ごかい ろっかい ななかい はっかい きゅうかい じゅっかい"), None),
    "歳": (_forms("いっさい にさい さんさい よんさい ごさい ろくさい ななさい はっさい きゅうさい じゅっさい"), None),
    "個": (_forms("いっこ にこ さんこ よんこ ごこ ろっこ ななこ はっこ きゅうこ じゅっこ"), None),
    "件": (_forms("いっけん にけん さんけん よんけん ごけん ろっけん ななけん はっけん きゅうけん じゅっけん"), None),
    "か所": (_forms("いっかしょ にかしょ さんかしょ よんかしょ ごかしょ ろっかしょ ななかしょ はっかしょ きゅうかしょ じゅっかしょ"), None),
    "本": (_forms("いっぽん にほん さんぼん よんほん ごほん ろっぽん ななほん はっぽん きゅうほん じゅっぽん"), None),
    "枚": (_forms("いちまい にまい さんまい よんまい ごまい ろくまい ななまい はちまい きゅうまい じゅうまい"), None),
    "名": (_forms("いちめい にめい さんめい よんめい ごめい ろくめい ななめい はちめい きゅうめい じゅうめい"), None),
    "円": (_forms("いちえん にえん さんえん よえん ごえん ろくえん ななえん はちえん きゅうえん じゅうえん"), None),
    "週": (_forms("いっしゅう にしゅう さんしゅう よんしゅう ごしゅう ろくしゅう ななしゅう はっしゅう きゅうしゅう じゅっしゅう"), None),
    "週間": (_forms("いっしゅうかん にしゅうかん さんしゅうかん よんしゅうかん ごしゅうかん ろくしゅうかん ななしゅうかん はっしゅうかん きゅうしゅうかん じゅっしゅうかん"), None),
    "番": (_forms("いちばん にばん さんばん よんばん ごばん ろくばん ななばん はちばん きゅうばん じゅうばん"), None),
    "号": (_forms("いちごう にごう さんごう よんごう ごごう ろくごう ななごう はちごう きゅうごう じゅうごう"), None),
    "丁目": (_forms("いっちょうめ にちょうめ さんちょうめ よんちょうめ ごちょうめ ろくちょうめ ななちょうめ はっちょうめ きゅうちょうめ じゅっちょうめ"), None),
    "冊": (_forms("いっさつ にさつ さんさつ よんさつ ごさつ ろくさつ ななさつ はっさつ きゅうさつ じゅっさつ"), None),
    "台": (_forms("いちだい にだい さんだい よんだい ごだい ろくだい ななだい はちだい きゅうだい じゅうだい"), None),
    "度": (_forms("いちど にど さんど よんど ごど ろくど ななど はちど きゅうど じゅうど"), None),
    "倍": (_forms("いちばい にばい さんばい よんばい ごばい ろくばい ななばい はちばい きゅうばい じゅうばい"), None),
    "割": (_forms("いちわり にわり さんわり よんわり ごわり ろくわり ななわり はちわり きゅうわり じゅうわり"), None),
    "校": (_forms("いっこう にこう さんこう よんこう ごこう ろっこう ななこう はっこう きゅうこう じゅっこう"), None),
    "世帯": (_forms("いっせたい にせたい さんせたい よんせたい ごせたい ろくせたい ななせたい はっせたい きゅうせたい じゅっせたい"), None),
    "団体": (_forms("いちだんたい にだんたい さんだんたい よんだんたい ごだんたい ろくだんたい ななだんたい はちだんたい きゅうだんたい じゅうだんたい"), None),
    "地区": (_forms("いっちく にちく さんちく よんちく ごちく ろくちく ななちく はっちく きゅうちく じゅっちく"), None),
    "期": (_forms("いっき にき さんき よんき ごき ろっき ななき はっき きゅうき じゅっき"), None),
    "条": (_forms("いちじょう にじょう さんじょう よんじょう ごじょう ろくじょう ななじょう はちじょう きゅうじょう じゅうじょう"), None),
    "%": (_forms("いちぱーせんと にぱーせんと さんぱーせんと よんぱーせんと ごぱーせんと ろくぱーせんと ななぱーせんと はちぱーせんと きゅうぱーせんと じゅっぱーせんと"), None),
    "位": (_forms("いちい にい さんい よんい ごい ろくい なない はちい きゅうい じゅうい"), None),
    "部": (_forms("いちぶ にぶ さんぶ よんぶ ごぶ ろくぶ ななぶ はちぶ きゅうぶ じゅうぶ"), None),
    "つ": (_forms("ひとつ ふたつ みっつ よっつ いつつ むっつ ななつ やっつ ここのつ とお"), None),
    "点": (_forms("いってん にてん さんてん よんてん ごてん ろくてん ななてん はってん きゅうてん じゅってん"), None),
}
# the same counters written differently
ALIASES = {"ヶ月": "か月", "ヵ月": "か月", "カ月": "か月", "箇月": "か月", "ケ月": "か月", "才": "歳",
           "箇所": "か所", "ヶ所": "か所", "カ所": "か所", "ヵ所": "か所", "％": "%"}


def counter_of(surface: str) -> str | None:
    """The counter a token is (its canonical spelling), or None."""
    name = ALIASES.get(surface, surface)
    return name if name in COUNTERS else None


def parse_number(text: str) -> int | float | None:
    """The value of 1,000 / 3万 / 二千五百 / 1.5 / 二十, or None when `text` is not a number."""
    text = text.replace(",", "").replace("，", "")
    text = text.translate(str.maketrans("０１２３４５６７８９．", "0123456789."))
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d+\.\d+", text):
        return float(text)
    total, section, current = 0, 0, None
    for char in text:
        if char.isdigit():
            current = (current or 0) * 10 + int(char)
        elif char in _KANJI_DIGITS:
            current = (current or 0) * 10 + _KANJI_DIGITS[char]
        elif char in _SMALL_UNITS:
            section += (current if current is not None else 1) * _SMALL_UNITS[char]
            current = None
        elif char in _LARGE_UNITS:
            total += (section + (current or 0)) * _LARGE_UNITS[char]
            section, current = 0, None
        else:
            return None
    return total + section + (current or 0)


def _below_10000(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if thousands:
        out += _THOUSANDS.get(thousands, _DIGITS[thousands] + "せん")
    if hundreds:
        out += _HUNDREDS.get(hundreds, _DIGITS[hundreds] + "ひゃく")
    if tens:
        out += ("" if tens == 1 else _DIGITS[tens]) + "じゅう"
    if ones:
        out += _DIGITS[ones]
    return out


def read_number(value: int | float) -> str:
    """The reading of a number: 2026 にせんにじゅうろく, 30000 さんまん, 1.5 いってんご."""
    if isinstance(value, float):
        whole, _, decimals = f"{value:f}".rstrip("0").partition(".")
        head = read_number(int(whole))
        if head.endswith("いち"):
            head = head[:-2] + "いっ"
        return head + "てん" + "".join(_DIGITS[int(d)] for d in decimals)
    if value == 0:
        return "ぜろ"
    out = ""
    for unit, name in ((1_000_000_000_000, "ちょう"), (100_000_000, "おく"), (10_000, "まん")):
        count, value = divmod(value, unit)
        if count:
            head = _below_10000(count)
            if name == "ちょう" and head.endswith(("いち", "はち")):
                head = head[:-1] + "っ"
            if count == 1000:
                head = "いっせん"
            out += head + name
    return out + _below_10000(value)


def read_counted(value: int | float, counter: str, *, date: bool = False) -> str:
    """The reading of a number with its counter (canonical spelling, see `counter_of`).

    `date`: a day of a month, where 1日 is ついたち; otherwise 1日 is いちにち (one day).
    """
    first, compound = COUNTERS[counter]
    if counter == "日" and value == 1 and not date:
        return "いちにち"
    if counter in ("日", "日間") and value in (20, 24):
        return ("はつか" if value == 20 else "にじゅうよっか") + ("かん" if counter == "日間" else "")
    if counter == "歳" and value == 20:
        return "はたち"
    if isinstance(value, float):
        return read_number(value) + _counter_reading(counter)
    if 1 <= value <= 10:
        return first[value - 1]
    ones = value % 10
    if ones:
        return _head(value - ones) + (compound or first)[ones - 1]
    tens = (value % 100) // 10
    if tens:
        head = _head(value - value % 100) + ("" if tens == 1 else _DIGITS[tens])
        return head + first[9]
    plain = read_number(value)
    ten_form = first[9]  # じゅっぷん: the counter geminates after く/ち/う units too (ひゃっぽん)
    if ten_form.startswith("じゅっ") and plain.endswith(("ひゃく", "びゃく", "ぴゃく")):
        return plain[:-1] + "っ" + ten_form[3:]
    return plain + first[9].removeprefix("じゅう").removeprefix("じゅっ")


def _head(value: int) -> str:
    return read_number(value) if value else ""


def _counter_reading(counter: str) -> str:
    return COUNTERS[counter][0][1].removeprefix("に")
