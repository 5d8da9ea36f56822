"""Retrieval and counting over stored codings (the analyst's review queries).

Code frequencies by case and case attribute, co-occurrence, code x attribute
crosstabs, coded-passage retrieval with context, keyword in context and term lists.
Counts are of coded units (distinct spans), and a sub-code counts for its frame id
when ``level="frame"``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from casecoder.errors import CasecoderError
from casecoder.models import Case, Coding, Source
from casecoder.store import Store

FRAME_GROUPS = ("mech", "prob", "ctx")


def frame_id(code: str) -> str:
    """The frame id a code rolls up to: ``mech.digital.lightweight`` -> ``mech.digital``."""
    parts = code.split(".")
    if parts[0] in FRAME_GROUPS and len(parts) >= 2:
        return ".".join(parts[:2])
    return parts[0]


LEVELS: tuple[str, ...] = ("frame", "code")


def check_level(level: str, option: str = "--level") -> None:
    """Refuse a level other than ``frame`` and ``code`` (CC008)."""
    if level not in LEVELS:
        raise CasecoderError("CC008", option=option, value=level, expected=" or ".join(LEVELS))


def _level(code: str, level: str) -> str:
    return frame_id(code) if level == "frame" else code


def project_codes(store: Store, besides: str | None = None) -> set[str]:
    """Every code id the project knows: the codes of its codings (other than those of the
    pass ``besides``) and their parents, and the codes of the codebooks its passes
    recorded (those whose file is still there)."""
    from pathlib import Path

    from casecoder.codebook import load_codebook

    out: set[str] = set()
    for (code,) in store.db.execute("SELECT DISTINCT code FROM codings WHERE pass IS NOT ?",
                                    (besides,)):
        parts = code.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    for p in store.passes():
        path = p["options"].get("codebook")
        if path and Path(path).is_file():
            try:
                out |= set(load_codebook(path).codes)
            except CasecoderError:
                continue  # a codebook edited into an invalid state since: its codings count
    return out


def did_you_mean(code: str, known: Iterable[str], n: int = 1) -> str:
    """`` (did you mean a, b?)`` naming the known code ids closest to ``code``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(code, sorted(known), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def require_codes(store: Store, codes: Iterable[str], option: str = "--code",
                  known: set[str] | None = None) -> None:
    """Refuse a code id the project does not know (CC008), naming the closest ones: a
    typo such as ``mech.mediaton`` would otherwise match nothing and report zero.
    ``known`` defaults to :func:`project_codes`."""
    known = project_codes(store) if known is None else known
    for code in codes:
        if code not in known:
            hint = did_you_mean(code, known, 3)
            raise CasecoderError("CC008", option=option, value=code,
                                 expected=f"a code id of the project's codings or "
                                          f"codebooks{hint}")


def case_attributes(store: Store) -> tuple[dict[int, Case | None], dict[str, Case]]:
    """Map source id -> its case, and case id -> case."""
    cases = {c.id: c for c in store.cases()}
    by_source = {sid: cases.get(cid) if cid else None
                 for sid, cid in store.case_of_source().items()}
    return by_source, cases


def attribute(case: Case | None, name: str) -> str:
    if case is None:
        return "(no case)"
    if name == "case":
        return case.id
    if name == "result":
        return str(case.outcome.get("result", "unknown"))
    if name.startswith("ctx."):
        return case.conditions.get(name, "unknown")
    return str(case.attributes.get(name, "unknown"))


def known_attributes(cases: Iterable[Case], sources: Iterable[Source] = ()) -> list[str]:
    """The attribute names a count or a filter can use: ``case``, ``result``, the
    ``ctx.*`` conditions and every key of the cases' attributes; with ``sources``, also
    ``kind`` and the keys of their attributes (what ``quotes --where`` can filter on)."""
    from casecoder.models import CONTEXT_IDS

    names = {"case", "result", *CONTEXT_IDS}
    for c in cases:
        names.update(c.attributes)
        names.update(c.conditions)
    for src in sources:
        names.add("kind")
        names.update(k for k, v in src.attributes.items()
                     if not k.startswith("_") and not isinstance(v, (dict, list)))
    return sorted(names)


def require_attributes(names: Iterable[str], option: str, known: list[str]) -> None:
    """Refuse an attribute name not in ``known`` (a typo would count nothing)."""
    for name in names:
        if name not in known:
            raise CasecoderError("CC010", name=name, option=option, known=", ".join(known))


def code_frequencies(store: Store, pass_name: str, by: str = "case", level: str = "frame",
                     ) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    """Coded units per code and per value of ``by`` (case, region, setting, …).

    Returns the code ids, the column values and the counts.
    """
    check_level(level)
    store.require_pass(pass_name)
    by_source, cases = case_attributes(store)
    require_attributes([by], "--by", known_attributes(cases.values()))
    seen: set[tuple[str, int, int, int]] = set()
    counts: Counter = Counter()
    for c in store.codings(pass_name):
        code = _level(c.code, level)
        key = (code, c.source_id, c.start_char, c.end_char)
        if key in seen:
            continue
        seen.add(key)
        counts[(code, attribute(by_source.get(c.source_id), by))] += 1
    codes = sorted({k[0] for k in counts})
    cols = sorted({k[1] for k in counts})
    return codes, cols, dict(counts)


def unit_codes(codings: Iterable[Coding], level: str = "frame"
               ) -> dict[tuple[int, int, int], set[str]]:
    """Codes per coded unit ``(source_id, start, end)``."""
    out: dict[tuple[int, int, int], set[str]] = defaultdict(set)
    for c in codings:
        out[(c.source_id, c.start_char, c.end_char)].add(_level(c.code, level))
    return out


COOCCURRENCE_SCOPES = ("overlap", "unit", "source", "case")


def cooccurrence(store: Store, pass_name: str, level: str = "frame", scope: str = "overlap",
                 ) -> tuple[list[str], dict[tuple[str, str], int]]:
    """How often two codes occur together, for every pair; symmetric.

    ``scope`` says what "together" means:

    * ``overlap`` (default, as ATLAS.ti and MAXQDA count it): a coded segment of one code
      and a coded segment of the other whose spans in a source share at least one
      character; the count is the number of such pairs of segments. The diagonal is the
      number of coded segments (distinct spans) of the code.
    * ``unit``: the same span coded with both (rule codings code whole units, so for them
      this equals ``overlap``); counts spans.
    * ``source`` / ``case``: both codes somewhere in the same source / case; counts sources
      / cases (sources without a case are left out of ``case``).
    """
    if scope not in COOCCURRENCE_SCOPES:
        raise CasecoderError("CC008", option="--scope", value=scope,
                             expected=" | ".join(COOCCURRENCE_SCOPES))
    check_level(level)
    store.require_pass(pass_name)
    spans = {(c.source_id, c.start_char, c.end_char, _level(c.code, level))
             for c in store.codings(pass_name)}
    counts: Counter = Counter()
    groups: dict[Any, set[str]] = defaultdict(set)
    if scope == "overlap":
        by_source: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        for sid, s, e, code in spans:
            by_source[sid].append((s, e, code))
        for segs in by_source.values():
            segs.sort()
            for i, (_s, e, a) in enumerate(segs):
                counts[(a, a)] += 1
                for s2, _e2, b in segs[i + 1:]:
                    if s2 >= e:  # sorted by start: nothing further overlaps
                        break
                    if a != b:
                        counts[(a, b)] += 1
                        counts[(b, a)] += 1
    else:
        case_of = store.case_of_source() if scope == "case" else {}
        for sid, s, e, code in spans:
            key = {"unit": (sid, s, e), "source": sid}.get(scope, case_of.get(sid))
            if key is not None:
                groups[key].add(code)
        for codes in groups.values():
            ordered = sorted(codes)
            for i, a in enumerate(ordered):
                for b in ordered[i:]:
                    counts[(a, b)] += 1
                    if a != b:
                        counts[(b, a)] += 1
    codes = sorted({a for a, _ in counts})
    return codes, dict(counts)


@dataclass
class Passage:
    """A coded passage with its context."""

    source: str
    case: str | None
    code: str
    start_char: int
    end_char: int
    quote: str
    before: str
    after: str
    evidence: list[tuple[int, int]]
    pass_name: str

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "case": self.case, "code": self.code,
                "start_char": self.start_char, "end_char": self.end_char, "quote": self.quote,
                "before": self.before, "after": self.after,
                "evidence": [list(e) for e in self.evidence], "pass": self.pass_name}


def parse_where(where: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for w in where:
        key, sep, value = w.partition("=")
        if not sep or not key:
            raise CasecoderError("CC008", option="--where", value=w, expected="ATTR=VALUE")
        out.append((key.strip(), value.strip()))
    return out


def quotes(store: Store, code: str, where: Iterable[str] = (), pass_name: str | None = None,
           context: int = 40) -> list[Passage]:
    """Coded passages of ``code`` (and its sub-codes) in cases matching ``where``.

    ``where`` items are ``ATTR=VALUE`` on case attributes (region, setting, industry,
    result, a ``ctx.*`` condition, case) or source attributes; all must hold.
    """
    conditions = parse_where(where)
    require_codes(store, [code])
    by_source, cases = case_attributes(store)
    sources = {s.id: s for s in store.sources()}
    require_attributes([key for key, _value in conditions], "--where",
                       known_attributes(cases.values(), sources.values()))
    if pass_name:
        store.require_pass(pass_name)
    out = []
    for c in store.codings(pass_name, code=code):
        src = sources.get(c.source_id)
        if src is None:
            continue
        case = by_source.get(c.source_id)
        ok = True
        for key, value in conditions:
            have = attribute(case, key) if case is not None or key != "kind" else src.kind
            if key == "kind":
                have = src.kind
            elif key in src.attributes and (case is None or attribute(case, key) == "unknown"):
                have = str(src.attributes[key])
            if have != value:
                ok = False
                break
        if not ok:
            continue
        t = src.text
        out.append(Passage(source=src.name, case=src.case_id, code=c.code,
                           start_char=c.start_char, end_char=c.end_char,
                           quote=t[c.start_char:c.end_char],
                           before=t[max(src.body_start, c.start_char - context):c.start_char],
                           after=t[c.end_char:c.end_char + context], evidence=c.evidence,
                           pass_name=c.pass_name))
    return out


def kwic(store: Store, term: str, width: int = 20, regex: bool = False) -> list[dict[str, Any]]:
    """Every occurrence of ``term`` in the current sources with ``width`` characters around
    (the left context stops where the text after the front matter begins)."""
    if width < 0:
        raise CasecoderError("CC008", option="--width", value=width,
                             expected="a whole number of at least 0")
    try:
        pattern = re.compile(term if regex else re.escape(term))
    except re.error as exc:
        raise CasecoderError("CC008", option="TERM (--regex)", value=term,
                             expected=f"a regular expression ({exc})") from exc
    out = []
    for src in store.sources():
        t = src.text
        for m in pattern.finditer(t, src.body_start):
            if m.end() == m.start():
                continue
            out.append({"source": src.name, "case": src.case_id, "start_char": m.start(),
                        "end_char": m.end(),
                        "left": t[max(src.body_start, m.start() - width):m.start()],
                        "match": m.group(), "right": t[m.end():m.end() + width]})
    if not out:
        raise CasecoderError("CC203", term=term)
    return out


def sentence_texts(store: Store) -> list[tuple[int, int, int, str]]:
    """(source id, start, end, text) of every current sentence."""
    texts = {s.id: s.text for s in store.sources()}
    return [(s.source_id, s.start_char, s.end_char, texts[s.source_id][s.start_char:s.end_char])
            for s in store.segments(kind="sentence")]
