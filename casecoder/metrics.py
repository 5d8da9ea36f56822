"""Outcome metrics: quantified changes stated in a sentence.

Recognised forms (numbers in ASCII or full-width digits, with their unit):

* ``分别从A、B提升至C、D`` — one record per pair;
* ``从A提升/提高/增加/下降/降低/缩短/减少至B`` and ``由A降至B`` — before, after, change;
* ``提升/提高/增长/下降/降低/减少/缩短 N%`` or ``N个百分点`` or ``N倍`` — change;
* ``提升至B``, ``降至B``, ``缩短至B`` without a start value — after, with direction;
* ``累计/新增/新建 [indicator] N`` — after, direction up (a newly achieved total);
* ``达/达到/超过/超/突破/不足/仅 N`` — after, direction level (a plain total).

Direction follows the verb (up/down) and, for ``from A to B``, the numbers when
the verb says nothing. The indicator is the phrase before the figure, back to the
last clause mark, without a leading year, time or connective.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

_NUM = r"[0-9０-９]+(?:[.．][0-9０-９]+)?"
_UNIT = (r"(?:个百分点|百分点|%|％|万人次|人次|万件|万元|亿元|万户|万人|公里|小时|分钟|"
         r"天|个月|月|年|"
         r"件|个|次|人|户|元|倍|分|家|起|项|条|场|所|名|亿|万)?")
_UP = "提升|提高|增加|增长|上升|扩大|增至|升至|升高"
_DOWN = "下降|降低|减少|缩短|压缩|降至|减至|缩减|回落"
_VERB = f"(?:{_UP}|{_DOWN})"
_TO = "(?:(?:至|到|为)了?)?"

_RESPECTIVELY = re.compile(
    rf"分别从(?P<a>{_NUM}{_UNIT}(?:[、和与](?:{_NUM}{_UNIT}))+)(?P<verb>{_VERB})了?{_TO}"
    rf"(?P<b>{_NUM}{_UNIT}(?:[、和与](?:{_NUM}{_UNIT}))+)"
)
_FROM_TO = re.compile(
    rf"(?:从|由)(?P<a>{_NUM})(?P<ua>{_UNIT})(?:的水平)?(?P<verb>{_VERB})了?{_TO}"
    rf"(?P<b>{_NUM})(?P<ub>{_UNIT})"
)
_BY = re.compile(
    rf"(?P<verb>{_VERB})(?:了|幅度达|幅度为|约|近|超过|超)?(?P<n>{_NUM})(?P<u>%|％|个百分点|百分点|倍|成)"
)
_TO_ONLY = re.compile(rf"(?P<verb>{_VERB})了?(?:至|到)了?(?P<n>{_NUM})(?P<u>{_UNIT})")
_CUMULATIVE = re.compile(
    rf"(?P<verb>累计|新增|新建|共计|合计)(?P<ind>[^，,；;。！？0-9０-９]{{0,10}}?)"
    rf"(?:超过|达到|达|超|逾|了)?(?P<n>{_NUM})(?P<u>{_UNIT})"
)
_TOTAL = re.compile(
    rf"(?P<verb>达到|达|超过|超|突破|逾|不足|仅|仅为|低于|高于)"
    rf"(?:了)?(?P<n>{_NUM})(?P<u>{_UNIT})"
)
_CLAUSE = re.compile(r"[，,、；;：:。！？（(“”\"\n]")
_LEAD = re.compile(
    r"^(?:(?:[0-9０-９]{4}\s*年(?:[0-9０-９]{1,2}\s*月)?(?:底|末|以来|内|上半年|下半年)?)|"
    r"(?:其中|同时|并且|并|且|而且|而|则|使得|使|让|将|把|推动|带动|促进|实现|导致|致使|其|的|从而|通过改造|通过)|"
    r"(?:年|月|后|来))+"
)
_FW = str.maketrans("０１２３４５６７８９．％", "0123456789.%")
_UP_VERBS = frozenset(_UP.split("|"))
_DOWN_VERBS = frozenset(_DOWN.split("|"))
_VALUE = re.compile(rf"({_NUM})({_UNIT})")
_TAIL = re.compile(r"(从|由|分别|均|已|都|也|较|同比|环比)+$")
_DIGITS = re.compile(r"[0-9０-９]+")
_BEFORE = 16  # longest lead before a number: 累计 + 10-character indicator + 超过
_AFTER = 6  # longest unit after a number: 个百分点


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


def _each(pattern: re.Pattern[str], text: str,
          stretches: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    for a, b in stretches:
        yield from pattern.finditer(text, a, b)


def _num(s: str) -> float:
    return float(s.translate(_FW))


def _split_values(s: str) -> list[tuple[float, str]]:
    out = []
    for m in _VALUE.finditer(s):
        out.append((_num(m.group(1)), m.group(2).translate(_FW)))
    return out


def _direction(verb: str, before: float | None = None, after: float | None = None) -> str:
    if verb in _UP_VERBS or verb in ("累计", "新增", "新建"):
        return "up"
    if verb in _DOWN_VERBS:
        return "down"
    if before is not None and after is not None:
        return "up" if after > before else "down" if after < before else "level"
    return "level"


def _indicator(text: str, lo: int, pos: int) -> str:
    head = text[max(lo, pos - 40):pos]
    parts = _CLAUSE.split(head)
    phrase = parts[-1].strip() if parts else ""
    phrase = _LEAD.sub("", phrase).strip()
    phrase = _TAIL.sub("", phrase).strip()
    return phrase[-14:]


def windows(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Disjoint stretches of ``text[lo:hi]`` that can hold a metric, in order.

    Every pattern needs a digit, starts at most ``_BEFORE`` characters before its
    first digit, ends at most ``_AFTER`` after its last, and never runs more than
    ``_BEFORE + _AFTER`` characters without one; so each match lies inside one
    stretch around a cluster of digits and the rest of the text need not be scanned.
    """
    out: list[tuple[int, int]] = []
    for m in _DIGITS.finditer(text, lo, hi):
        a, b = max(lo, m.start() - _BEFORE), min(hi, m.end() + _AFTER)
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def extract(text: str, lo: int = 0, hi: int | None = None) -> list[MetricHit]:
    """The quantified changes stated in ``text[lo:hi]``, in order of position."""
    hi = len(text) if hi is None else hi
    return scan(text, lo, windows(text, lo, hi))


def scan(text: str, lo: int, stretches: list[tuple[int, int]]) -> list[MetricHit]:
    """The metrics inside ``stretches`` of ``text`` (``lo`` bounds indicator look-back)."""
    out: list[MetricHit] = []
    taken: list[tuple[int, int]] = []  # disjoint spans, sorted

    def free(a: int, b: int) -> bool:
        i = bisect.bisect_left(taken, (a, a))
        if i < len(taken) and taken[i][0] < b:
            return False
        return not (i > 0 and taken[i - 1][1] > a)

    def add(m: re.Match[str], hits: list[MetricHit]) -> None:
        bisect.insort(taken, (m.start(), m.end()))
        out.extend(hits)

    for m in _each(_RESPECTIVELY, text, stretches):
        a, b = _split_values(m.group("a")), _split_values(m.group("b"))
        if len(a) != len(b):
            continue
        ind = _indicator(text, lo, m.start())
        hits = []
        for (va, ua), (vb, ub) in zip(a, b, strict=True):
            unit = ub or ua
            hits.append(MetricHit(m.start(), m.end(), ind, va, vb, round(vb - va, 6), unit,
                                  _direction(m.group("verb"), va, vb)))
        add(m, hits)
    for m in _each(_FROM_TO, text, stretches):
        if not free(m.start(), m.end()):
            continue
        va, vb = _num(m.group("a")), _num(m.group("b"))
        unit = (m.group("ub") or m.group("ua")).translate(_FW)
        add(m, [MetricHit(m.start(), m.end(), _indicator(text, lo, m.start()), va, vb,
                          round(vb - va, 6), unit, _direction(m.group("verb"), va, vb))])
    for m in _each(_TO_ONLY, text, stretches):
        if not free(m.start(), m.end()):
            continue
        add(m, [MetricHit(m.start(), m.end(), _indicator(text, lo, m.start()), None,
                          _num(m.group("n")), None, m.group("u").translate(_FW),
                          _direction(m.group("verb")))])
    for m in _each(_BY, text, stretches):
        if not free(m.start(), m.end()):
            continue
        n = _num(m.group("n"))
        direction = _direction(m.group("verb"))
        change = -n if direction == "down" else n
        add(m, [MetricHit(m.start(), m.end(), _indicator(text, lo, m.start()), None, None,
                          change, m.group("u").translate(_FW), direction)])
    for m in _each(_CUMULATIVE, text, stretches):
        if not free(m.start(), m.end()) or not m.group("u"):
            continue
        ind = m.group("ind").strip() or _indicator(text, lo, m.start())
        add(m, [MetricHit(m.start(), m.end(), ind, None, _num(m.group("n")), None,
                          m.group("u").translate(_FW), "up")])
    for m in _each(_TOTAL, text, stretches):
        if not free(m.start(), m.end()) or not m.group("u"):
            continue
        verb = m.group("verb")
        add(m, [MetricHit(m.start(), m.end(), _indicator(text, lo, m.start()), None,
                          _num(m.group("n")), None, m.group("u").translate(_FW),
                          _direction(verb))])
    out.sort(key=lambda h: (h.start, h.end))
    return out
