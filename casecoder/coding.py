"""Coding: apply a codebook's rules to stored segments, with evidence spans.

How a unit (a sentence by default; turn or paragraph as options) is coded:

* every literal term of the codebook (keywords, synonyms, negative keywords, literal
  exclusions, proximity terms, and the leading literal of each regex) is found in one
  pass of an Aho-Corasick automaton over the source's text (ASCII letters compared
  case-insensitively); a regex is run only on units where its leading literal occurs
  (or on every unit when it has none);
* a hit is *negated* when a negation cue (``defaults.negation.cues``) stands within
  ``window`` characters before it, with no clause punctuation between and the cue not
  part of an exception word such as 不断; what a negated hit does follows the code's
  ``negation`` mode: ``veto`` drops it, ``ignore`` keeps it, ``polarity`` keeps it
  with polarity -1;
* any exclusion of the code in the unit vetoes the code there;
* the code is applied when at least one hit survives: the coding carries the unit's
  span, the evidence spans of the hits, the rules that fired and a confidence (the
  best rule's: keyword 0.9, negative keyword 0.9, pattern 0.8, synonym 0.75,
  proximity 0.7; plus 0.05 per further distinct hit, at most 0.99).

Quantified changes found by :mod:`casecoder.metrics` code their sentence ``out``.
A pass is written in one transaction that first removes the pass's earlier content;
other passes are untouched.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from casecoder import metrics as metrics_mod
from casecoder.errors import CasecoderError
from casecoder.models import Codebook, Source
from casecoder.segment import clean_view
from casecoder.store import Store

CONFIDENCE = {"keyword": 0.9, "negative": 0.9, "pattern": 0.8, "synonym": 0.75,
              "proximity": 0.7, "metric": 0.9}
DEFAULT_CUES = ("未", "没有", "缺乏", "缺少", "不", "无", "尚未", "难以")
DEFAULT_CUE_EXCEPTIONS = ("不断", "不仅", "不少", "不同", "不只", "不但", "无论", "不论",
                          "不必", "无缝", "不可或缺", "不定期", "未来", "无偿", "不久")
_CLAUSE_RE = re.compile(r"[，,、：:；;。！？!?\n（）()]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
UNITS = ("sentence", "turn", "paragraph")


def fold(text: str) -> str:
    """Lower-case letters where that keeps every offset (one-to-one).

    ``str.lower`` is used when it keeps the length (it does for Chinese text); where a
    character would lower-case to two (such as 'İ'), only ASCII letters are folded.
    """
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


@dataclass
class Hit:
    code: str
    kind: str
    term: str
    start: int
    end: int
    negated: bool = False


@dataclass
class _Pattern:
    code: str
    regex: re.Pattern[str]
    source: str


@dataclass
class CompiledCodebook:
    """A codebook made ready for matching (built once per pass)."""

    codebook: Codebook
    terms: list[str] = field(default_factory=list)
    # per automaton term: (code, kind, index) entries
    roles: list[list[tuple[str, str, int]]] = field(default_factory=list)
    patterns: list[_Pattern] = field(default_factory=list)
    untriggered: list[int] = field(default_factory=list)
    regex_exclusions: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)
    cues: tuple[str, ...] = DEFAULT_CUES
    cue_exceptions: tuple[str, ...] = DEFAULT_CUE_EXCEPTIONS
    window: int = 3
    automaton: Any = None
    out_code: str | None = None
    cue_regex: re.Pattern[str] = field(default_factory=lambda: re.compile("(?!)"))

    @classmethod
    def build(cls, codebook: Codebook) -> CompiledCodebook:
        import ahocorasick_rs

        neg = codebook.defaults.get("negation") or {}
        self = cls(codebook=codebook)
        self.cues = tuple(neg.get("cues") or DEFAULT_CUES)
        self.cue_exceptions = tuple(
            dict.fromkeys([*DEFAULT_CUE_EXCEPTIONS, *(neg.get("exceptions") or [])]))
        self.window = int(neg.get("window", 3))
        exceptions = "|".join(re.escape(w) for w in sorted(self.cue_exceptions, key=len,
                                                             reverse=True))
        cues = "|".join(re.escape(c) for c in sorted(self.cues, key=len, reverse=True))
        self.cue_regex = re.compile(f"(?!{exceptions})(?:{cues})" if exceptions else
                                    f"(?:{cues})")
        metric_code = codebook.defaults.get("metric_code", "out")
        self.out_code = metric_code if metric_code in codebook.codes else None
        index: dict[str, int] = {}

        def add(term: str, code: str, kind: str, i: int = 0) -> None:
            term = fold(term)
            if not term:
                return
            if term not in index:
                index[term] = len(self.terms)
                self.terms.append(term)
                self.roles.append([])
            self.roles[index[term]].append((code, kind, i))

        for code in codebook.codes.values():
            r = code.rules
            for t in r.keywords:
                add(t, code.id, "keyword")
            for t in r.synonyms:
                add(t, code.id, "synonym")
            for t in r.negative_keywords if hasattr(r, "negative_keywords") else []:
                add(t, code.id, "negative")
            for t in r.exclusions:
                if t.startswith("re:"):
                    self.regex_exclusions.setdefault(code.id, []).append(re.compile(t[3:]))
                else:
                    add(t, code.id, "exclusion")
            for n, rule in enumerate(r.proximity):
                for t in rule.get("a", []):
                    add(t, code.id, "prox_a", n)
                for t in rule.get("b", []):
                    add(t, code.id, "prox_b", n)
            for p in r.patterns:
                k = len(self.patterns)
                self.patterns.append(_Pattern(code.id, re.compile(p, re.IGNORECASE), p))
                lead = leading_literal(p)
                if lead:
                    add(lead, code.id, "trigger", k)
                else:
                    self.untriggered.append(k)
        if self.terms:
            self.automaton = ahocorasick_rs.AhoCorasick(
                self.terms, matchkind=ahocorasick_rs.MatchKind.Standard)
        return self

    # -- matching ---------------------------------------------------------------
    def find(self, text: str) -> list[tuple[int, int, int]]:
        """All (term index, start, end) occurrences in ``text``, overlapping."""
        if self.automaton is None:
            return []
        return self.automaton.find_matches_as_indexes(fold(text), overlapping=True)

    def cues_in(self, text: str) -> Cues:
        """Negation cue and clause-mark positions of ``text`` (computed once per text)."""
        return Cues(text, self.cue_regex, self.window)

    def negated(self, text: str, start: int, lo: int = 0) -> bool:
        """True when a negation cue stands within the window before ``start``."""
        return self.cues_in(text).negated(start, lo)

    def code_unit(self, text: str, lo: int, hi: int, hits: list[tuple[int, int, int]],
                  role: str | None, tokens: Callable[[str], list[tuple[int, int]]] | None = None,
                  cues: Cues | None = None) -> dict[str, list[Hit]]:
        """Apply the rules to ``text[lo:hi]`` given the automaton hits inside it.

        Returns code id -> surviving hits (offsets in ``text``). ``cues`` may carry the
        precomputed negation cues of ``text``.
        """
        codes = self.codebook.codes
        by_code: dict[str, list[Hit]] = {}
        excluded: set[str] = set()
        prox: dict[tuple[str, int], tuple[list[Hit], list[Hit]]] | None = None
        triggered: set[int] = set()
        terms, roles = self.terms, self.roles
        for ti, s, e in hits:
            for code, kind, i in roles[ti]:
                if kind == "keyword" or kind == "synonym" or kind == "negative":
                    hs = by_code.get(code)
                    if hs is None:
                        by_code[code] = [Hit(code, kind, terms[ti], s, e)]
                    else:
                        hs.append(Hit(code, kind, terms[ti], s, e))
                elif kind == "exclusion":
                    excluded.add(code)
                elif kind == "trigger":
                    triggered.add(i)
                else:
                    if prox is None:
                        prox = {}
                    pair = prox.setdefault((code, i), ([], []))
                    pair[0 if kind == "prox_a" else 1].append(
                        Hit(code, "proximity", terms[ti], s, e))
        for k in sorted(triggered) + self.untriggered:
            pat = self.patterns[k]
            if pat.code in excluded:
                continue
            for m in pat.regex.finditer(text, lo, hi):
                if m.end() > m.start():
                    by_code.setdefault(pat.code, []).append(
                        Hit(pat.code, "pattern", pat.source, m.start(), m.end()))
        if prox:
            for (code, i), (a_hits, b_hits) in prox.items():
                if not a_hits or not b_hits:
                    continue
                rule = codes[code].rules.proximity[i]
                within = int(rule.get("within", 10))
                found = _proximate(a_hits, b_hits, within, rule.get("unit", "char"), text, lo,
                                   hi, tokens)
                if found:
                    by_code.setdefault(code, []).extend(found)
        out: dict[str, list[Hit]] = {}
        for code, hs in by_code.items():
            if code in excluded:
                continue
            rules = codes[code].rules
            if role is not None and rules.speakers is not None and role not in rules.speakers:
                continue
            rx_ex = self.regex_exclusions.get(code)
            if rx_ex and any(rx.search(text, lo, hi) for rx in rx_ex):
                continue
            mode = rules.negation
            if mode == "ignore":
                out[code] = hs
                continue
            if cues is None:
                cues = self.cues_in(text)
            keep = []
            for h in hs:
                if h.kind != "negative" and cues.negated(h.start, lo):
                    if mode == "veto":
                        continue
                    h.negated = True
                keep.append(h)
            if keep:
                out[code] = keep
        return out


class Cues:
    """Where negation cues and clause marks stand in a text, for fast negation checks."""

    __slots__ = ("starts", "ends", "clauses", "window")

    def __init__(self, text: str, cue_regex: re.Pattern[str], window: int) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for m in cue_regex.finditer(text):
            self.starts.append(m.start())
            self.ends.append(m.end())
        self.clauses = [m.start() for m in _CLAUSE_RE.finditer(text)] if self.ends else []
        self.window = window

    def negated(self, start: int, lo: int = 0) -> bool:
        """True when a cue ends within ``window`` characters before ``start``, inside the
        unit (from ``lo``) and with no clause mark between the cue and ``start``."""
        i = bisect.bisect_right(self.ends, start) - 1
        if i >= 0:
            ce = self.ends[i]
            if start - ce > self.window:
                return False
            if self.starts[i] < lo:
                return False
            c = bisect.bisect_left(self.clauses, ce)
            return c >= len(self.clauses) or self.clauses[c] >= start
        return False


def _proximate(a_hits: list[Hit], b_hits: list[Hit], within: int, unit: str, text: str,
               lo: int, hi: int, tokens: Callable[[str], list[tuple[int, int]]] | None,
               ) -> list[Hit]:
    if unit == "token":
        if tokens is None:
            return []
        spans = [(lo + a, lo + b) for a, b in tokens(text[lo:hi])]
        starts = [s for s, _ in spans]

        def tok(pos: int) -> int:
            return bisect.bisect_right(starts, pos) - 1
    for a in a_hits:
        for b in b_hits:
            if a.start < b.end and b.start < a.end:
                continue
            if unit == "token":
                first, second = (a, b) if a.start < b.start else (b, a)
                gap = tok(second.start) - tok(first.end - 1) - 1
            else:
                gap = max(a.start, b.start) - min(a.end, b.end)
            if gap <= within:
                return [a, b]
    return []


def leading_literal(pattern: str) -> str:
    """The literal text every match of ``pattern`` starts with ('' when there is none)."""
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except re.error:
        return ""
    literal = re._constants.LITERAL  # type: ignore[attr-defined]
    out = []
    for op, arg in parsed:
        if op is literal:
            out.append(chr(arg))
        else:
            break
    return "".join(out)


# -- the pass --------------------------------------------------------------------------

@dataclass
class CodingReport:
    """What a coding pass did."""

    pass_name: str
    coder: str
    codebook_sha256: str
    sources: int = 0
    units: int = 0
    codings: int = 0
    metrics: int = 0
    chars: int = 0
    by_code: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("pass_name", "coder", "codebook_sha256", "sources",
                                               "units", "codings", "metrics", "chars", "by_code")}


def _units(store: Store, source: Source, unit: str, speakers: tuple[str, ...] | None
           ) -> list[tuple[int, int, int, str | None]]:
    """(segment id, start, end, role) of the units of ``source`` to code."""
    kinds = {"sentence": ("sentence",), "turn": ("turn",), "paragraph": ("paragraph", "turn")}
    rows = store.db.execute(
        "SELECT id, kind, start_char, end_char, role FROM segments WHERE source_id = ? "
        "ORDER BY start_char, id", (source.id,)
    ).fetchall()
    out = []
    for sid, kind, s, e, role in rows:
        if kind not in kinds[unit]:
            continue
        if speakers is not None and role is not None and role not in speakers:
            continue
        if unit == "paragraph" and kind == "turn" and source.kind != "interview":
            continue
        out.append((sid, s, e, role))
    return out


def code_source(cc: CompiledCodebook, source: Source, units: list[tuple[int, int, int, str | None]],
                pass_name: str, with_metrics: bool = True,
                tokens: Callable[[str], list[tuple[int, int]]] | None = None,
                ) -> tuple[list[tuple], list[tuple]]:
    """Code the units of one source; returns coding rows and metric rows for the store.

    Plain text is matched once over the whole source and the hits are grouped by unit,
    so units without a hit cost nothing; PDF text is read unit by unit through its clean
    view.
    """
    if not units:
        return [], []
    if source.attributes.get("_layout") == "pdf":
        return _code_units_pdf(cc, source, units, pass_name, with_metrics, tokens)
    text = source.text
    starts = [u[1] for u in units]
    grouped: dict[int, list[tuple[int, int, int]]] = {}
    for h in cc.find(text):
        k = bisect.bisect_right(starts, h[1]) - 1
        if k >= 0 and h[2] <= units[k][2]:
            grouped.setdefault(k, []).append(h)
    if cc.untriggered:
        for k in range(len(units)):
            grouped.setdefault(k, [])
    found: dict[int, list[metrics_mod.MetricHit]] = {}
    if with_metrics:
        for m in metrics_mod.extract(text, units[0][1], units[-1][2]):
            k = bisect.bisect_right(starts, m.start) - 1
            if k >= 0 and m.end <= units[k][2]:
                found.setdefault(k, []).append(m)
    rows: list[tuple] = []
    mrows: list[tuple] = []
    cues = cc.cues_in(text)
    for k in sorted(grouped.keys() | found.keys()):
        sid, s, e, role = units[k]
        hits = grouped.get(k)
        coded = cc.code_unit(text, s, e, hits, role, tokens, cues) if hits is not None else {}
        _emit(cc, source, pass_name, sid, s, e, coded, found.get(k, ()), _identity, rows,
              mrows)
    return rows, mrows


def _identity(i: int, j: int) -> tuple[int, int]:
    return i, j


def _code_units_pdf(cc: CompiledCodebook, source: Source,
                    units: list[tuple[int, int, int, str | None]], pass_name: str,
                    with_metrics: bool, tokens: Callable[[str], list[tuple[int, int]]] | None,
                    ) -> tuple[list[tuple], list[tuple]]:
    rows: list[tuple] = []
    mrows: list[tuple] = []
    for sid, s, e, role in units:
        view = clean_view(source.text, s, e, True)
        vtext = view.text
        coded = cc.code_unit(vtext, 0, len(vtext), cc.find(vtext), role, tokens)
        found = metrics_mod.extract(vtext, 0, len(vtext)) if with_metrics else []
        _emit(cc, source, pass_name, sid, s, e, coded, found, view.raw_span, rows, mrows)
    return rows, mrows


def _emit(cc: CompiledCodebook, source: Source, pass_name: str, sid: int, s: int, e: int,
          coded: dict[str, list[Hit]], found: Iterable[metrics_mod.MetricHit],
          to_raw: Callable[[int, int], tuple[int, int]], rows: list[tuple],
          mrows: list[tuple]) -> None:
    """Turn one unit's surviving hits and metrics into store rows."""
    text = source.text
    out_code = cc.out_code
    for m in found:
        if out_code:
            coded.setdefault(out_code, []).append(
                Hit(out_code, "metric", m.indicator, m.start, m.end))
        mrows.append((pass_name, source.id, s, e, m.indicator, m.before, m.after, m.change,
                      m.unit, m.direction, text[s:e]))
    coder = cc.codebook.coder
    for code_id in sorted(coded):
        hs = coded[code_id]
        ev = sorted({to_raw(h.start, h.end) for h in hs})
        kinds = sorted({f"{h.kind}:{h.term}" for h in hs})
        best = max(CONFIDENCE.get(h.kind, 0.7) for h in hs)
        conf = round(min(0.99, best + 0.05 * (len(ev) - 1)), 2)
        polarity = -1 if any(h.kind == "negative" or h.negated for h in hs) else 1
        evidence = "[" + ", ".join(f"[{a}, {b}]" for a, b in ev) + "]"
        rows.append((pass_name, source.id, code_id, s, e, evidence, " | ".join(kinds[:4]), conf,
                     coder, polarity, sid))


def code(store: Store, codebook: Codebook, pass_name: str = "rules", unit: str = "sentence",
         speakers: Iterable[str] | None = None, jobs: int = 1, with_metrics: bool = True,
         progress: Callable[[int], None] | None = None) -> CodingReport:
    """Run a rule-coding pass over the current sources and store it.

    Parameters
    ----------
    store : Store
        The open project store.
    codebook : Codebook
        The codebook (see :func:`casecoder.codebook.load_codebook`).
    pass_name : str, default="rules"
        The pass to (re)write; its earlier content is replaced in one transaction.
    unit : {"sentence", "turn", "paragraph"}, default="sentence"
        The coding unit.
    speakers : iterable of str, optional
        Roles coded in interviews; default the codebook's ``defaults.speaker_scope``
        (respondent).
    jobs : int, default=1
        Processes to spread the sources over.
    with_metrics : bool, default=True
        Also extract outcome metrics (coding their sentences ``out``).
    progress : callable, optional
        Called with the number of characters of each source once coded.
    """
    if unit not in UNITS:
        raise CasecoderError("CC202", unit=unit)
    if jobs < 1:
        raise CasecoderError("CC312", jobs=jobs)
    sources = store.sources()
    if not sources or store.db.execute("SELECT 1 FROM segments LIMIT 1").fetchone() is None:
        raise CasecoderError("CC310")
    scope = tuple(speakers) if speakers is not None else tuple(
        codebook.defaults.get("speaker_scope") or ("respondent",))
    cc = CompiledCodebook.build(codebook)
    tokens = _token_fn(cc)
    report = CodingReport(pass_name=pass_name, coder=codebook.coder,
                          codebook_sha256=codebook.sha256)
    options = {"unit": unit, "speakers": list(scope), "codebook": codebook.path,
               "metrics": with_metrics}
    work = [(src, _units(store, src, unit, scope)) for src in sources]
    results: Iterable[tuple[list[tuple], list[tuple], int]]
    if jobs > 1 and len(work) > 1:
        results = _parallel(cc, work, pass_name, with_metrics, jobs)
    else:
        results = ((*code_source(cc, src, units, pass_name, with_metrics, tokens),
                    len(src.text)) for src, units in work)
    with store.transaction():
        run_id = store.start_run("code", {**options, "pass": pass_name,
                                          "codebook_sha256": codebook.sha256})
        store.replace_pass(pass_name, codebook.coder, codebook.name, codebook.sha256, options,
                           run_id)
        for (rows, mrows, n_chars), (_src, units) in zip(results, work, strict=True):
            store.add_codings(rows)
            store.db.executemany(
                "INSERT INTO metrics (pass, source_id, start_char, end_char, indicator, before,"
                " after, change, unit, direction, quote) VALUES (?,?,?,?,?,?,?,?,?,?,?)", mrows)
            report.sources += 1
            report.units += len(units)
            report.codings += len(rows)
            report.metrics += len(mrows)
            report.chars += n_chars
            for r in rows:
                report.by_code[r[2]] = report.by_code.get(r[2], 0) + 1
            if progress:
                progress(n_chars)
        store.end_run(run_id)
    report.by_code = dict(sorted(report.by_code.items()))
    return report


def _token_fn(cc: CompiledCodebook) -> Callable[[str], list[tuple[int, int]]] | None:
    needs = any(r.get("unit") == "token" for c in cc.codebook.codes.values()
                for r in c.rules.proximity)
    if not needs:
        return None
    from casecoder.lang_zh import ZhTokenizer

    tok = ZhTokenizer(codebook_terms(cc.codebook))
    return tok.spans


def codebook_terms(codebook: Codebook) -> list[str]:
    """Every literal term of a codebook (for the tokenizer's user dictionary)."""
    out: list[str] = []
    for c in codebook.codes.values():
        r = c.rules
        out += r.keywords + r.synonyms + list(getattr(r, "negative_keywords", []))
        for rule in r.proximity:
            out += list(rule.get("a", [])) + list(rule.get("b", []))
    return sorted(set(out))


_WORK: dict[str, Any] = {}


def _work_one(i: int) -> tuple[list[tuple], list[tuple], int]:
    cc, work, pass_name, with_metrics = _WORK["args"]
    src, units = work[i]
    return (*code_source(cc, src, units, pass_name, with_metrics, _token_fn(cc)), len(src.text))


def _parallel(cc: CompiledCodebook, work: list, pass_name: str, with_metrics: bool,
              jobs: int) -> list[tuple[list[tuple], list[tuple], int]]:
    import multiprocessing

    _WORK["args"] = (cc, work, pass_name, with_metrics)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        return pool.map(_work_one, range(len(work)), chunksize=max(1, len(work) // (jobs * 4)))
