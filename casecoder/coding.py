"""Coding: apply a codebook's rules to stored segments, with evidence spans.

How a unit (a sentence by default; turn or paragraph as options) is coded:

* every literal term of the codebook (keywords, synonyms, negative keywords, literal
  exclusions, proximity terms, and literals the regexes need) is found in one pass of an
  Aho-Corasick automaton over the source's text (ASCII letters compared
  case-insensitively); a regex that starts with literal text is run only on units where
  that text occurs, any other regex as if on every unit (in fact only on the units that
  hold, for each part of the regex that must contain one of some literals, one of them:
  see :func:`required_literals`; a regex cannot match elsewhere);
* a token pattern (spaCy ``Matcher`` patterns over the jieba tokens of a
  ``spacy.blank("zh")`` pipeline, :mod:`casecoder.lang_zh`) runs only on units holding,
  for each token it requires with a given text, one of those texts (see
  :func:`casecoder.codebook.token_needs`); the unit's text is cut then, once, with the
  codebook's terms in the tokenizer's user dictionary, and token proximity rules measure
  their distance in the same tokens;
* a hit is *negated* when a negation cue (``defaults.negation.cues``) stands within
  ``window`` characters before it, with no clause punctuation between and the cue not
  part of an exception word such as 不断; what a negated hit does follows the code's
  ``negation`` mode: ``veto`` drops it, ``ignore`` keeps it, ``polarity`` keeps it
  with polarity -1;
* any exclusion of the code in the unit vetoes the code there;
* the code is applied when at least one hit survives: the coding carries the unit's
  span, the evidence spans of the hits, the rules that fired and a confidence (the
  best rule's: keyword 0.9, negative keyword 0.9, pattern 0.8, token pattern 0.8,
  synonym 0.75, proximity 0.7; plus 0.05 per further distinct hit, at most 0.99).

Quantified changes found by :mod:`casecoder.metrics` code their sentence ``out``.
A pass is written in one transaction that first removes the pass's earlier content;
other passes are untouched.

Plain-text sources whose units do not overlap (the sentences, turns and paragraphs that
ingest makes) are coded many at a time with array operations (:class:`_Batch`): only
regexes, token patterns, proximity rules, regex exclusions and speaker limits run unit by
unit in Python.
Sources with overlapping units, and PDF text, read through its clean view, are coded unit
by unit with :meth:`CompiledCodebook.code_unit`. Both give the same codings.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from casecoder import metrics as metrics_mod
from casecoder.codebook import token_literals, token_needs
from casecoder.errors import CasecoderError
from casecoder.models import Codebook, Source
from casecoder.segment import clean_view
from casecoder.store import Store

CONFIDENCE = {"keyword": 0.9, "negative": 0.9, "pattern": 0.8, "token": 0.8, "synonym": 0.75,
              "proximity": 0.7, "metric": 0.9}
DEFAULT_CUES = ("未", "没有", "缺乏", "缺少", "不", "无", "尚未", "难以")
DEFAULT_CUE_EXCEPTIONS = ("不断", "不仅", "不少", "不同", "不只", "不但", "无论", "不论",
                          "不必", "无缝", "不可或缺", "不定期", "未来", "无偿", "不久")
_CLAUSE_RE = re.compile(r"[，,、：:；;。！？!?\n（）()]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
UNITS = ("sentence", "turn", "paragraph")

Unit = tuple[int, int, int, str | None]
"""A unit to code: (segment id, start, end, role)."""

# Kinds of evidence (a hit that can make a code apply), numbered for the array path.
_EVIDENCE_KINDS = ("keyword", "synonym", "negative", "pattern", "proximity", "metric",
                   "token")
_KEYWORD, _SYNONYM, _NEGATIVE, _PATTERN, _PROXIMITY, _METRIC, _TOKEN = range(7)
# The other roles an automaton term can play.
_EXCLUSION, _TRIGGER, _NEED, _PROX_A, _PROX_B, _TOKEN_NEED = range(7, 13)
_ROLE_KINDS = {"keyword": _KEYWORD, "synonym": _SYNONYM, "negative": _NEGATIVE,
               "exclusion": _EXCLUSION, "trigger": _TRIGGER, "need": _NEED,
               "prox_a": _PROX_A, "prox_b": _PROX_B, "token": _TOKEN_NEED}
# Rows of the evidence arrays of _Batch; role arrays add the last two.
_U, _C, _S, _E, _L, _K, _P, _A, _T = range(9)
# Negation modes of a code.
_IGNORE, _VETO, _POLARITY = range(3)
# Plain-text sources coded together: about this many characters per batch (larger batches
# are no faster and hold more rows in memory).
_BATCH_CHARS = 1 << 17


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
class _TokenPattern:
    code: str
    pattern: list[dict[str, Any]]
    label: str
    needs: int  # how many literal sets (see codebook.token_needs) a unit must hold


@dataclass
class CompiledCodebook:
    """A codebook made ready for matching (built once per pass)."""

    codebook: Codebook
    terms: list[str] = field(default_factory=list)
    # per automaton term: (code, kind, index) entries
    roles: list[list[tuple[str, str, int]]] = field(default_factory=list)
    patterns: list[_Pattern] = field(default_factory=list)
    # patterns without one leading literal: run on every unit by code_unit
    untriggered: list[int] = field(default_factory=list)
    # per set of literals a pattern's match needs (see required_literals), the pattern;
    # the array path runs a pattern where one literal of each of its sets occurs
    needs: list[int] = field(default_factory=list)
    # patterns without such a set: run on every unit by the array path too
    everywhere: list[int] = field(default_factory=list)
    regex_exclusions: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)
    token_patterns: list[_TokenPattern] = field(default_factory=list)
    # per set of literals a token pattern needs, the token pattern (all code paths run a
    # token pattern only where one literal of each of its sets occurs)
    token_needs: list[int] = field(default_factory=list)
    cues: tuple[str, ...] = DEFAULT_CUES
    cue_exceptions: tuple[str, ...] = DEFAULT_CUE_EXCEPTIONS
    window: int = 3
    automaton: Any = None
    out_code: str | None = None
    cue_regex: re.Pattern[str] = field(default_factory=lambda: re.compile("(?!)"))
    _tables: _Tables | None = field(default=None, repr=False, compare=False)
    _matcher: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, codebook: Codebook) -> CompiledCodebook:
        import ahocorasick_rs

        neg = codebook.defaults.get("negation") or {}
        self = cls(codebook=codebook)
        self.cues = tuple(neg.get("cues") or DEFAULT_CUES)
        self.cue_exceptions = tuple(
            dict.fromkeys([*DEFAULT_CUE_EXCEPTIONS, *(neg.get("exceptions") or [])]))
        self.window = int(neg.get("window", 3))
        self.cue_regex = _cue_regex(self.cues, self.cue_exceptions)
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
                needs = [(lead,)] if lead else []
                needs += [lits for lits in required_literals(p) if lits not in needs]
                for lits in needs:
                    for t in lits:
                        add(t, code.id, "need", len(self.needs))
                    self.needs.append(k)
                if not needs:
                    self.everywhere.append(k)
            for pattern in r.token_patterns:
                k = len(self.token_patterns)
                sets = token_needs(pattern)
                label = json.dumps(pattern, ensure_ascii=False, separators=(",", ":"))
                self.token_patterns.append(_TokenPattern(code.id, pattern, label, len(sets)))
                for lits in sets:
                    for t in lits:
                        add(t, code.id, "token", len(self.token_needs))
                    self.token_needs.append(k)
        if self.terms:
            self.automaton = ahocorasick_rs.AhoCorasick(
                self.terms, matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.DFA)
        return self

    # -- matching ---------------------------------------------------------------
    def find(self, text: str) -> list[tuple[int, int, int]]:
        """All (term index, start, end) occurrences in ``text``, overlapping."""
        if self.automaton is None:
            return []
        return self.automaton.find_matches_as_indexes(fold(text), overlapping=True)

    def token_matcher(self) -> Any:
        """The :class:`casecoder.lang_zh.TokenMatcher` of the token patterns, on the
        process's tokenizer for this codebook (built on first use)."""
        if self._matcher is None:
            from casecoder.lang_zh import TokenMatcher

            self._matcher = TokenMatcher(_tokenizer(self.codebook),
                                         [p.pattern for p in self.token_patterns])
        return self._matcher

    def token_hits(self, text: str, lo: int, hi: int, which: Iterable[int],
                   ) -> list[tuple[int, int, int]]:
        """``(token pattern, start, end)`` of the matches of the token patterns ``which``
        in ``text[lo:hi]`` (offsets in ``text``)."""
        return [(k, lo + s, lo + e)
                for k, s, e in self.token_matcher().find(text[lo:hi], which)]

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
        precomputed negation cues of ``text``. Regexes without one leading literal run
        whatever the hits.
        """
        codes = self.codebook.codes
        by_code: dict[str, list[Hit]] = {}
        excluded: set[str] = set()
        prox: dict[tuple[str, int], tuple[list[Hit], list[Hit]]] | None = None
        triggered: set[int] = set()
        token_sets: set[int] | None = None
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
                elif kind == "need":
                    continue  # for the array path (_Batch)
                elif kind == "token":
                    if token_sets is None:
                        token_sets = set()
                    token_sets.add(i)
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
        if token_sets:
            held = Counter(self.token_needs[i] for i in token_sets)
            ready = [k for k, n in held.items() if n == self.token_patterns[k].needs
                     and self.token_patterns[k].code not in excluded]
            for k, s, e in self.token_hits(text, lo, hi, ready):
                tp = self.token_patterns[k]
                by_code.setdefault(tp.code, []).append(Hit(tp.code, "token", tp.label, s, e))
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

    def tables(self) -> _Tables:
        """The codebook as arrays, for :class:`_Batch` (built on first use)."""
        if self._tables is None:
            self._tables = _Tables.build(self)
        return self._tables


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


def _cue_regex(cues: Sequence[str], exceptions: Sequence[str]) -> re.Pattern[str]:
    """The regex of the negation cues: a cue, longest first, where no exception word
    starts.

    Written as one branch per cue that tests, after the cue's first character, the rest
    of the exception words sharing it, so the regex engine can skip to the characters
    that begin a cue; with an empty cue or exception, the direct form.
    """
    by_len = sorted(cues, key=len, reverse=True)
    exc = sorted(exceptions, key=len, reverse=True)
    if all(by_len) and all(exc):
        branches = []
        for c in by_len:
            tails = [e[1:] for e in exc if e[0] == c[0]]
            if "" in tails:  # a one-character exception vetoes every cue it begins
                continue
            rest = "|".join(re.escape(t) for t in tails)
            branches.append(re.escape(c[0]) + (f"(?!{rest})" if rest else "")
                            + re.escape(c[1:]))
        return re.compile("|".join(branches) or "(?!)")
    exceptions_re = "|".join(re.escape(w) for w in exc)
    cues_re = "|".join(re.escape(c) for c in by_len)
    return re.compile(f"(?!{exceptions_re})(?:{cues_re})" if exceptions_re else
                      f"(?:{cues_re})")


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


def required_literals(pattern: str) -> list[tuple[str, ...]]:
    """Sets of literals such that every match of ``pattern`` contains one of each set.

    Found from the parts of the parsed regex: literal text, and groups, choices of
    alternatives or sets of single characters whose every alternative starts with a
    literal. Only literals made of characters without case (Chinese text, digits,
    punctuation) are kept: the regex, compiled case-insensitively, matches them only as
    they are, and :func:`fold` keeps them.

    Examples
    --------
    >>> required_literals("(?:宣传|解读)[^，。]{0,8}?政策")
    [('宣传', '解读'), ('政策',)]
    >>> required_literals("[已并]在.{1,4}推广")
    [('已', '并'), ('在',), ('推广',)]
    >>> required_literals("(?:平台|APP).{0,4}(?:到|至)?")
    []
    """
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except re.error:
        return []
    literal = re._constants.LITERAL  # type: ignore[attr-defined]
    found: list[list[str] | None] = []
    run: list[str] = []
    for op, arg in [*parsed, (None, None)]:
        if op is literal:
            run.append(chr(arg))
            continue
        if run:
            found.append(["".join(run)])
            run = []
        if op is not None:
            found.append(_leads([(op, arg)]))
    out = []
    for lits in found:
        if lits and all(ch.lower() == ch == ch.upper() for t in lits for ch in t):
            out.append(tuple(dict.fromkeys(lits)))
    return out


def _leads(items: list[tuple[Any, Any]]) -> list[str] | None:
    """Literals one of which every match of a parsed regex sequence starts with
    (``None`` when not known)."""
    c = re._constants  # type: ignore[attr-defined]
    prefix = []
    for op, arg in items:
        if op is c.LITERAL:
            prefix.append(chr(arg))
            continue
        if prefix:
            break
        if op is c.SUBPATTERN:
            return _leads(list(arg[-1]))
        if op is c.BRANCH:
            out: list[str] = []
            for alt in arg[1]:
                sub = _leads(list(alt))
                if not sub:
                    return None
                out += sub
            return out
        if op is c.IN and arg and all(o is c.LITERAL for o, _ in arg):
            return [chr(a) for _, a in arg]
        return None
    return ["".join(prefix)] if prefix else None


# -- coding many units with arrays -----------------------------------------------------

@dataclass
class _Tables:
    """A compiled codebook as arrays: per automaton term, its roles in CSR form.

    Codes are numbered in the order of their ids, so sorting by number sorts by id.
    Every evidence a term or pattern can give has a label ``kind:term`` numbered in
    ``labels``.
    """

    code_ids: list[str]
    code_mode: NDArray[np.int8]
    speakers: dict[int, frozenset[str]]
    rx_exclusions: dict[int, list[re.Pattern[str]]]
    role_ptr: NDArray[np.int64]
    role_code: NDArray[np.int64]
    role_kind: NDArray[np.int8]
    role_arg: NDArray[np.int64]
    role_label: NDArray[np.int64]
    pattern_code: NDArray[np.int64]
    pattern_label: list[int]
    pattern_needs: NDArray[np.int64]
    need_pattern: NDArray[np.int64]
    token_code: NDArray[np.int64]
    token_label: list[int]
    token_needs: NDArray[np.int64]
    token_need_pattern: NDArray[np.int64]
    labels: list[str]
    label_index: dict[str, int]
    kind_conf: NDArray[np.float64]

    @classmethod
    def build(cls, cc: CompiledCodebook) -> _Tables:
        codes = cc.codebook.codes
        code_ids = sorted(codes)
        number = {cid: i for i, cid in enumerate(code_ids)}
        modes = {"ignore": _IGNORE, "veto": _VETO}
        labels: list[str] = []
        label_index: dict[str, int] = {}

        def label(text: str) -> int:
            if text not in label_index:
                label_index[text] = len(labels)
                labels.append(text)
            return label_index[text]

        ptr, code, kind, arg, lab = [0], [], [], [], []
        for term, roles in zip(cc.terms, cc.roles, strict=True):
            for cid, k, i in roles:
                kid = _ROLE_KINDS[k]
                code.append(number[cid])
                kind.append(kid)
                arg.append(i)
                if kid <= _NEGATIVE:
                    lab.append(label(f"{k}:{term}"))
                elif kid in (_PROX_A, _PROX_B):
                    lab.append(label(f"proximity:{term}"))
                else:
                    lab.append(-1)
            ptr.append(len(code))
        return cls(
            code_ids=code_ids,
            code_mode=np.array([modes.get(codes[c].rules.negation, _POLARITY)
                                for c in code_ids], dtype=np.int8),
            speakers={number[c]: frozenset(codes[c].rules.speakers) for c in code_ids
                      if codes[c].rules.speakers is not None},
            rx_exclusions={number[c]: rxs for c, rxs in cc.regex_exclusions.items()},
            role_ptr=np.array(ptr, dtype=np.int64),
            role_code=np.array(code, dtype=np.int64),
            role_kind=np.array(kind, dtype=np.int8),
            role_arg=np.array(arg, dtype=np.int64),
            role_label=np.array(lab, dtype=np.int64),
            pattern_code=np.array([number[p.code] for p in cc.patterns], dtype=np.int64),
            pattern_label=[label(f"pattern:{p.source}") for p in cc.patterns],
            pattern_needs=np.bincount(np.array(cc.needs, dtype=np.int64),
                                      minlength=len(cc.patterns)),
            need_pattern=np.array(cc.needs, dtype=np.int64),
            token_code=np.array([number[p.code] for p in cc.token_patterns], dtype=np.int64),
            token_label=[label(f"token:{p.label}") for p in cc.token_patterns],
            token_needs=np.array([p.needs for p in cc.token_patterns], dtype=np.int64),
            token_need_pattern=np.array(cc.token_needs, dtype=np.int64),
            labels=labels,
            label_index=label_index,
            kind_conf=np.array([CONFIDENCE.get(k, 0.7) for k in _EVIDENCE_KINDS]),
        )


def _disjoint(units: list[Unit], length: int) -> bool:
    """True when ``units`` (sorted by start) lie inside the text and do not overlap."""
    prev = 0
    for _sid, s, e, _role in units:
        if s < prev or e < s:
            return False
        prev = e
    return prev <= length


class _Batch:
    """Plain-text sources with disjoint units, coded together with array operations.

    Positions are global: the text of source ``j`` starts at ``base[j]`` in the
    concatenation of the batch's texts, and units are numbered across the batch. As in
    :meth:`CompiledCodebook.code_unit`, a hit belongs to the unit with the last start at
    or before it when it ends inside that unit; the rules are then applied to all hits at
    once, and only regexes, proximity rules, regex exclusions and speaker limits run in
    Python, on the units they concern. Evidence is kept as an array with one column per
    hit and the rows ``_U`` (unit), ``_C`` (code), ``_S``, ``_E`` (global start and end),
    ``_L`` (label), ``_K`` (kind) and ``_P`` (1 when it makes the polarity -1).
    """

    def __init__(self, cc: CompiledCodebook, items: Sequence[tuple[Source, list[Unit]]],
                 pass_name: str, with_metrics: bool,
                 tokens: Callable[[str], list[tuple[int, int]]] | None) -> None:
        self.cc, self.items, self.pass_name, self.tokens = cc, items, pass_name, tokens
        self.tb = cc.tables()
        self.ncodes = len(self.tb.code_ids)
        self.texts = texts = [src.text for src, _ in items]
        self.base = base = [0]
        for t in texts:
            base.append(base[-1] + len(t))
        # units, numbered across the batch; source j has units first_unit[j]:first_unit[j+1]
        self.sids: list[int] = []
        self.roles: list[str | None] = []
        self.first_unit = [0]
        starts: list[int] = []
        ends: list[int] = []
        for (_src, units), b in zip(items, base[:-1], strict=True):
            self.sids += [u[0] for u in units]
            self.roles += [u[3] for u in units]
            starts += [u[1] + b for u in units]
            ends += [u[2] + b for u in units]
            self.first_unit.append(len(starts))
        self.ustart = np.array(starts, dtype=np.int64)
        self.uend = np.array(ends, dtype=np.int64)
        self.usrc = np.repeat(np.arange(len(items)), np.diff(self.first_unit))
        self.ubase = np.array(base[:-1], dtype=np.int64)[self.usrc]
        # automaton hits, negation cues and metrics, source by source
        hit_parts, cue_parts = [], []
        self.metric_rows: list[list[tuple]] = []
        self.metric_hits: list[tuple[int, int, int, str]] = []  # unit, start, end, label
        for j, (src, units) in enumerate(items):
            hits = cc.find(texts[j])
            part = np.fromiter(chain.from_iterable(hits), dtype=np.int64, count=3 * len(hits))
            part = part.reshape(-1, 3)
            part[:, 1:] += base[j]
            hit_parts.append(part)
            cue_parts.append(self._cues(texts[j], base[j]))
            self.metric_rows.append(self._metrics(src, units, j) if with_metrics and units
                                    else [])
        self.hits = np.concatenate(hit_parts).T if hit_parts else np.zeros((3, 0), np.int64)
        cues = np.concatenate(cue_parts, axis=1) if cue_parts else np.zeros((3, 0), np.int64)
        self.cue_start, self.cue_end, self.cue_clause = cues

    def _cues(self, text: str, b: int) -> NDArray[np.int64]:
        """Start, end and next clause mark of each negation cue of ``text`` (shifted by
        ``b``): the first clause mark at or after the cue's end, or the end plus the
        window when there is none before that (no hit further away is negated)."""
        w = self.cc.window
        rows = []
        for m in self.cc.cue_regex.finditer(text):
            s, e = m.span()
            c = _CLAUSE_RE.search(text, e, e + w)
            rows.append((s, e, c.start() if c else e + w))
        return np.array(rows, dtype=np.int64).reshape(-1, 3).T + b

    def _metrics(self, src: Source, units: list[Unit], j: int) -> list[tuple]:
        """Metric rows of source ``j``; keeps its metric hits for the ``out`` code."""
        text, b, u0 = src.text, self.base[j], self.first_unit[j]
        starts = [u[1] for u in units]
        rows = []
        for m in metrics_mod.extract(text, units[0][1], units[-1][2]):
            k = bisect.bisect_right(starts, m.start) - 1
            if k >= 0 and m.end <= units[k][2]:
                _sid, s, e, _role = units[k]
                rows.append((self.pass_name, src.id, s, e, m.indicator, m.before, m.after,
                             m.change, m.unit, m.direction, text[s:e], m.qualifier,
                             m.before_qualifier))
                self.metric_hits.append((u0 + k, m.start + b, m.end + b,
                                         f"metric:{m.indicator}"))
        return rows

    def _span(self, k: int) -> tuple[str, int, int, int]:
        """Text, start and end (in that text) of unit ``k``, and the text's base."""
        j = int(self.usrc[k])
        b = self.base[j]
        return self.texts[j], int(self.ustart[k]) - b, int(self.uend[k]) - b, b

    # -- the steps ------------------------------------------------------------------
    def rows(self) -> list[tuple[list[tuple], list[tuple]]]:
        """Coding rows and metric rows of each source, as :func:`code_source` gives them."""
        n = self.ncodes
        roles = self._roles()
        kind = roles[_K]
        excl = roles[:, kind == _EXCLUSION]
        excluded = _unique(excl[_U] * n + excl[_C])
        parts = [roles[:_A, kind <= _NEGATIVE], self._pattern_hits(roles, excluded),
                 self._proximity_hits(roles, excluded)]
        if self.cc.token_patterns:
            parts.append(self._token_hits(roles, excluded))
        ev = np.concatenate(parts, axis=1)
        key = ev[_U] * n + ev[_C]
        keys = _unique(key)
        keys = keys[~np.isin(keys, excluded, assume_unique=True)]
        ev = ev[:, ~np.isin(key, np.concatenate([excluded, self._vetoed(keys)]))]
        ev = self._negation(ev)
        ev, labels = self._with_metrics(ev)
        return self._assemble(ev, labels)

    def _roles(self) -> NDArray[np.int64]:
        """One column per (hit inside a unit, role of its term), with the fields of
        evidence (``_U`` to ``_P``, the polarity flag left 0) and the role's pattern or
        rule index (``_A``) and term (``_T``)."""
        tb = self.tb
        term, start, end = self.hits
        k = np.searchsorted(self.ustart, start, side="right") - 1
        ok = k >= 0
        ok[ok] = end[ok] <= self.uend[k[ok]]
        term, start, end, k = term[ok], start[ok], end[ok], k[ok]
        count = tb.role_ptr[term + 1] - tb.role_ptr[term]
        hit = np.repeat(np.arange(len(term)), count)
        pos = np.arange(len(hit)) + np.repeat(tb.role_ptr[term] - (np.cumsum(count) - count),
                                              count)
        out = np.zeros((_T + 1, len(pos)), dtype=np.int64)
        out[_U], out[_C], out[_S], out[_E] = k[hit], tb.role_code[pos], start[hit], end[hit]
        out[_L], out[_K], out[_A], out[_T] = (tb.role_label[pos], tb.role_kind[pos],
                                              tb.role_arg[pos], term[hit])
        return out

    def _pattern_hits(self, roles: NDArray[np.int64], excluded: NDArray[np.int64],
                      ) -> NDArray[np.int64]:
        """Evidence of the regexes, on the units of :meth:`_pattern_units`."""
        k, p = self._pattern_units(roles, excluded)
        src, b = self.usrc[k].tolist(), self.ubase[k].tolist()
        lo = (self.ustart[k] - self.ubase[k]).tolist()
        hi = (self.uend[k] - self.ubase[k]).tolist()
        regex = [pat.regex for pat in self.cc.patterns]
        code, label, texts = self.tb.pattern_code.tolist(), self.tb.pattern_label, self.texts
        out = []
        for i, (k_, p_) in enumerate(zip(k.tolist(), p.tolist(), strict=True)):
            for m in regex[p_].finditer(texts[src[i]], lo[i], hi[i]):
                s, e = m.span()
                if e > s:
                    out.append((k_, code[p_], s + b[i], e + b[i], label[p_], _PATTERN, 0))
        return np.array(out, dtype=np.int64).reshape(-1, _A).T

    def _pattern_units(self, roles: NDArray[np.int64], excluded: NDArray[np.int64],
                       ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The (unit, pattern) pairs to run, sorted: the units holding a literal of each
        set the pattern needs (every unit for a pattern without such sets), unless the
        pattern's code is excluded there."""
        cc, tb = self.cc, self.tb
        npat, nneed = len(cc.patterns), len(cc.needs)
        pairs = [np.zeros(0, np.int64)]
        if nneed:
            pairs.append(_holding(roles[:, roles[_K] == _NEED], npat, tb.need_pattern,
                                  tb.pattern_needs))
        if cc.everywhere:
            every = np.arange(len(self.ustart))[:, None] * npat
            pairs.append((every + np.array(cc.everywhere)[None, :]).ravel())
        pair = _unique(np.concatenate(pairs))
        k, p = pair // max(npat, 1), pair % max(npat, 1)
        keep = ~np.isin(k * self.ncodes + tb.pattern_code[p], excluded)
        return k[keep], p[keep]

    def _token_hits(self, roles: NDArray[np.int64], excluded: NDArray[np.int64],
                    ) -> NDArray[np.int64]:
        """Evidence of the token patterns, on the units holding a literal of each set the
        pattern needs, unless the pattern's code is excluded there; each such unit is
        cut once."""
        cc, tb = self.cc, self.tb
        npat = len(cc.token_patterns)
        need = roles[:, roles[_K] == _TOKEN_NEED]
        out: list[tuple[int, ...]] = []
        if len(need[_K]):
            pair = _holding(need, npat, tb.token_need_pattern, tb.token_needs)
            k, p = pair // npat, pair % npat
            keep = ~np.isin(k * self.ncodes + tb.token_code[p], excluded)
            by_unit: dict[int, list[int]] = {}
            for k_, p_ in zip(k[keep].tolist(), p[keep].tolist(), strict=True):
                by_unit.setdefault(k_, []).append(p_)
            code, label = tb.token_code.tolist(), tb.token_label
            for k_, ps in by_unit.items():
                text, lo, hi, b = self._span(k_)
                for p_, s, e in cc.token_hits(text, lo, hi, ps):
                    out.append((k_, code[p_], s + b, e + b, label[p_], _TOKEN, 0))
        return np.array(out, dtype=np.int64).reshape(-1, _A).T

    def _proximity_hits(self, roles: NDArray[np.int64], excluded: NDArray[np.int64],
                        ) -> NDArray[np.int64]:
        """Evidence of the proximity rules with both sides in a unit."""
        kind = roles[_K]
        prox = roles[:, (kind == _PROX_A) | (kind == _PROX_B)]
        out: list[tuple[int, ...]] = []
        if len(prox[_K]):
            rules, n = 1 + int(prox[_A].max()), self.ncodes
            group = (prox[_U] * n + prox[_C]) * rules + prox[_A]
            is_a = prox[_K] == _PROX_A
            a_groups, b_groups = _unique(group[is_a]), _unique(group[~is_a])
            both = a_groups[np.isin(a_groups, b_groups, assume_unique=True)]
            both = both[~np.isin(both // rules, excluded)]
            sel = np.isin(group, both)
            sides: dict[int, tuple[list[Hit], list[Hit]]] = {}
            terms, code_ids = self.cc.terms, self.tb.code_ids
            for g, k, c, s, e, kd, t in zip(
                    *(x.tolist() for x in (group[sel], *prox[[_U, _C, _S, _E, _K, _T]][:, sel])),
                    strict=True):
                b = self.base[int(self.usrc[k])]
                pair = sides.setdefault(g, ([], []))
                pair[0 if kd == _PROX_A else 1].append(
                    Hit(code_ids[c], "proximity", terms[t], s - b, e - b))
            codes = self.cc.codebook.codes
            for g, (a_hits, b_hits) in sides.items():
                k, c, i = g // rules // n, g // rules % n, g % rules
                rule = codes[code_ids[c]].rules.proximity[i]
                text, lo, hi, b = self._span(k)
                for h in _proximate(a_hits, b_hits, int(rule.get("within", 10)),
                                    rule.get("unit", "char"), text, lo, hi, self.tokens):
                    out.append((k, c, h.start + b, h.end + b,
                                self.tb.label_index[f"proximity:{h.term}"], _PROXIMITY, 0))
        return np.array(out, dtype=np.int64).reshape(-1, _A).T

    def _vetoed(self, keys: NDArray[np.int64]) -> NDArray[np.int64]:
        """Of the (unit, code) keys with evidence, those the code's speaker limit or a
        regex exclusion rules out."""
        tb = self.tb
        limited = sorted(tb.speakers.keys() | tb.rx_exclusions.keys())
        out = []
        for key in keys[np.isin(keys % self.ncodes, limited)].tolist():
            k, c = divmod(key, self.ncodes)
            role, allowed = self.roles[k], tb.speakers.get(c)
            if role is not None and allowed is not None and role not in allowed:
                out.append(key)
                continue
            rxs = tb.rx_exclusions.get(c)
            if rxs:
                text, lo, hi, _b = self._span(k)
                if any(rx.search(text, lo, hi) for rx in rxs):
                    out.append(key)
        return np.array(out, dtype=np.int64)

    def _negation(self, ev: NDArray[np.int64]) -> NDArray[np.int64]:
        """Apply each code's negation mode: drop vetoed hits, flag polarity ones."""
        mode = self.tb.code_mode[ev[_C]]
        need = np.flatnonzero((mode != _IGNORE) & (ev[_K] != _NEGATIVE))
        negated = np.zeros(len(mode), dtype=bool)
        if len(need) and len(self.cue_end):
            start = ev[_S, need]
            i = np.searchsorted(self.cue_end, start, side="right") - 1
            ic = np.maximum(i, 0)
            negated[need] = ((i >= 0) & (start - self.cue_end[ic] <= self.cc.window)
                             & (self.cue_start[ic] >= self.ustart[ev[_U, need]])
                             & (self.cue_clause[ic] >= start))
        ev[_P] = (ev[_K] == _NEGATIVE) | (negated & (mode == _POLARITY))
        return ev[:, ~(negated & (mode == _VETO))]

    def _with_metrics(self, ev: NDArray[np.int64]) -> tuple[NDArray[np.int64], list[str]]:
        """Add the metric hits (code ``out``, never negated or excluded) and return the
        labels, static ones first."""
        labels = self.tb.labels
        out_code = self.cc.out_code
        if out_code is None or not self.metric_hits:
            return ev, labels
        labels = list(labels)
        index: dict[str, int] = {}
        c = self.tb.code_ids.index(out_code)
        rows = []
        for k, s, e, label in self.metric_hits:
            if label not in index:
                index[label] = len(labels)
                labels.append(label)
            rows.append((k, c, s, e, index[label], _METRIC, 0))
        return np.concatenate([ev, np.array(rows, dtype=np.int64).T], axis=1), labels

    def _assemble(self, ev: NDArray[np.int64], labels: list[str],
                  ) -> list[tuple[list[tuple], list[tuple]]]:
        """Group the evidence by (unit, code) and write one coding row per group, in
        unit order and then code id order, as ``_emit`` does."""
        if not len(ev[_U]):
            return [([], mrows) for mrows in self.metric_rows]
        n = self.ncodes
        key = ev[_U] * n + ev[_C]
        # evidence spans: sorted and distinct within a group
        o = np.lexsort((ev[_E], ev[_S], key))
        key_o, s_o, e_o = key[o], ev[_S, o], ev[_E, o]
        new_key = np.ones(len(o), dtype=bool)
        new_key[1:] = key_o[1:] != key_o[:-1]
        first = np.flatnonzero(new_key)
        new_span = new_key.copy()
        new_span[1:] |= (s_o[1:] != s_o[:-1]) | (e_o[1:] != e_o[:-1])
        n_spans = np.add.reduceat(new_span, first)
        best = np.maximum.reduceat(self.tb.kind_conf[ev[_K, o]], first)
        negative = np.maximum.reduceat(ev[_P, o], first)
        # rule labels: sorted by text and distinct within a group
        order = sorted(range(len(labels)), key=labels.__getitem__)
        rank = np.empty(len(labels), dtype=np.int64)
        rank[order] = np.arange(len(labels))
        lab = rank[ev[_L]]
        lab_o = lab[np.lexsort((lab, key))]
        new_lab = new_key.copy()
        new_lab[1:] |= lab_o[1:] != lab_o[:-1]
        n_labs = np.add.reduceat(new_lab, first)
        # the group's unit and the text offsets in its source
        gkey = key_o[first]
        gunit, gcode = gkey // n, gkey % n
        shift = self.ubase[key_o[new_span] // n]
        evidence = _evidence_texts(s_o[new_span] - shift, e_o[new_span] - shift, n_spans)
        rules = _rule_texts([labels[i] for i in order], lab_o[new_lab], n_labs)
        confidence = _confidences(best, n_spans)
        src_ids = [src.id for src, _ in self.items]
        coder = self.cc.codebook.coder
        code_ids = self.tb.code_ids
        rows = list(zip(
            repeat(self.pass_name),
            [src_ids[j] for j in self.usrc[gunit].tolist()],
            [code_ids[c] for c in gcode.tolist()],
            (self.ustart[gunit] - self.ubase[gunit]).tolist(),
            (self.uend[gunit] - self.ubase[gunit]).tolist(),
            evidence, rules, confidence, repeat(coder),
            [-1 if x else 1 for x in negative.tolist()],
            [self.sids[k] for k in gunit.tolist()],
        ))
        cut = np.searchsorted(gunit, self.first_unit).tolist()
        return [(rows[cut[j]:cut[j + 1]], self.metric_rows[j]) for j in range(len(self.items))]


def _holding(need: NDArray[np.int64], npat: int, need_pattern: NDArray[np.int64],
             needs: NDArray[np.int64]) -> NDArray[np.int64]:
    """The ``unit * npat + pattern`` pairs, sorted, whose unit holds a literal of every
    literal set the pattern needs.

    ``need`` holds the role columns of the literal hits (row ``_U`` the unit, ``_A`` the
    set); ``need_pattern[set]`` is the set's pattern and ``needs[pattern]`` how many sets
    it has. Regexes and token patterns are chosen this way.
    """
    nneed = len(need_pattern)
    found = _unique(need[_U] * nneed + need[_A])  # (unit, set) with a literal
    pair, sets = np.unique(found // nneed * npat + need_pattern[found % nneed],
                           return_counts=True)
    return pair[sets == needs[pair % npat]]


def _unique(a: NDArray[np.int64]) -> NDArray[np.int64]:
    """The sorted distinct values of ``a`` (by sorting: ``np.unique``'s hash table is
    many times slower on these arrays)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _joined(items: list[Any], counts: NDArray[np.int64], item: str, sep: str,
            open_: str = "", close: str = "") -> list[str]:
    """Each group of ``counts`` consecutive entries formatted by the template ``item``
    (which takes as many ``items`` as it has ``{}``), joined by ``sep`` and put between
    ``open_`` and ``close``.

    Built with one ``str.format`` call over all groups, parted by NUL (many times faster
    than a join per group); should an item hold NUL itself, group by group.
    """
    last = np.zeros(int(counts.sum()), dtype=bool)  # the last of its group
    last[np.cumsum(counts) - 1] = True
    glue = (item + sep, item + close + "\0" + open_)
    text = (open_ + "".join([glue[x] for x in last.tolist()])).format(*items)
    parts = text[:len(text) - len(open_) - 1].split("\0")
    if len(parts) == len(counts):
        return parts
    width, i, out = item.count("{}"), 0, []
    for c in counts.tolist():
        out.append(open_ + sep.join(item.format(*items[j:j + width])
                                    for j in range(i, i + c * width, width)) + close)
        i += c * width
    return out


def _evidence_texts(starts: NDArray[np.int64], ends: NDArray[np.int64],
                    counts: NDArray[np.int64]) -> list[str]:
    """The evidence JSON of each group of ``counts`` consecutive spans."""
    if not len(counts):
        return []
    return _joined(np.column_stack([starts, ends]).ravel().tolist(), counts, "[{}, {}]",
                   ", ", "[", "]")


def _rule_texts(labels: list[str], ranks: NDArray[np.int64], counts: NDArray[np.int64],
                ) -> list[str]:
    """The rule text of each group of ``counts`` consecutive label ranks: every label of
    the group (``labels`` is sorted), joined."""
    if not len(counts):
        return []
    return _joined([labels[r] for r in ranks.tolist()], counts, "{}", " | ")


def _confidences(best: NDArray[np.float64], n_spans: NDArray[np.int64]) -> list[float]:
    """``round(min(0.99, best + 0.05 * (n_spans - 1)), 2)`` per group, computed in Python
    once per distinct (best, n_spans)."""
    if not len(best):
        return []
    values, which = np.unique(best, return_inverse=True)
    top = int(n_spans.max())
    table = np.array([[round(min(0.99, b + 0.05 * (k - 1)), 2) for k in range(1, top + 1)]
                      for b in values.tolist()])
    return table[which.ravel(), n_spans - 1].tolist()


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
           ) -> list[Unit]:
    """(segment id, start, end, role) of the units of ``source`` to code.

    A turn is the paragraph of a text without speakers (a case narrative), and a paragraph
    of an interview is its turn, so that every source is coded under every unit.
    """
    kinds = {"sentence": ("sentence",), "turn": ("turn",), "paragraph": ("paragraph", "turn")}
    wanted = kinds[unit]
    if unit in ("paragraph", "turn") and source.kind != "interview":
        wanted = ("paragraph",)
    cursor = store.db.cursor()
    cursor.row_factory = None  # plain tuples, not the store's sqlite3.Row
    rows = cursor.execute(
        "SELECT id, start_char, end_char, role FROM segments WHERE source_id = ? AND kind IN "
        f"({', '.join('?' * len(wanted))}) ORDER BY start_char, id", (source.id, *wanted)
    ).fetchall()
    if speakers is None:
        return rows
    return [r for r in rows if r[3] is None or r[3] in speakers]


def code_source(cc: CompiledCodebook, source: Source, units: list[Unit], pass_name: str,
                with_metrics: bool = True,
                tokens: Callable[[str], list[tuple[int, int]]] | None = None,
                ) -> tuple[list[tuple], list[tuple]]:
    """Code the units of one source; returns coding rows and metric rows for the store.

    Plain text is matched once over the whole source and the hits are grouped by unit,
    so units without a hit cost nothing; when its units do not overlap, that is done with
    array operations (:class:`_Batch`), otherwise unit by unit. PDF text is read unit by
    unit through its clean view.
    """
    if not units:
        return [], []
    if source.attributes.get("_layout") == "pdf":
        return _code_units_pdf(cc, source, units, pass_name, with_metrics, tokens)
    if _disjoint(units, len(source.text)):
        return _Batch(cc, [(source, units)], pass_name, with_metrics, tokens).rows()[0]
    return _code_units_plain(cc, source, units, pass_name, with_metrics, tokens)


def _code_sources(cc: CompiledCodebook, work: list[tuple[Source, list[Unit]]], pass_name: str,
                  with_metrics: bool, tokens: Callable[[str], list[tuple[int, int]]] | None,
                  ) -> Iterator[tuple[list[tuple], list[tuple], int]]:
    """Coding rows, metric rows and length of each source of ``work``, in order.

    Plain-text sources with disjoint units are coded in batches of about
    ``_BATCH_CHARS`` characters; any other source as :func:`code_source` codes it.
    """
    batch: list[tuple[Source, list[Unit]]] = []
    size = 0

    def flush() -> Iterator[tuple[list[tuple], list[tuple], int]]:
        if batch:
            coded = _Batch(cc, batch, pass_name, with_metrics, tokens).rows()
            for (src, _units), (rows, mrows) in zip(batch, coded, strict=True):
                yield rows, mrows, len(src.text)
            batch.clear()

    for src, units in work:
        if (units and src.attributes.get("_layout") != "pdf"
                and _disjoint(units, len(src.text))):
            batch.append((src, units))
            size += len(src.text)
            if size >= _BATCH_CHARS:
                yield from flush()
                size = 0
        else:
            yield from flush()
            size = 0
            yield (*code_source(cc, src, units, pass_name, with_metrics, tokens),
                   len(src.text))
    yield from flush()


def _code_units_plain(cc: CompiledCodebook, source: Source, units: list[Unit], pass_name: str,
                      with_metrics: bool, tokens: Callable[[str], list[tuple[int, int]]] | None,
                      ) -> tuple[list[tuple], list[tuple]]:
    """Code plain text unit by unit (for overlapping units)."""
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


def _code_units_pdf(cc: CompiledCodebook, source: Source, units: list[Unit], pass_name: str,
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
                      m.unit, m.direction, text[s:e], m.qualifier, m.before_qualifier))
    coder = cc.codebook.coder
    for code_id in sorted(coded):
        hs = coded[code_id]
        ev = sorted({to_raw(h.start, h.end) for h in hs})
        kinds = sorted({f"{h.kind}:{h.term}" for h in hs})
        best = max(CONFIDENCE.get(h.kind, 0.7) for h in hs)
        conf = round(min(0.99, best + 0.05 * (len(ev) - 1)), 2)
        polarity = -1 if any(h.kind == "negative" or h.negated for h in hs) else 1
        evidence = "[" + ", ".join(f"[{a}, {b}]" for a, b in ev) + "]"
        rows.append((pass_name, source.id, code_id, s, e, evidence, " | ".join(kinds), conf,
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
        if _may_need_tokens(cc, [src.text for src, _units in work]):
            _prepare_tokens(cc)  # once, in this process: the forked workers inherit it
        results = _parallel(cc, work, pass_name, with_metrics, jobs, tokens)
    else:
        results = _code_sources(cc, work, pass_name, with_metrics, tokens)
    by_code: Counter[str] = Counter()
    with store.transaction(bulk=("codings", "metrics")):
        run_id = store.start_run("code", {**options, "pass": pass_name,
                                          "codebook_sha256": codebook.sha256})
        store.replace_pass(pass_name, codebook.coder, codebook.name, codebook.sha256, options,
                           run_id)
        for (rows, mrows, n_chars), (_src, units) in zip(results, work, strict=True):
            store.add_codings(rows)
            store.db.executemany(
                "INSERT INTO metrics (pass, source_id, start_char, end_char, indicator, before,"
                " after, change, unit, direction, quote, qualifier, before_qualifier)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", mrows)
            report.sources += 1
            report.units += len(units)
            report.codings += len(rows)
            report.metrics += len(mrows)
            report.chars += n_chars
            by_code.update(map(itemgetter(2), rows))
            if progress:
                progress(n_chars)
        store.end_run(run_id)
    report.by_code = dict(sorted(by_code.items()))
    return report


def _tokenizer(codebook: Codebook) -> Any:
    """The process's jieba tokenizer for ``codebook`` (its terms in the user dictionary):
    one per process and term list, loaded on first use (:func:`lang_zh.shared_tokenizer`)."""
    from casecoder.lang_zh import shared_tokenizer

    return shared_tokenizer(codebook_terms(codebook))


def _token_fn(cc: CompiledCodebook) -> Callable[[str], list[tuple[int, int]]] | None:
    """Token spans for proximity rules in tokens: the tokens of the same spaCy Doc the
    token patterns see (``None`` when no rule counts tokens)."""
    needs = any(r.get("unit") == "token" for c in cc.codebook.codes.values()
                for r in c.rules.proximity)
    if not needs:
        return None
    return _tokenizer(cc.codebook).token_spans


def _may_need_tokens(cc: CompiledCodebook, texts: Sequence[str]) -> bool:
    """False when no text holds what a token rule needs (the first literal set of a token
    pattern; both sides of a proximity rule in tokens), so no unit will be cut; a cased
    literal counts as present (a cheap, conservative test)."""
    def anywhere(lits: Iterable[str]) -> bool:
        return any(t.lower() != t.upper() or any(t in x for x in texts) for t in lits)

    sets = [token_needs(p.pattern)[0] for p in cc.token_patterns]
    sides = [(r["a"], r["b"]) for c in cc.codebook.codes.values() for r in c.rules.proximity
             if r.get("unit") == "token"]
    return any(anywhere(lits) for lits in sets) or any(
        anywhere(a) and anywhere(b) for a, b in sides)


def _prepare_tokens(cc: CompiledCodebook) -> None:
    """Load the tokenizer, its spaCy pipeline and the token matcher now."""
    tok = _tokenizer(cc.codebook).load()
    tok.spacy()
    if cc.token_patterns:
        cc.token_matcher().load()


def codebook_terms(codebook: Codebook) -> list[str]:
    """Every literal term of a codebook (for the tokenizer's user dictionary): keywords,
    synonyms, negative keywords, proximity terms and the texts token patterns name."""
    out: list[str] = []
    for c in codebook.codes.values():
        r = c.rules
        out += r.keywords + r.synonyms + list(getattr(r, "negative_keywords", []))
        for rule in r.proximity:
            out += list(rule.get("a", [])) + list(rule.get("b", []))
        for pattern in r.token_patterns:
            out += token_literals(pattern)
    return sorted(set(out))


_WORK: dict[str, Any] = {}


def _work_one(i: int) -> tuple[list[tuple], list[tuple], int]:
    cc, work, pass_name, with_metrics, tokens = _WORK["args"]
    src, units = work[i]
    return (*code_source(cc, src, units, pass_name, with_metrics, tokens), len(src.text))


def _parallel(cc: CompiledCodebook, work: list, pass_name: str, with_metrics: bool,
              jobs: int, tokens: Callable[[str], list[tuple[int, int]]] | None = None,
              ) -> list[tuple[list[tuple], list[tuple], int]]:
    """Code the sources of ``work`` in ``jobs`` forked processes. The workers share the
    compiled codebook and the process's tokenizer: forked after the parent loaded the
    dictionary (as :func:`code` does when a text may need tokens) they inherit it;
    otherwise each loads it once, on its first token rule."""
    import multiprocessing

    _WORK["args"] = (cc, work, pass_name, with_metrics, tokens)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        return pool.map(_work_one, range(len(work)), chunksize=max(1, len(work) // (jobs * 4)))
