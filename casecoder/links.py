"""Links: causal claims that join coded elements, as context-mechanism-outcome records.

A link is found where a Chinese causal connective joins two coded elements:

* inside one sentence, the connective splits it into a cause part and an effect part
  (``通过 [cause] 实现/推动/提升 [effect]``, ``[cause] 使/让/从而/推动/带动/促进/导致
  [effect]``, ``由于/得益于/因为 [cause]，[effect]``, ``以 [cause] 为抓手，[effect]``);
  every code with an evidence span in the cause part links to every code with one in the
  effect part (``evidence_type = "connective"``). A connective is a word: 使 in 使用 or
  即使, 让 in 转让, 造成 in 改造成 join nothing. When a sentence holds several, one makes
  its links (:func:`claims` gives the order: frames, harm, clause connectives, causative
  verbs, 使/让; the earliest among equals);
* across two adjacent sentences of a paragraph or turn, a sentence opening with 因此,
  从而, 由此, 这使, 结果, 最终 … links the codes of the sentence before to its own
  (``evidence_type = "adjacent"``).

Polarity is -1 when the cause is a stated lack (a coding with polarity -1, such as
``网络薄弱`` for ``ctx.infrastructure``), when cause or effect is a problem code, or when the
connective is one of harm (导致, 造成, 致使, 阻碍, 制约); otherwise +1. The context in
force (the case's region, setting, industry and result, its ``ctx.*`` conditions and the
context codes coded in it) is attached to every link when the graph is built
(:func:`casecoder.graph.link_context`), which makes it a CMO record.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from casecoder.models import Coding, Link
from casecoder.store import Store

# A connective is a word, not a character: 使 in 使用/使命/即使/大使, 让 in 转让/让步,
# 造成 in 改造成/打造成, 致使 in 导致使用, 通过 in 通过率/审议通过 and 以 in 可以/以及 join
# nothing.
_SHI = r"(?<![即假纵大公特天信行出唆指役致促迫驱])使(?!用(?!户)|命|者|馆|劲|节|唤|然)"
_RANG = r"(?<![转出礼谦退忍割禅推相])让(?!步|渡|利(?!益)|位|路|座|与|给|价)"
_ZAOCHENG = r"(?<![改打塑建制营锻再编捏伪构])造成"
_TONGGUO = r"(?<![议决致得利核批收审])通过(?!率)"
_YI = r"(?<![可所难加予足得用借据])以(?![及来上下内外后前便免至往致])"
_HARM_CONN = rf"导致了?|{_ZAOCHENG}了?|(?<!导)致使(?!用(?!户))|阻碍了?|制约了?"
_EFFECT_VERBS = ("实现|推动|提升|提高|促进|带动|增强|形成|化解|解决|保障|减少|降低|缩短|激发|激活|"
                 "凝聚|打通|破解|确保|带来|助力|改善")


@dataclass(frozen=True)
class Connective:
    """One within-sentence pattern.

    ``rx`` is tried at every position of a sentence. A pattern with a ``cause`` group
    (a frame: 通过…, 以…为抓手, 由于…) delimits its cause itself; for the others the
    cause is the sentence up to where the match starts. ``rank`` orders the patterns
    when several match one sentence (lower first). ``template`` names the connective
    of a match from its ``conn`` and ``open`` groups (``{then}`` is ``…conn`` or nothing).
    """

    name: str
    rank: int
    rx: re.Pattern[str]
    template: str = "{conn}"


def _overlapping(body: str) -> re.Pattern[str]:
    # a lookahead match is empty, so finditer tries every position (matches overlap)
    return re.compile(f"(?=(?:{body}))")


WITHIN: tuple[Connective, ...] = (
    Connective("通过…", 0, _overlapping(
        rf"{_TONGGUO}(?P<cause>.+?)(?P<conn>{_EFFECT_VERBS}|使得|{_SHI}|{_RANG}|[，,])"
        r"(?P<effect>.+)"), "通过…{conn}"),
    Connective("以…为抓手", 0, _overlapping(
        rf"{_YI}(?P<cause>[^，,；;]+?)为(?P<conn>抓手|载体|纽带|牵引)[，,]?(?P<effect>.+)"),
        "以…为{conn}"),
    Connective("由于/得益于/因为…", 0, _overlapping(
        r"(?P<open>由于|得益于|因为|受益于|依托|借助)(?P<cause>[^，,；;]+)[，,]"
        rf"(?P<conn>所以|因此|从而|{_HARM_CONN})?(?P<effect>.+)"), "{open}{then}"),
    Connective("…导致/造成/致使/阻碍/制约…", 1, _overlapping(
        rf"(?P<conn>{_HARM_CONN})(?P<effect>.+)")),
    Connective("…，从而/因此/进而…", 2, _overlapping(
        r"[，,](?P<conn>从而|因此|进而|由此|以此|最终)(?P<effect>.+)")),
    Connective("…推动/带动/促进…", 3, _overlapping(
        r"(?P<conn>推动了?|带动了?|促进(?!会)了?|助推|提升了|提高了)(?P<effect>.+)")),
    Connective("…使/让…", 4, _overlapping(
        rf"(?P<conn>使得|促使|迫使|驱使|{_SHI}|{_RANG})(?P<effect>.+)")),
)
ADJACENT = re.compile(r"^(?:因此|从而|由此|这使(?!用)|这样(?!的)|结果(?!显示|表明|发现)|最终|所以|"
                      r"于是|进而|这一做法)")
HARM = ("导致", "造成", "致使", "阻碍", "制约")


@dataclass
class _Unit:
    source_id: int
    start: int
    end: int
    parent: int | None
    codings: list[Coding]


def _side_codes(unit: _Unit, lo: int, hi: int) -> dict[str, Coding]:
    """Codes with an evidence span inside ``[lo, hi)`` (raw offsets)."""
    out: dict[str, Coding] = {}
    for c in unit.codings:
        if any(s >= lo and e <= hi for s, e in c.evidence):
            out.setdefault(c.code, c)
    return out


def _polarity(cause: Coding, effect: Coding, connective: str) -> int:
    if cause.polarity < 0 or cause.code.startswith("prob") or effect.code.startswith("prob"):
        return -1
    if any(h in connective for h in HARM):
        return -1
    return 1


@dataclass(frozen=True)
class Claim:
    """A connective found in a sentence: where it stands and what it joins (raw offsets)."""

    rank: int
    at: int
    connective: str
    cause: tuple[int, int]
    effect: tuple[int, int]


def _connective_text(p: Connective, m: re.Match[str]) -> str:
    conn = (m.group("conn") or "").strip("，,")
    return p.template.format(conn=conn, open=m.groupdict().get("open") or "",
                             then=f"…{conn}" if conn else "")


def claims(sentence: str, offset: int = 0) -> list[Claim]:
    """Every connective of a sentence, in the order they are preferred.

    Frames that delimit their cause (通过…, 以…为抓手, 由于…) come first, then the
    connectives of harm (they carry the polarity), then clause connectives (，从而/因此),
    then causative verbs (推动, 带动, 促进), then the general 使/让; among equals, the
    earliest in the sentence.

    Parameters
    ----------
    sentence : str
        The sentence's raw text.
    offset : int, default=0
        Added to every position (the sentence's ``start_char`` gives raw offsets).

    Returns
    -------
    list of Claim
        Each with its connective (``通过…实现``, ``由于…导致``, ``使`` …) and the
        half-open spans of its cause and effect parts.
    """
    out = []
    for p in WITHIN:
        for m in p.rx.finditer(sentence):
            if "cause" in p.rx.groupindex:
                cause = m.span("cause")
            else:
                cause = (0, m.start())
            if cause[1] <= cause[0]:
                continue
            out.append(Claim(p.rank, m.start(), _connective_text(p, m),
                             (offset + cause[0], offset + cause[1]),
                             (offset + m.start("effect"), offset + m.end("effect"))))
    return sorted(out, key=lambda c: (c.rank, c.at, c.connective))


def find_links(text: str, units: list[_Unit], case_id: str | None, pass_name: str) -> list[Link]:
    """Links within the units of one source and between adjacent units.

    In a sentence, the preferred connective (:func:`claims`) with a coded element on
    each side makes the links; a connective with nothing coded on one side is passed
    over for the next.
    """
    out: list[Link] = []
    for u in units:
        if len({c.code for c in u.codings}) < 2:
            continue
        for cl in claims(text[u.start:u.end], u.start):
            causes = _side_codes(u, *cl.cause)
            effects = _side_codes(u, *cl.effect)
            pairs = [(a, ca, b, cb) for a, ca in sorted(causes.items())
                     for b, cb in sorted(effects.items()) if a != b]
            if not pairs:
                continue
            out += [Link(source_id=u.source_id, from_code=a, to_code=b,
                         polarity=_polarity(ca, cb, cl.connective), start_char=u.start,
                         end_char=u.end, connective=cl.connective, evidence_type="connective",
                         case_id=case_id, pass_name=pass_name) for a, ca, b, cb in pairs]
            break
    for prev, cur in zip(units, units[1:], strict=False):
        if prev.parent is None or prev.parent != cur.parent or prev.end > cur.start:
            continue
        m = ADJACENT.match(text[cur.start:cur.end])
        if not m or not prev.codings or not cur.codings:
            continue
        causes = {c.code: c for c in prev.codings}
        effects = {c.code: c for c in cur.codings}
        for a, ca in sorted(causes.items()):
            for b, cb in sorted(effects.items()):
                if a == b:
                    continue
                out.append(Link(source_id=cur.source_id, from_code=a, to_code=b,
                                polarity=_polarity(ca, cb, m.group()), start_char=prev.start,
                                end_char=cur.end, connective=m.group(),
                                evidence_type="adjacent", case_id=case_id, pass_name=pass_name))
    return out


def extract(store: Store, pass_name: str) -> list[Link]:
    """Find the links of a pass's codings over the current sentences and store them.

    The pass's earlier links are replaced in one transaction.
    """
    store.require_pass(pass_name)
    by_unit: dict[tuple[int, int, int], list[Coding]] = defaultdict(list)
    for c in store.codings(pass_name):
        by_unit[(c.source_id, c.start_char, c.end_char)].append(c)
    links: list[Link] = []
    for src in store.sources():
        units = [
            _Unit(s.source_id, s.start_char, s.end_char, s.parent_id,
                  by_unit.get((s.source_id, s.start_char, s.end_char), []))
            for s in store.segments(source_id=src.id, kind="sentence")
        ]
        links += find_links(src.text, units, src.case_id, pass_name)
    with store.transaction():
        store.db.execute("DELETE FROM links WHERE pass = ?", (pass_name,))
        store.db.executemany(
            "INSERT INTO links (pass, source_id, case_id, from_code, to_code, polarity,"
            " start_char, end_char, connective, evidence_type) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(lk.pass_name, lk.source_id, lk.case_id, lk.from_code, lk.to_code, lk.polarity,
              lk.start_char, lk.end_char, lk.connective, lk.evidence_type) for lk in links],
        )
    return links


def stored_links(store: Store, pass_name: str) -> list[Link]:
    """The stored links of a pass, on current sources, in a stable order."""
    rows = store.db.execute(
        "SELECT l.* FROM links l JOIN sources s ON s.id = l.source_id "
        "WHERE l.pass = ? AND s.current = 1 "
        "ORDER BY s.name, l.start_char, l.from_code, l.to_code", (pass_name,)
    ).fetchall()
    return [Link(source_id=r["source_id"], from_code=r["from_code"], to_code=r["to_code"],
                 polarity=r["polarity"], start_char=r["start_char"], end_char=r["end_char"],
                 connective=r["connective"], evidence_type=r["evidence_type"],
                 case_id=r["case_id"], pass_name=r["pass"]) for r in rows]
