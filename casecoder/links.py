"""Links: causal claims that join coded elements, as context-mechanism-outcome records.

A link is found where a Chinese causal connective joins two coded elements:

* inside one sentence, the connective splits it into a cause part and an effect part
  (``通过 [cause] 实现/推动/提升 [effect]``, ``[cause] 使/让/从而/推动/带动/促进/导致
  [effect]``, ``由于/得益于/因为 [cause]，[effect]``, ``以 [cause] 为抓手，[effect]``);
  every code with an evidence span in the cause part links to every code with one in the
  effect part (``evidence_type = "connective"``);
* across two adjacent sentences of a paragraph or turn, a sentence opening with 因此,
  从而, 由此, 这使, 结果, 最终 … links the codes of the sentence before to its own
  (``evidence_type = "adjacent"``).

Polarity is -1 when the cause is a stated lack (a coding with polarity -1, such as
``网络薄弱`` for ``ctx.infrastructure``), when cause or effect is a problem code, or when the
connective is one of harm (导致, 造成, 致使, 阻碍, 制约) and the effect is not a problem;
otherwise +1. The context in force (the case's conditions and attributes) is attached
when the graph is built (:mod:`casecoder.graph`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from casecoder.models import Coding, Link
from casecoder.store import Store

# (regex, cause group, effect group); groups are spans of the sentence
_EFFECT_VERBS = ("实现|推动|提升|提高|促进|带动|增强|形成|化解|解决|保障|减少|降低|缩短|激发|激活|"
                 "凝聚|打通|破解|确保|带来|助力|改善")
WITHIN: list[tuple[str, re.Pattern[str]]] = [
    ("通过…", re.compile(rf"通过(?P<cause>.+?)(?P<conn>{_EFFECT_VERBS}|使|让|，)(?P<effect>.+)")),
    ("以…为抓手", re.compile(
        r"以(?P<cause>.+?)为(?:抓手|载体|纽带|牵引)(?P<conn>，?)(?P<effect>.+)")),
    ("由于/得益于/因为…", re.compile(
        r"(?:由于|得益于|因为|受益于|依托|借助)(?P<cause>[^，,；;]+)[，,](?P<conn>所以|因此|从而)?"
        r"(?P<effect>.+)")),
    ("…从而/因此/进而…", re.compile(
        r"(?P<cause>.+?)[，,](?P<conn>从而|因此|进而|由此|以此|最终)(?P<effect>.+)")),
    ("…使/让…", re.compile(r"(?P<cause>.+?)(?P<conn>使得|使|让)(?P<effect>.+)")),
    ("…推动/带动/促进/导致…", re.compile(
        r"(?P<cause>.+?)(?P<conn>推动了|推动|带动了|带动|促进了|促进|导致了|导致|造成了|造成|致使|"
        r"阻碍了|阻碍|制约了|制约|助推|提升了|提高了)(?P<effect>.+)")),
]
ADJACENT = re.compile(r"^(?:因此|从而|由此|这使|这样|结果|最终|所以|于是|进而|这一做法)")
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
    if any(connective.startswith(h) for h in HARM):
        return -1
    return 1


def find_links(text: str, units: list[_Unit], case_id: str | None, pass_name: str) -> list[Link]:
    """Links within the units of one source and between adjacent units."""
    out: list[Link] = []
    for u in units:
        sentence = text[u.start:u.end]
        for _name, rx in WITHIN:
            m = rx.search(sentence)
            if not m:
                continue
            cs, ce = u.start + m.start("cause"), u.start + m.end("cause")
            es, ee = u.start + m.start("effect"), u.start + m.end("effect")
            causes = _side_codes(u, cs, ce)
            effects = _side_codes(u, es, ee)
            if not causes or not effects:
                continue
            conn = m.group("conn") or sentence[m.start():m.start("cause")] or _name
            conn = conn.strip("，,") or _name
            for a, ca in sorted(causes.items()):
                for b, cb in sorted(effects.items()):
                    if a == b:
                        continue
                    out.append(Link(source_id=u.source_id, from_code=a, to_code=b,
                                    polarity=_polarity(ca, cb, conn), start_char=u.start,
                                    end_char=u.end, connective=conn, evidence_type="connective",
                                    case_id=case_id, pass_name=pass_name))
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
