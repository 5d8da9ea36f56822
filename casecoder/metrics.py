"""Outcome metrics: quantified changes stated in a sentence.

Recognised forms (numbers in ASCII or full-width digits, thousands separated by commas
or not, with their unit):

* ``分别从A、B提升至C、D`` — one record per pair;
* ``从A提升/提高/增加/下降/降低/缩短/减少至B`` and ``由A降至B`` — before, after, change;
  a time or state may stand before either figure (``从2021年的500件下降至2023年的300件``,
  ``由上年的85%提升至95%``, ``从原来的7天缩短为2天``);
* ``提升/提高/增长/下降/降低/减少/缩短 N%`` or ``N个百分点`` or ``N倍`` — change; also with
  a qualifier (``降低了约30%``) or a Chinese numeral (``三成`` = 30%, ``两倍``);
* ``提升至B``, ``降至B``, ``缩短至B`` without a start value — after, with direction;
* ``累计/新增/新建 [indicator] N`` — after, direction up (a newly achieved total);
* ``达/达到/超过/超/突破/不足/仅 N`` — after, direction level (a plain total).

Direction follows the verb (up/down) and, for ``from A to B``, the numbers when
the verb says nothing; a start in another time unit is converted to the unit of the
end where the two convert exactly (``从2小时缩短至30分钟``: 120 → 30 分钟; 周 → 天,
年 → 个月), and otherwise is not given a value (``从3个月缩短到15天``: after 15 天, no
before or change, rather than a wrong one). A bound or approximation stated with the
figure (不足, 超过, 达, 仅, 近, 约, …) is kept in :attr:`MetricHit.qualifier`:
"不足15%" is not "15%"; ``由不足50%提高到95%以上`` is one record.

The indicator is the whole noun phrase the figure measures: the phrase before the
figure back to the last clause mark (an enumeration ``A、B等C`` kept whole), without
a year or time, a leading connective, or the cause in front of a causative verb
(``调解积分制推动群众参与调解的案件占比`` → ``群众参与调解的案件占比``). When the
figure counts a noun that follows it (``培育出超2000人的线上群众调解队伍``,
``服务超11亿用户``), that noun is the indicator or completes it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

_NUM = r"[0-9０-９]+(?:,[0-9]{3})*(?:[.．][0-9０-９]+)?"
# a Chinese numeral before 成 or 倍 (三成, 两倍)
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10, "半": 0.5}
_CN_NUM = r"[一二两三四五六七八九十半]"
# a time or a state named before a figure: 从2021年的500件, 由上年的85%, 从原来的7天
_WHEN = (r"(?:[0-9０-９]{4}年(?:底|末|初)?|上年|去年|上一年|原来|原先|过去|以往|以前|之前|"
         r"改革前|试点前)?的?")
_UNIT = (r"(?:个百分点|百分点|%|％|万人次|人次|万件|万元|亿元|万户|万人|万名|万家|万个|万场|"
         r"万次|万千瓦|千瓦|万亩|万吨|万平方米|平方米|平方公里|公里|公顷|公斤|亩|吨|"
         r"小时|分钟|秒|个工作日|工作日|天|周|个月|月|年|"
         r"件|个|次|人|户|元|倍|分|家|起|项|条|场|所|名|辆|台|套|座|间|岁|篇|份|例|批|张|"
         r"位|支|亿|万)?")
# what may stand with a figure of "from A to B": a bound before it, a range word after
_BOUND = r"(?:约|近|不足|不到|超过|超|仅)"
_RANGE = r"(?:以上|以下|左右)?"
_UP = "提升|提高|增加|增长|上升|扩大|增至|升至|升高"
_DOWN = "下降|降低|减少|缩短|压缩|降至|减至|缩减|回落"
_VERB = f"(?:{_UP}|{_DOWN})"
_TO = "(?:(?:至|到|为)了?)?"

_RESPECTIVELY = re.compile(
    rf"分别从(?P<a>{_NUM}{_UNIT}(?:[、和与](?:{_NUM}{_UNIT}))+)(?P<verb>{_VERB})了?{_TO}"
    rf"(?P<b>{_NUM}{_UNIT}(?:[、和与](?:{_NUM}{_UNIT}))+)"
)
_FROM_TO = re.compile(
    rf"(?:从|由){_WHEN}(?P<qa>{_BOUND})?(?P<a>{_NUM})(?P<ua>{_UNIT}){_RANGE}(?:的水平)?"
    rf"(?P<verb>{_VERB})了?{_TO}{_WHEN}(?P<qb>{_BOUND})?(?P<b>{_NUM})(?P<ub>{_UNIT}){_RANGE}"
)
_BY = re.compile(
    rf"(?P<verb>{_VERB})(?:了|幅度达|幅度为)?(?P<q>约|近|超过|超)?"
    rf"(?:(?P<n>{_NUM})(?P<u>%|％|个百分点|百分点|倍|成)|(?P<cn>{_CN_NUM}{{1,2}})(?P<cu>倍|成))"
)
# 提升至B, 下降到B; and 升至B, 降至B, whose verb holds the 至
_TO_ONLY = re.compile(
    rf"(?P<verb>{_VERB})(?:了?(?:至|到)|(?<=至))了?(?P<n>{_NUM})(?P<u>{_UNIT})")
_CUMULATIVE = re.compile(
    rf"(?P<verb>累计|新增|新建|共计|合计)(?P<ind>[^，,；;。！？0-9０-９]{{0,10}}?)"
    rf"(?:(?P<q>超过|达到|达|超|逾)|了)?(?P<n>{_NUM})(?P<u>{_UNIT})"
)
_TOTAL = re.compile(
    rf"(?P<verb>达到|达|超过|超|突破|逾|不足|仅|仅为|低于|高于)"
    rf"(?:了)?(?P<n>{_NUM})(?P<u>{_UNIT})"
)
_CLAUSE = re.compile(r"[，,、；;：:。！？（）()\"\n]")
_YEAR = re.compile(r"[0-9０-９]{4}\s*年(?:[0-9０-９]{1,2}\s*月)?"
                   r"(?:底|末|以来|内|上半年|下半年|期间|全年)?")
_LEAD = re.compile(
    r"^(?:(?:其中|同时|并且|并|且|而且|而|则|使得|使|让|将|把|推动|带动|促进|实现|导致|致使|"
    r"其(?![他余])|的|从而|通过改造|通过)|(?:年(?![均度龄])|月|后|来))+"
)
# a causative verb: what follows it is the measured thing, what precedes it the cause
_LAST_CAUSE = re.compile(r".*(?:使得|致使|导致|推动|带动|促进|使(?![用命])|让)", re.S)
_COUNT_UNITS = frozenset(["人", "万人", "名", "万名", "个", "万个", "家", "万家", "户", "万户",
                          "项", "条", "所", "场", "万场", "起", "件", "万件", "次", "万次",
                          "人次", "万人次", "亿", "万"])
_CLAUSE_AHEAD = 12  # longest counted noun read after a figure
_ADJECTIVE = re.compile(r"(?:众多|很多|较多|多|大|高|广)$")
# time units that convert exactly into one another (a month is not a whole number of days)
_TIME_SCALES = ({"秒": 1 / 60, "分钟": 1, "小时": 60, "天": 1440, "周": 10080},
                {"个月": 1, "月": 1, "年": 12}, {"个工作日": 1, "工作日": 1})
TIME_UNITS = frozenset(u for scale in _TIME_SCALES for u in scale)
_VALUE_WORD = re.compile(r"以上|以下|左右")
_FW = str.maketrans("０１２３４５６７８９．％", "0123456789.%")
_UP_VERBS = frozenset(_UP.split("|"))
_DOWN_VERBS = frozenset(_DOWN.split("|"))
_VALUE = re.compile(rf"({_NUM})({_UNIT})")
_TAIL = re.compile(r"(从|由|分别|均|已经|已|都|也|较|同比|环比|仍|还|曾|就)+$")
_DIGITS = re.compile(r"[0-9０-９]+")
_BEFORE = 16  # longest lead before a number: 累计 + 10-character indicator + 超过
_AFTER = 6  # longest unit after a number: 个百分点
# what windows() looks around: runs of digits no more than _BEFORE + _AFTER characters
# apart (their stretches touch), and Chinese numerals counting 成 or 倍
_DIGIT_CLUSTER = re.compile(rf"[0-9０-９](?:[^0-9０-９]{{0,{_BEFORE + _AFTER}}}[0-9０-９])*")
_CN_FIGURE = re.compile(rf"{_CN_NUM}{{1,2}}[成倍]")
_CN_PAIR = re.compile(rf"{_CN_NUM}[成倍]")  # every _CN_FIGURE holds one; found faster


@dataclass
class MetricHit:
    """A quantified change found in a text (offsets in that text)."""

    start: int
    end: int
    indicator: str
    before: float | None
    after: float | None
    change: float | None
    unit: str
    direction: str
    qualifier: str = ""  # 不足, 超过, 达, 仅, 近, 约, … as written before the (after) figure
    before_qualifier: str = ""  # the same, before the start of "from A to B" (由不足50%…)


class _Joined:
    """The stretches of a text joined by a mark no pattern can match (。), so that each
    pattern runs once over them all; :meth:`find` gives each match's offsets in the text."""

    def __init__(self, text: str, stretches: list[tuple[int, int]]) -> None:
        self.text = "。".join([text[a:b] for a, b in stretches])
        self.starts: list[int] = []  # where each stretch starts in self.text
        self.shift: list[int] = []  # what to add to get offsets in the original text
        pos = 0
        for a, b in stretches:
            self.starts.append(pos)
            self.shift.append(a - pos)
            pos += b - a + 1

    def find(self, pattern: re.Pattern[str]) -> Iterator[tuple[re.Match[str], int, int]]:
        """Each match of ``pattern`` with its start and end in the original text."""
        starts, shift = self.starts, self.shift
        for m in pattern.finditer(self.text):
            d = shift[bisect.bisect_right(starts, m.start()) - 1]
            yield m, m.start() + d, m.end() + d


def _num(s: str) -> float:
    return float(s.translate(_FW).replace(",", ""))


def _cn_num(s: str) -> float:
    """A one- or two-character Chinese numeral: 三 → 3, 十 → 10, 两 → 2, 半 → 0.5."""
    if len(s) == 2 and s[0] == "十":
        return 10 + _CN_DIGITS[s[1]]
    if len(s) == 2 and s[1] == "十":
        return _CN_DIGITS[s[0]] * 10
    return float(_CN_DIGITS[s[0]]) if len(s) == 1 else float("nan")


def _split_values(s: str) -> list[tuple[float, str]]:
    out = []
    for m in _VALUE.finditer(s):
        out.append((_num(m.group(1)), m.group(2).translate(_FW)))
    return out


def _in_unit(value: float, unit: str, target: str) -> float | None:
    """``value`` in ``unit`` expressed in ``target`` (``从2小时缩短至30分钟``: 2 小时 →
    120 分钟); ``None`` when the units differ and do not convert exactly (3个月 → 天)."""
    if not unit or not target or unit == target:
        return value
    for scale in _TIME_SCALES:
        if unit in scale and target in scale:
            return round(value * scale[unit] / scale[target], 6)
    return None


def _direction(verb: str, before: float | None = None, after: float | None = None) -> str:
    if verb in _UP_VERBS or verb in ("累计", "新增", "新建"):
        return "up"
    if verb in _DOWN_VERBS:
        return "down"
    if before is not None and after is not None:
        return "up" if after > before else "down" if after < before else "level"
    return "level"


def _indicator(text: str, lo: int, pos: int, end: int | None = None,
               hi: int | None = None, unit: str = "") -> str:
    """The noun phrase measured by the figure at ``text[pos:end]`` (see the module notes).

    ``lo`` and ``hi`` bound how far it may look back and ahead.
    """
    head = text[max(lo, pos - 40):pos]
    parts = _CLAUSE.split(head)
    phrase = parts[-1]
    i = len(parts) - 1
    if "等" in phrase:  # an enumeration "A、B等C" is one phrase
        seps = _CLAUSE.findall(head)
        while i > 0 and seps[i - 1] == "、" and not _DIGITS.search(parts[i - 1]):
            i -= 1
            phrase = parts[i] + "、" + phrase
    phrase = _clean(phrase)
    if end is not None and unit in _COUNT_UNITS:
        stop = len(text) if hi is None else hi
        ahead = text[end:min(stop, end + _CLAUSE_AHEAD)]
        noun = _CLAUSE.split(ahead)[0]
        if noun and not _DIGITS.search(noun) and not _VALUE_WORD.search(noun):
            if noun.startswith("的") and len(noun) > 1:
                return _clean(noun[1:])  # 培育出超2000人的线上群众调解队伍
            if len(noun) <= 4:
                phrase += noun  # 服务超11亿用户
    if not phrase and i > 0:
        before = _clean(parts[i - 1])
        if len(before) <= 8 and not _DIGITS.search(before):
            phrase = _ADJECTIVE.sub("", before)  # 员工数量多，超150万人 → 员工数量
    if len(phrase) > 30:
        cut = max(phrase.rfind("的"), phrase.rfind("等"))
        phrase = phrase[cut + 1:] if 0 <= cut < len(phrase) - 2 else phrase[-30:]
    return phrase


def _clean(phrase: str) -> str:
    """A clause fragment without years, a leading connective, the cause before a causative
    verb, a trailing adverb, or an unmatched quotation mark."""
    phrase = phrase.strip()
    if _DIGITS.search(phrase):
        phrase = _YEAR.sub("", phrase)
    cause = _LAST_CAUSE.match(phrase)
    if cause and cause.end() < len(phrase):
        phrase = phrase[cause.end():]
    phrase = _LEAD.sub("", phrase).strip()
    phrase = _TAIL.sub("", phrase).strip()
    if "”" in phrase and "“" not in phrase[:phrase.index("”")]:
        phrase = phrase[phrase.index("”") + 1:]
    if phrase.count("“") > phrase.count("”"):
        phrase = phrase[:phrase.rindex("“")] + phrase[phrase.rindex("“") + 1:]
    return phrase.strip()


def windows(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Disjoint stretches of ``text[lo:hi]`` that can hold a metric, in order.

    Every pattern needs a digit, starts at most ``_BEFORE`` characters before its
    first digit, ends at most ``_AFTER`` after its last, and never runs more than
    ``_BEFORE + _AFTER`` characters without one; so each match lies inside one
    stretch around a cluster of digits and the rest of the text need not be scanned.
    """
    out = [(max(lo, m.start() - _BEFORE), min(hi, m.end() + _AFTER))
           for m in _DIGIT_CLUSTER.finditer(text, lo, hi)]
    if not _CN_PAIR.search(text, lo, hi):
        return out
    spans = sorted(out + [(max(lo, m.start() - _BEFORE), min(hi, m.end() + _AFTER))
                          for m in _CN_FIGURE.finditer(text, lo, hi)])
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def extract(text: str, lo: int = 0, hi: int | None = None) -> list[MetricHit]:
    """The quantified changes stated in ``text[lo:hi]``, in order of position."""
    hi = len(text) if hi is None else hi
    return scan(text, lo, windows(text, lo, hi), hi)


def scan(text: str, lo: int, stretches: list[tuple[int, int]],
         hi: int | None = None) -> list[MetricHit]:
    """The metrics inside ``stretches`` of ``text``.

    ``lo`` and ``hi`` (default: the end of ``text``) bound how far an indicator is
    looked for before and after its figure.
    """
    joined = _Joined(text, stretches)
    out: list[MetricHit] = []
    taken: list[tuple[int, int]] = []  # disjoint spans, sorted

    def free(a: int, b: int) -> bool:
        i = bisect.bisect_left(taken, (a, a))
        if i < len(taken) and taken[i][0] < b:
            return False
        return not (i > 0 and taken[i - 1][1] > a)

    def add(s: int, e: int, hits: list[MetricHit]) -> None:
        bisect.insort(taken, (s, e))
        out.extend(hits)

    for m, s, e in joined.find(_RESPECTIVELY):
        a, b = _split_values(m.group("a")), _split_values(m.group("b"))
        if len(a) != len(b):
            continue
        ind = _indicator(text, lo, s)
        hits = []
        for (va, ua), (vb, ub) in zip(a, b, strict=True):
            unit = ub or ua
            hits.append(MetricHit(s, e, ind, va, vb, round(vb - va, 6), unit,
                                  _direction(m.group("verb"), va, vb)))
        add(s, e, hits)
    for m, s, e in joined.find(_FROM_TO):
        if not free(s, e):
            continue
        va, vb = _num(m.group("a")), _num(m.group("b"))
        ua, ub = m.group("ua").translate(_FW), m.group("ub").translate(_FW)
        before: float | None = _in_unit(va, ua, ub)
        change = None if before is None else round(vb - before, 6)
        add(s, e, [MetricHit(s, e, _indicator(text, lo, s), before, vb, change, ub or ua,
                             _direction(m.group("verb"), before, vb), m.group("qb") or "",
                             m.group("qa") or "")])
    for m, s, e in joined.find(_TO_ONLY):
        if not free(s, e):
            continue
        add(s, e, [MetricHit(s, e, _indicator(text, lo, s), None,
                          _num(m.group("n")), None, m.group("u").translate(_FW),
                          _direction(m.group("verb")))])
    for m, s, e in joined.find(_BY):
        if not free(s, e):
            continue
        if m.group("n") is not None:
            n, unit = _num(m.group("n")), m.group("u").translate(_FW)
        else:
            n, unit = _cn_num(m.group("cn")), m.group("cu")
            if n != n:  # not a numeral of one or two characters
                continue
        if unit == "成":  # 三成 = 30%
            n, unit = round(n * 10, 6), "%"
        direction = _direction(m.group("verb"))
        change = -n if direction == "down" else n
        add(s, e, [MetricHit(s, e, _indicator(text, lo, s), None, None,
                          change, unit, direction, m.group("q") or "")])
    for m, s, e in joined.find(_CUMULATIVE):
        if not free(s, e) or not m.group("u"):
            continue
        unit = m.group("u").translate(_FW)
        ind = (_clean(m.group("ind")) or
               _indicator(text, lo, s, e, hi, unit))
        add(s, e, [MetricHit(s, e, ind, None, _num(m.group("n")), None,
                          unit, "up", m.group("q") or "")])
    for m, s, e in joined.find(_TOTAL):
        if not free(s, e) or not m.group("u"):
            continue
        verb = m.group("verb")
        unit = m.group("u").translate(_FW)
        add(s, e, [MetricHit(s, e, _indicator(text, lo, s, e, hi, unit),
                          None, _num(m.group("n")), None, unit, _direction(verb), verb)])
    out.sort(key=lambda h: (h.start, h.end))
    return out
