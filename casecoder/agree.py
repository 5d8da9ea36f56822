"""Inter-coder agreement between two coders (two passes) over the same units.

This module is a pure library: it reads no store and prints nothing. It compares two
coders, called ``A`` and ``B``, on a fixed list of units. For every code a unit is
either coded (present) or not (absent) by each coder, so each code gives a 2 x 2 table:

=========  ===========  ============
           B present    B absent
=========  ===========  ============
A present  ``both``     ``only_a``
A absent   ``only_b``   ``neither``
=========  ===========  ============

From that table :func:`agreement` computes percent agreement, Cohen's kappa,
Krippendorff's alpha (nominal, two coders, no missing data), prevalence and percentile
bootstrap intervals, per code and pooled over codes. ``docs/agreement.md`` gives the
formulas, the unit choices and the degenerate cases.

Units are any hashable keys. Two helpers build them from character spans:

* :func:`sentence_units` -- one unit per sentence ``(source_id, start_char, end_char)``;
  a coder codes a sentence ``X`` when any of their ``X`` codings overlaps it.
* :func:`character_units` -- one unit per character ``(source_id, char_index)``, held as
  run-length intervals so that megabytes of text stay cheap.

:func:`units_from_spans` dispatches to either by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, overload

import numpy as np

from casecoder.errors import CasecoderError

__all__ = [
    "OVERALL",
    "AgreementInput",
    "AgreementReport",
    "CodeAgreement",
    "Disagreement",
    "SpanCoding",
    "agreement",
    "character_units",
    "disagreements",
    "format_table",
    "iter_disagreements",
    "report_to_dict",
    "sentence_units",
    "units_from_spans",
]

OVERALL = "(all codes)"
"""Label of the pooled row in reports and tables."""

SpanCoding = tuple[Hashable, str, int, int]
"""One coding as ``(source_id, code, start_char, end_char)``, half-open code-point offsets."""

Coder = Literal["A", "B"]

# Bootstrap work is done in chunks of resamples holding at most this many cells.
_CHUNK_CELLS = 4_000_000

# Reasons given when a statistic is undefined.
_NO_UNITS = "there are no units"
_NEITHER_USED = "neither coder applied the code to any unit"
_BOTH_ALL = "both coders applied the code to every unit"
_KAPPA_SINGLE = "expected agreement is 1, so kappa is 0/0"
_ALPHA_SINGLE = "only one value occurs, so alpha is 0/0"


# --------------------------------------------------------------------------------------
# Unit indexes: a sequence of units grouped into runs of consecutive units that share
# every coder decision. Generic units are runs of length 1; character units are runs of
# consecutive characters of one source.
# --------------------------------------------------------------------------------------


class _UnitIndex(Sequence[Hashable]):
    """A sequence of units stored as runs; ``run_lengths[r]`` units belong to run ``r``."""

    run_lengths: np.ndarray

    def run_of(self, unit: Hashable) -> int:
        """Return the run holding ``unit``; raise ``KeyError`` if it is not a unit."""
        raise NotImplementedError

    def units_of_run(self, run: int) -> Iterable[Hashable]:
        """Yield the units of one run, in order."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Hashable]:
        for run in range(len(self.run_lengths)):
            yield from self.units_of_run(run)

    def __contains__(self, unit: object) -> bool:
        try:
            self.run_of(unit)  # type: ignore[arg-type]
        except (KeyError, TypeError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(x == y for x, y in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(repr(self[i]) for i in range(min(3, len(self))))
        more = ", ..." if len(self) > 3 else ""
        return f"{type(self).__name__}([{head}{more}], n={len(self)})"


class _TupleUnits(_UnitIndex):
    """Arbitrary hashable units, one run each."""

    def __init__(self, units: Sequence[Hashable]) -> None:
        self._units = tuple(units)
        self._where: dict[Hashable, int] = {}
        for i, unit in enumerate(self._units):
            if self._where.setdefault(unit, i) != i:
                raise ValueError(f"unit {unit!r} occurs more than once; units must be unique")
        self.run_lengths = np.ones(len(self._units), dtype=np.int64)

    def run_of(self, unit: Hashable) -> int:
        return self._where[unit]

    def units_of_run(self, run: int) -> Iterable[Hashable]:
        return (self._units[run],)

    def __len__(self) -> int:
        return len(self._units)

    @overload
    def __getitem__(self, i: int) -> Hashable: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Hashable]: ...
    def __getitem__(self, i: int | slice) -> Hashable | Sequence[Hashable]:
        return self._units[i]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._units)

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        i = self._where.get(value)
        if i is None or i < start or (stop is not None and i >= stop):
            raise ValueError(f"{value!r} is not a unit")
        return i


class _CharacterUnits(_UnitIndex):
    """Characters ``(source_id, char_index)`` stored as runs of consecutive characters."""

    def __init__(
        self,
        sources: Sequence[Hashable],
        run_source: np.ndarray,
        run_start: np.ndarray,
        run_length: np.ndarray,
    ) -> None:
        self._sources = tuple(sources)
        self._run_source = run_source.astype(np.int64)
        self._run_start = run_start.astype(np.int64)
        self.run_lengths = run_length.astype(np.int64)
        self._offsets = np.concatenate(([0], np.cumsum(self.run_lengths)))
        # Per source: the slice of runs, for lookups by (source_id, char_index).
        self._source_pos = {sid: i for i, sid in enumerate(self._sources)}
        bounds = np.searchsorted(self._run_source, np.arange(len(self._sources) + 1))
        self._source_runs = [
            (int(bounds[i]), int(bounds[i + 1])) for i in range(len(self._sources))
        ]

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def _unit_at(self, i: int) -> tuple[Hashable, int]:
        run = int(np.searchsorted(self._offsets, i, side="right")) - 1
        return (
            self._sources[self._run_source[run]],
            int(self._run_start[run] + i - self._offsets[run]),
        )

    @overload
    def __getitem__(self, i: int) -> Hashable: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Hashable]: ...
    def __getitem__(self, i: int | slice) -> Hashable | Sequence[Hashable]:
        if isinstance(i, slice):
            return [self._unit_at(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("unit index out of range")
        return self._unit_at(i)

    def run_of(self, unit: Hashable) -> int:
        if not isinstance(unit, tuple) or len(unit) != 2:
            raise KeyError(unit)
        sid, char = unit
        if sid not in self._source_pos or not isinstance(char, int | np.integer):
            raise KeyError(unit)
        lo, hi = self._source_runs[self._source_pos[sid]]
        starts = self._run_start[lo:hi]
        k = int(np.searchsorted(starts, char, side="right")) - 1
        if k < 0 or char >= starts[k] + self.run_lengths[lo + k]:
            raise KeyError(unit)
        return lo + k

    def units_of_run(self, run: int) -> Iterable[Hashable]:
        sid = self._sources[self._run_source[run]]
        start = int(self._run_start[run])
        return ((sid, c) for c in range(start, start + int(self.run_lengths[run])))

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        try:
            run = self.run_of(value)
        except KeyError:
            raise ValueError(f"{value!r} is not a unit") from None
        i = int(self._offsets[run] + value[1] - self._run_start[run])
        if i < start or (stop is not None and i >= stop):
            raise ValueError(f"{value!r} is not a unit")
        return i


class _CodingView(Mapping[Hashable, frozenset[str]]):
    """Read-only mapping unit -> set of codes of one coder, defined for every unit."""

    def __init__(self, index: _UnitIndex, codes: tuple[str, ...], matrix: np.ndarray) -> None:
        self._index = index
        self._codes = codes
        self._matrix = matrix

    def __getitem__(self, unit: Hashable) -> frozenset[str]:
        row = self._matrix[self._index.run_of(unit)]
        return frozenset(self._codes[j] for j in np.flatnonzero(row))

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, unit: object) -> bool:
        return unit in self._index

    def __repr__(self) -> str:
        return f"<codings of {len(self)} units>"


# --------------------------------------------------------------------------------------
# Input model
# --------------------------------------------------------------------------------------


class AgreementInput:
    """Two coders' decisions on a fixed list of units.

    Parameters
    ----------
    units : sequence of hashable
        The units both coders saw, in the order reports and disagreements use. Units
        must be unique. Typical keys are ``(source_id, start_char, end_char)`` for
        sentences and ``(source_id, char_index)`` for characters.
    codes : sequence of str
        The codes compared, in report order. Codes must be unique.
    coder_a : mapping of hashable to set of str
        Coder A's codes per unit. A unit missing from the mapping, or mapped to an empty
        set, was coded with no code (absence is a decision, not missing data).
    coder_b : mapping of hashable to set of str
        Coder B's codes per unit, as for ``coder_a``.
    unit_kind : str, default="unit"
        A word for the unit (``"sentence"``, ``"character"``...), shown in reports.

    Raises
    ------
    ValueError
        If units or codes repeat, if a coder maps a key that is not a unit, or uses a
        code that is not in ``codes``. Nothing is dropped silently.

    Attributes
    ----------
    units : sequence of hashable
    codes : tuple of str
    coder_a, coder_b : mapping of hashable to frozenset of str
        Read-only views defined for every unit (empty set when uncoded).
    unit_kind : str
    n_units : int
    """

    __slots__ = ("_index", "_codes", "_a", "_b", "_unit_kind")

    def __init__(
        self,
        units: Sequence[Hashable],
        codes: Sequence[str],
        coder_a: Mapping[Hashable, Iterable[str]],
        coder_b: Mapping[Hashable, Iterable[str]],
        *,
        unit_kind: str = "unit",
    ) -> None:
        index = _TupleUnits(units)
        code_tuple = _check_codes(codes)
        a = _matrix_from_mapping(index, code_tuple, coder_a, "A")
        b = _matrix_from_mapping(index, code_tuple, coder_b, "B")
        self._set(index, code_tuple, a, b, unit_kind)

    def _set(
        self, index: _UnitIndex, codes: tuple[str, ...], a: np.ndarray, b: np.ndarray,
        unit_kind: str,
    ) -> None:
        a.setflags(write=False)
        b.setflags(write=False)
        self._index = index
        self._codes = codes
        self._a = a
        self._b = b
        self._unit_kind = unit_kind

    @classmethod
    def _from_runs(
        cls, index: _UnitIndex, codes: tuple[str, ...], a: np.ndarray, b: np.ndarray,
        unit_kind: str,
    ) -> AgreementInput:
        """Build from run matrices ``a``/``b`` of shape (n_runs, n_codes) without copying."""
        obj = cls.__new__(cls)
        obj._set(index, codes, a, b, unit_kind)
        return obj

    @property
    def units(self) -> Sequence[Hashable]:
        return self._index

    @property
    def codes(self) -> tuple[str, ...]:
        return self._codes

    @property
    def coder_a(self) -> Mapping[Hashable, frozenset[str]]:
        return _CodingView(self._index, self._codes, self._a)

    @property
    def coder_b(self) -> Mapping[Hashable, frozenset[str]]:
        return _CodingView(self._index, self._codes, self._b)

    @property
    def unit_kind(self) -> str:
        return self._unit_kind

    @property
    def n_units(self) -> int:
        return len(self._index)

    def presence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the decisions as run-length boolean matrices.

        Returns
        -------
        a : ndarray of bool, shape (n_runs, n_codes)
            Whether coder A applied each code to the units of each run.
        b : ndarray of bool, shape (n_runs, n_codes)
            The same for coder B.
        weights : ndarray of int64, shape (n_runs,)
            Number of units in each run; sums to ``n_units``. Runs are consecutive
            units with identical decisions (one unit per run unless built by
            :func:`character_units`).
        """
        return self._a, self._b, self._index.run_lengths

    def __repr__(self) -> str:
        return (
            f"AgreementInput(n_units={self.n_units}, unit_kind={self._unit_kind!r}, "
            f"codes={list(self._codes)!r})"
        )


def _check_codes(codes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(codes, str):
        raise ValueError("codes must be a sequence of code ids, not a single string")
    out = tuple(codes)
    seen: set[str] = set()
    for code in out:
        if not isinstance(code, str):
            raise ValueError(f"code {code!r} is not a string")
        if code in seen:
            raise ValueError(f"code {code!r} occurs more than once; codes must be unique")
        seen.add(code)
    return out


def _matrix_from_mapping(
    index: _TupleUnits,
    codes: tuple[str, ...],
    coding: Mapping[Hashable, Iterable[str]],
    coder: Coder,
) -> np.ndarray:
    col = {c: j for j, c in enumerate(codes)}
    rows: list[int] = []
    cols: list[int] = []
    for unit, unit_codes in coding.items():
        try:
            row = index.run_of(unit)
        except KeyError:
            raise ValueError(
                f"coder {coder} codes {unit!r}, which is not one of the units"
            ) from None
        if isinstance(unit_codes, str):
            raise ValueError(
                f"coder {coder}: the codes of unit {unit!r} are a string ({unit_codes!r}); "
                "expected a set of code ids"
            )
        for code in unit_codes:
            j = col.get(code)
            if j is None:
                raise ValueError(
                    f"coder {coder} applies code {code!r} to unit {unit!r}, but it is not "
                    f"among the compared codes {list(codes)!r}"
                )
            rows.append(row)
            cols.append(j)
    matrix = np.zeros((len(index), len(codes)), dtype=bool)
    matrix[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)] = True
    return matrix


# --------------------------------------------------------------------------------------
# Building units from spans
# --------------------------------------------------------------------------------------


def _check_spans(
    codings: Iterable[SpanCoding], coder: Coder
) -> list[tuple[Hashable, str, int, int]]:
    out = []
    for item in codings:
        try:
            sid, code, start, end = item
        except (TypeError, ValueError):
            raise ValueError(
                f"coder {coder}: coding {item!r} is not (source_id, code, start_char, end_char)"
            ) from None
        if not (isinstance(start, int | np.integer) and isinstance(end, int | np.integer)):
            raise ValueError(f"coder {coder}: coding {item!r} has non-integer offsets")
        if start < 0 or end <= start:
            raise ValueError(
                f"coder {coder}: coding {item!r} has an empty or negative span; "
                "expected 0 <= start_char < end_char"
            )
        out.append((sid, code, int(start), int(end)))
    return out


def _resolve_codes(
    codes: Sequence[str] | None,
    spans_a: list[tuple[Hashable, str, int, int]],
    spans_b: list[tuple[Hashable, str, int, int]],
) -> tuple[str, ...]:
    used = {s[1] for s in spans_a} | {s[1] for s in spans_b}
    if codes is None:
        return tuple(sorted(used))
    out = _check_codes(codes)
    unknown = sorted(used - set(out))
    if unknown:
        raise ValueError(
            f"codings use codes {unknown!r} that are not among the compared codes "
            f"{list(out)!r}; add them to `codes` or filter the codings first"
        )
    return out


def _group(
    spans: list[tuple[Hashable, str, int, int]], col: dict[str, int]
) -> dict[Hashable, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Group codings by source as arrays (code column, start, end)."""
    grouped: dict[Hashable, list[tuple[int, int, int]]] = {}
    for sid, code, start, end in spans:
        grouped.setdefault(sid, []).append((col[code], start, end))
    return {
        sid: tuple(np.asarray(v, dtype=np.int64).reshape(-1, 3).T)  # type: ignore[misc]
        for sid, v in grouped.items()
    }


def _cover(n_slots: int, n_codes: int, cols: np.ndarray, lo: np.ndarray,
           hi: np.ndarray) -> np.ndarray:
    """Boolean (n_slots, n_codes): slot ``i`` is covered by code ``c`` if lo <= i < hi."""
    diff = np.zeros((n_slots + 1, n_codes), dtype=np.int64)
    keep = hi > lo
    np.add.at(diff, (lo[keep], cols[keep]), 1)
    np.add.at(diff, (hi[keep], cols[keep]), -1)
    return np.cumsum(diff[:-1], axis=0) > 0


def sentence_units(
    sentences: Mapping[Hashable, Iterable[tuple[int, int]]],
    codings_a: Iterable[SpanCoding],
    codings_b: Iterable[SpanCoding],
    *,
    codes: Sequence[str] | None = None,
) -> AgreementInput:
    """Build sentence units: a coder codes a sentence ``X`` if any ``X`` coding overlaps it.

    Parameters
    ----------
    sentences : mapping of source id to iterable of (int, int)
        Sentence spans ``(start_char, end_char)`` per source. Within a source, spans
        must not overlap (they need not be sorted or contiguous). Sources are taken in
        the mapping's order, sentences by start.
    codings_a : iterable of (source_id, code, start_char, end_char)
        Coder A's codings. Every source must be a key of ``sentences``.
    codings_b : iterable of (source_id, code, start_char, end_char)
        Coder B's codings, as for ``codings_a``.
    codes : sequence of str, default=None
        The codes compared, in report order. ``None`` takes every code either coder
        used, sorted. A coding with a code outside ``codes`` is an error.

    Returns
    -------
    AgreementInput
        Units are ``(source_id, start_char, end_char)``; ``unit_kind`` is ``"sentence"``.

    Raises
    ------
    ValueError
        On overlapping or empty sentences, empty codings, codings on sources not in
        ``sentences``, or codes outside ``codes``.

    Notes
    -----
    Spans are half-open: a coding ``[s, e)`` overlaps a sentence ``[S, E)`` when
    ``s < E and S < e``. Touching spans (``e == S``) do not overlap. A coding that falls
    entirely between sentences (e.g. on whitespace) codes no sentence.
    """
    spans_a = _check_spans(codings_a, "A")
    spans_b = _check_spans(codings_b, "B")
    code_tuple = _resolve_codes(codes, spans_a, spans_b)
    col = {c: j for j, c in enumerate(code_tuple)}
    k = len(code_tuple)

    units: list[tuple[Hashable, int, int]] = []
    blocks_a: list[np.ndarray] = []
    blocks_b: list[np.ndarray] = []
    by_source_a = _group(spans_a, col)
    by_source_b = _group(spans_b, col)
    unknown = [s for s in {**by_source_a, **by_source_b} if s not in sentences]
    if unknown:
        raise ValueError(
            f"codings refer to sources {unknown!r} that have no sentences; pass their "
            "sentences or filter the codings to the compared sources"
        )
    for sid, spans in sentences.items():
        arr = np.asarray(sorted((int(s), int(e)) for s, e in spans), dtype=np.int64)
        arr = arr.reshape(-1, 2)
        starts, ends = arr[:, 0], arr[:, 1]
        if np.any(ends <= starts) or np.any(starts < 0):
            raise ValueError(f"source {sid!r} has an empty or negative sentence span")
        if np.any(starts[1:] < ends[:-1]):
            raise ValueError(f"source {sid!r} has overlapping sentence spans")
        n_sent = len(arr)
        for by_source, blocks in ((by_source_a, blocks_a), (by_source_b, blocks_b)):
            if sid in by_source:
                cols, cs, ce = by_source[sid]
                # Sentences are sorted and disjoint, so ends are sorted too.
                lo = np.searchsorted(ends, cs, side="right")
                hi = np.searchsorted(starts, ce, side="left")
                blocks.append(_cover(n_sent, k, cols, lo, hi))
            else:
                blocks.append(np.zeros((n_sent, k), dtype=bool))
        units.extend((sid, int(s), int(e)) for s, e in arr)

    a = np.concatenate(blocks_a) if blocks_a else np.zeros((0, k), dtype=bool)
    b = np.concatenate(blocks_b) if blocks_b else np.zeros((0, k), dtype=bool)
    return AgreementInput._from_runs(_TupleUnits(units), code_tuple, a, b, "sentence")


def character_units(
    codings_a: Iterable[SpanCoding],
    codings_b: Iterable[SpanCoding],
    *,
    codes: Sequence[str] | None = None,
    universe: Literal["coded", "sources"] = "coded",
    source_lengths: Mapping[Hashable, int] | None = None,
) -> AgreementInput:
    """Build character units from two coders' spans.

    Each character of a source is a unit; a coder codes it ``X`` when one of their
    ``X`` codings covers it. The work is done on run-length intervals (the pieces
    between consecutive span boundaries), so the cost grows with the number of codings,
    not with the length of the text.

    Parameters
    ----------
    codings_a : iterable of (source_id, code, start_char, end_char)
        Coder A's codings.
    codings_b : iterable of (source_id, code, start_char, end_char)
        Coder B's codings.
    codes : sequence of str, default=None
        The codes compared, in report order. ``None`` takes every code either coder
        used, sorted. A coding with a code outside ``codes`` is an error.
    universe : {"coded", "sources"}, default="coded"
        Which characters are units. ``"coded"``: every character that either coder
        coded with any of the compared codes. ``"sources"``: every character of the
        sources in ``source_lengths`` (uncoded text counts as agreement on absence).
    source_lengths : mapping of source id to int, default=None
        Length in code points of each compared source. Required for
        ``universe="sources"``. When given, codings must lie on these sources and within
        their lengths, and sources are ordered as in the mapping; otherwise sources
        are sorted by id (ids must then be mutually orderable).

    Returns
    -------
    AgreementInput
        Units are ``(source_id, char_index)``; ``unit_kind`` is ``"character"``.

    Raises
    ------
    ValueError
        On empty codings, unknown sources, codings past the end of a source, codes
        outside ``codes``, or ``universe="sources"`` without ``source_lengths``.

    Notes
    -----
    With ``universe="coded"`` the same universe is used for every code, so a character
    coded ``X`` by A and ``Y`` by B is a unit for code ``X`` too (B: absent). A per-code
    universe would leave ``neither`` at 0 for every code and make kappa meaningless.
    """
    if universe not in ("coded", "sources"):
        raise ValueError(f"universe must be 'coded' or 'sources', not {universe!r}")
    if universe == "sources" and source_lengths is None:
        raise ValueError("universe='sources' needs source_lengths (the length of each source)")
    spans_a = _check_spans(codings_a, "A")
    spans_b = _check_spans(codings_b, "B")
    code_tuple = _resolve_codes(codes, spans_a, spans_b)
    col = {c: j for j, c in enumerate(code_tuple)}
    k = len(code_tuple)
    by_source_a = _group(spans_a, col)
    by_source_b = _group(spans_b, col)

    if source_lengths is not None:
        sources = list(source_lengths)
        unknown = [s for s in {**by_source_a, **by_source_b} if s not in source_lengths]
        if unknown:
            raise ValueError(
                f"codings refer to sources {unknown!r} not in source_lengths; pass their "
                "lengths or filter the codings to the compared sources"
            )
        for sid, length in source_lengths.items():
            if int(length) < 0:
                raise ValueError(f"source {sid!r} has a negative length {length}")
            for by_source, coder in ((by_source_a, "A"), (by_source_b, "B")):
                if sid in by_source and by_source[sid][2].max() > length:
                    raise ValueError(
                        f"coder {coder} has a coding on source {sid!r} ending past its "
                        f"length {length}"
                    )
    else:
        sources = sorted({**by_source_a, **by_source_b})  # type: ignore[type-var]

    run_src: list[np.ndarray] = []
    run_start: list[np.ndarray] = []
    run_len: list[np.ndarray] = []
    blocks_a: list[np.ndarray] = []
    blocks_b: list[np.ndarray] = []
    empty = (np.zeros(0, np.int64),) * 3
    for pos, sid in enumerate(sources):
        ca, sa, ea = by_source_a.get(sid, empty)
        cb, sb, eb = by_source_b.get(sid, empty)
        parts = [sa, ea, sb, eb]
        if universe == "sources":
            parts.append(np.array([0, int(source_lengths[sid])], dtype=np.int64))  # type: ignore[index]
        bounds = np.unique(np.concatenate(parts))
        if len(bounds) < 2:
            continue
        n_pieces = len(bounds) - 1
        cov_a = _cover(n_pieces, k, ca, np.searchsorted(bounds, sa), np.searchsorted(bounds, ea))
        cov_b = _cover(n_pieces, k, cb, np.searchsorted(bounds, sb), np.searchsorted(bounds, eb))
        starts = bounds[:-1]
        lengths = np.diff(bounds)
        if universe == "coded":
            keep = cov_a.any(axis=1) | cov_b.any(axis=1)
            starts, lengths, cov_a, cov_b = starts[keep], lengths[keep], cov_a[keep], cov_b[keep]
        run_src.append(np.full(len(starts), pos, dtype=np.int64))
        run_start.append(starts)
        run_len.append(lengths)
        blocks_a.append(cov_a)
        blocks_b.append(cov_b)

    def cat(parts: list[np.ndarray], shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(shape, dtype=dtype)

    index = _CharacterUnits(
        sources,
        cat(run_src, (0,), np.int64),
        cat(run_start, (0,), np.int64),
        cat(run_len, (0,), np.int64),
    )
    a = cat(blocks_a, (0, k), bool)
    b = cat(blocks_b, (0, k), bool)
    return AgreementInput._from_runs(index, code_tuple, a, b, "character")


def units_from_spans(
    codings_a: Iterable[SpanCoding],
    codings_b: Iterable[SpanCoding],
    *,
    unit: Literal["sentence", "character"],
    sentences: Mapping[Hashable, Iterable[tuple[int, int]]] | None = None,
    source_lengths: Mapping[Hashable, int] | None = None,
    universe: Literal["coded", "sources"] = "coded",
    codes: Sequence[str] | None = None,
) -> AgreementInput:
    """Build an :class:`AgreementInput` from two coders' character spans.

    Parameters
    ----------
    codings_a : iterable of (source_id, code, start_char, end_char)
        Coder A's codings.
    codings_b : iterable of (source_id, code, start_char, end_char)
        Coder B's codings.
    unit : {"sentence", "character"}
        ``"sentence"`` calls :func:`sentence_units` (needs ``sentences``);
        ``"character"`` calls :func:`character_units`.
    sentences : mapping of source id to iterable of (int, int), default=None
        Sentence spans per source, for ``unit="sentence"``.
    source_lengths : mapping of source id to int, default=None
        Source lengths, for ``unit="character"``.
    universe : {"coded", "sources"}, default="coded"
        Character universe, for ``unit="character"``.
    codes : sequence of str, default=None
        The codes compared; ``None`` takes every code used, sorted.

    Returns
    -------
    AgreementInput
    """
    if unit == "sentence":
        if sentences is None:
            raise ValueError("unit='sentence' needs sentences (sentence spans per source)")
        return sentence_units(sentences, codings_a, codings_b, codes=codes)
    if unit == "character":
        return character_units(
            codings_a, codings_b, codes=codes, universe=universe, source_lengths=source_lengths
        )
    raise ValueError(f"unit must be 'sentence' or 'character', not {unit!r}")


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeAgreement:
    """Agreement on one code (or pooled over codes).

    Parameters
    ----------
    code : str
        The code id, or :data:`OVERALL` for the pooled row.
    n_units : int
        Units compared; for the pooled row, unit-code pairs (``n_units * n_codes``).
    both, only_a, only_b, neither : int
        The 2 x 2 table: coded by both, by A only, by B only, by neither.
    percent_agreement : float or None
        ``100 * (both + neither) / n_units``; ``None`` when there are no units.
    kappa : float or None
        Cohen's kappa on presence/absence; ``None`` when undefined (see ``undefined``).
    alpha : float or None
        Krippendorff's alpha, nominal, two coders; ``None`` when undefined.
    prevalence : float or None
        Share of units coded by either coder, ``(both + only_a + only_b) / n_units``.
    prevalence_a, prevalence_b : float or None
        Share of units coded by A, by B.
    percent_agreement_ci, kappa_ci, alpha_ci : tuple of (float, float) or None
        Percentile bootstrap interval, ``None`` when the estimate is undefined or no
        bootstrap was run.
    bootstrap_undefined : dict of str to int
        For each statistic, resamples in which it was undefined (left out of its
        interval). Empty when every resample was defined.
    undefined : dict of str to str
        For each statistic that is ``None``, the reason.
    """

    code: str
    n_units: int
    both: int
    only_a: int
    only_b: int
    neither: int
    percent_agreement: float | None
    kappa: float | None
    alpha: float | None
    prevalence: float | None
    prevalence_a: float | None
    prevalence_b: float | None
    percent_agreement_ci: tuple[float, float] | None = None
    kappa_ci: tuple[float, float] | None = None
    alpha_ci: tuple[float, float] | None = None
    bootstrap_undefined: dict[str, int] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AgreementReport:
    """Agreement per code and pooled, as returned by :func:`agreement`.

    Parameters
    ----------
    unit_kind : str
        The unit word of the input (``"sentence"``, ``"character"``...).
    n_units : int
        Units compared.
    codes : tuple of CodeAgreement
        One entry per code, in the input's code order.
    overall : CodeAgreement
        Pooled over codes: every (unit, code) pair is one presence/absence decision.
    bootstrap : int
        Number of bootstrap resamples (0: no intervals).
    seed : int
        Seed of the bootstrap generator.
    confidence : float
        Level of the intervals, e.g. 0.95.
    """

    unit_kind: str
    n_units: int
    codes: tuple[CodeAgreement, ...]
    overall: CodeAgreement
    bootstrap: int
    seed: int
    confidence: float

    def by_code(self, code: str) -> CodeAgreement:
        """Return the entry of ``code`` (:data:`OVERALL` for the pooled row)."""
        if code == OVERALL:
            return self.overall
        for entry in self.codes:
            if entry.code == code:
                return entry
        raise KeyError(code)


@dataclass(frozen=True)
class Disagreement:
    """A unit that one coder coded with ``code`` and the other did not.

    Parameters
    ----------
    unit : hashable
        The unit key.
    code : str
        The code.
    coded_by : {"A", "B"}
        The coder who applied the code.
    """

    unit: Hashable
    code: str
    coded_by: Coder


def _stats(
    both: np.ndarray, only_a: np.ndarray, only_b: np.ndarray, neither: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percent agreement, kappa and alpha, elementwise; NaN where undefined.

    Inputs are counts (any shape, broadcastable). Computed from the counts directly:

    * kappa = 2 (both*neither - only_a*only_b) / (a1*b0 + b1*a0), where a1/a0 and b1/b0
      are A's and B's present/absent totals (Cohen's kappa for a 2 x 2 table);
    * alpha = 1 - (2n - 1) (only_a + only_b) / (v1 * v0), where v1 = 2 both + only_a +
      only_b and v0 = 2 neither + only_a + only_b are the value totals of the
      coincidence matrix.
    """
    n11 = np.asarray(both, dtype=np.float64)
    n10 = np.asarray(only_a, dtype=np.float64)
    n01 = np.asarray(only_b, dtype=np.float64)
    n00 = np.asarray(neither, dtype=np.float64)
    n = n11 + n10 + n01 + n00
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = np.where(n > 0, 100.0 * (n11 + n00) / n, np.nan)
        denom_k = (n11 + n10) * (n10 + n00) + (n11 + n01) * (n01 + n00)
        kappa = np.where(denom_k > 0, 2.0 * (n11 * n00 - n10 * n01) / denom_k, np.nan)
        v1 = 2.0 * n11 + n10 + n01
        v0 = 2.0 * n00 + n10 + n01
        denom_a = v1 * v0
        alpha = np.where(denom_a > 0, 1.0 - (2.0 * n - 1.0) * (n10 + n01) / denom_a, np.nan)
    return percent, kappa, alpha


def _reasons(n: int, both: int, only_a: int, only_b: int, neither: int) -> dict[str, str]:
    if n == 0:
        return {k: _NO_UNITS for k in ("percent_agreement", "kappa", "alpha", "prevalence")}
    if both == only_a == only_b == 0:
        return {"kappa": f"{_NEITHER_USED}: {_KAPPA_SINGLE}",
                "alpha": f"{_NEITHER_USED}: {_ALPHA_SINGLE}"}
    if neither == only_a == only_b == 0:
        return {"kappa": f"{_BOTH_ALL}: {_KAPPA_SINGLE}",
                "alpha": f"{_BOTH_ALL}: {_ALPHA_SINGLE}"}
    return {}


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _patterns(
    a: np.ndarray, b: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapse runs into distinct (A row, B row) patterns with their unit counts."""
    m = a.shape[0]
    if m == 0:
        k = a.shape[1]
        return np.zeros((0, k), bool), np.zeros((0, k), bool), np.zeros(0, np.int64)
    packed = np.packbits(np.concatenate([a, b], axis=1), axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(first))
    return a[first], b[first], np.rint(counts).astype(np.int64)


def _bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    weights: np.ndarray,
    resamples: int,
    seed: int,
) -> np.ndarray:
    """Bootstrap cell counts: resample the ``n`` units with replacement ``resamples`` times.

    Two exact ways to draw the same distribution, chosen by the data (so the result
    depends only on the input and the seed):

    * few distinct patterns (or run-length units): resampling changes the statistics
      only through how many units of each distinct (A row, B row) pattern are drawn,
      which is Multinomial(n, counts / n); drawing those counts costs O(patterns) per
      resample, independent of ``n`` (10 million characters cost the same as 100);
    * many distinct patterns, one unit per run: draw ``n`` unit indices uniformly and
      count them (O(n) per resample), which is cheaper than a multinomial over almost
      as many categories as units.

    Returns
    -------
    ndarray of float64, shape (resamples, 3, n_codes)
        ``both``, ``only_a``, ``only_b`` per resample and code.
    """
    k = a.shape[1]
    n = int(weights.sum())
    pa, pb, counts = _patterns(a, b, weights)
    unit_draws = bool(np.all(weights == 1)) and len(counts) * 16 > n
    rows_a, rows_b = (a, b) if unit_draws else (pa, pb)
    m = rows_a.shape[0]
    product = _cell_product(
        np.concatenate([rows_a & rows_b, rows_a & ~rows_b, ~rows_a & rows_b], axis=1)
    )
    probs = counts / counts.sum()
    rng = np.random.default_rng(seed)
    per_resample = (n + m) if unit_draws else m
    chunk = max(1, min(resamples, _CHUNK_CELLS // max(1, per_resample)))
    out = np.empty((resamples, 3 * k), dtype=np.float64)
    for lo in range(0, resamples, chunk):
        size = min(chunk, resamples - lo)
        if unit_draws:
            draws = rng.integers(0, m, size=(size, n))
            draws += np.arange(size, dtype=np.int64)[:, None] * m
            tally = np.bincount(draws.ravel(), minlength=size * m).reshape(size, m)
        else:
            tally = rng.multinomial(n, probs, size=size)
        out[lo:lo + size] = product(tally)
    return np.rint(out).reshape(resamples, 3, k)


def _cell_product(cells: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``tally -> tally @ cells`` in float64, sparse when ``cells`` is large and sparse.

    Counts stay below 2**53, so float64 sums are exact.
    """
    if cells.size <= 2_000_000 or cells.mean() > 0.25:
        dense = cells.astype(np.float64)
        return lambda tally: tally.astype(np.float64) @ dense
    from scipy import sparse

    transposed = sparse.csr_matrix(cells.T.astype(np.float64))
    return lambda tally: np.asarray(transposed @ tally.T.astype(np.float64)).T


def _interval(values: np.ndarray, confidence: float) -> tuple[tuple[float, float] | None, int]:
    """Percentile interval over the defined values of one statistic, and the count left out."""
    defined = values[~np.isnan(values)]
    left_out = int(values.size - defined.size)
    if defined.size == 0:
        return None, left_out
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return (float(low), float(high)), left_out


def _entry(
    code: str,
    cells: tuple[int, int, int, int],
    boot: np.ndarray | None,
    confidence: float,
) -> CodeAgreement:
    both, only_a, only_b, neither = cells
    n = both + only_a + only_b + neither
    percent, kappa, alpha = (float(x) for x in _stats(*(np.float64(c) for c in cells)))
    undefined = _reasons(n, both, only_a, only_b, neither)
    cis: dict[str, tuple[float, float] | None] = {}
    boot_undefined: dict[str, int] = {}
    names = ("percent_agreement", "kappa", "alpha")
    if boot is not None:
        b_both, b_a, b_b = boot
        b_stats = _stats(b_both, b_a, b_b, n - b_both - b_a - b_b)
        for name, point, values in zip(names, (percent, kappa, alpha), b_stats, strict=True):
            if math.isnan(point):
                cis[name] = None
                continue
            cis[name], left_out = _interval(values, confidence)
            if left_out:
                boot_undefined[name] = left_out
    return CodeAgreement(
        code=code,
        n_units=n,
        both=both,
        only_a=only_a,
        only_b=only_b,
        neither=neither,
        percent_agreement=_opt(percent),
        kappa=_opt(kappa),
        alpha=_opt(alpha),
        prevalence=(both + only_a + only_b) / n if n else None,
        prevalence_a=(both + only_a) / n if n else None,
        prevalence_b=(both + only_b) / n if n else None,
        percent_agreement_ci=cis.get("percent_agreement"),
        kappa_ci=cis.get("kappa"),
        alpha_ci=cis.get("alpha"),
        bootstrap_undefined=boot_undefined,
        undefined=undefined,
    )


def agreement(
    inp: AgreementInput,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> AgreementReport:
    """Compute agreement per code and pooled over codes.

    Parameters
    ----------
    inp : AgreementInput
        The two coders' decisions.
    bootstrap : int, default=1000
        Number of bootstrap resamples of units for the intervals; 0 computes none.
    seed : int, default=0
        Seed of the bootstrap generator (``numpy.random.default_rng``); the same input
        and seed give the same intervals.
    confidence : float, default=0.95
        Level of the percentile intervals, strictly between 0 and 1.

    Returns
    -------
    AgreementReport

    Raises
    ------
    CasecoderError
        CC008 if ``bootstrap`` or ``seed`` is not a non-negative integer, or
        ``confidence`` is not strictly between 0 and 1.

    Notes
    -----
    Undefined statistics are ``None`` with a reason in ``undefined``, never an error:
    with no units everything is undefined; when a code was used by neither coder, or by
    both on every unit, percent agreement is 100 but kappa and alpha are 0/0. Every
    resample draws ``n_units`` units with replacement, shared by all codes and the
    pooled row; resamples where a statistic is undefined are left out of its interval
    and counted in ``bootstrap_undefined``.
    """
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int | np.integer) or bootstrap < 0:
        raise CasecoderError(
            "CC008", option="--bootstrap", value=bootstrap, expected="an integer >= 0"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise CasecoderError("CC008", option="--seed", value=seed, expected="an integer >= 0")
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise CasecoderError(
            "CC008", option="--confidence", value=confidence,
            expected="a number strictly between 0 and 1, such as 0.95",
        )
    a, b, weights = inp.presence()
    n = int(weights.sum())
    k = len(inp.codes)
    w = weights.astype(np.int64)[:, None]
    both = (w * (a & b)).sum(axis=0, dtype=np.int64)
    only_a = (w * (a & ~b)).sum(axis=0, dtype=np.int64)
    only_b = (w * (~a & b)).sum(axis=0, dtype=np.int64)
    neither = n - both - only_a - only_b

    boot: np.ndarray | None = None
    if bootstrap > 0 and n > 0 and k > 0:
        boot = _bootstrap(a, b, weights, int(bootstrap), seed)

    entries = tuple(
        _entry(
            code,
            (int(both[j]), int(only_a[j]), int(only_b[j]), int(neither[j])),
            None if boot is None else boot[:, :, j].T,
            confidence,
        )
        for j, code in enumerate(inp.codes)
    )
    pooled_cells = (int(both.sum()), int(only_a.sum()), int(only_b.sum()), int(neither.sum()))
    pooled_boot = None if boot is None else boot.sum(axis=2).T
    overall = _entry(OVERALL, pooled_cells, pooled_boot, confidence)
    if k == 0:
        overall = _with_reason(overall, "there are no codes to compare")
    return AgreementReport(
        unit_kind=inp.unit_kind,
        n_units=n,
        codes=entries,
        overall=overall,
        bootstrap=int(bootstrap),
        seed=seed,
        confidence=float(confidence),
    )


def _with_reason(entry: CodeAgreement, reason: str) -> CodeAgreement:
    names = ("percent_agreement", "kappa", "alpha", "prevalence")
    return replace(entry, undefined={name: reason for name in names})


def iter_disagreements(inp: AgreementInput) -> Iterator[Disagreement]:
    """Yield the disagreements of :func:`disagreements` lazily, in the same order."""
    a, b, _ = inp.presence()
    index = inp._index
    differs = np.flatnonzero((a != b).any(axis=1)) if a.size else np.zeros(0, np.int64)
    for run in differs:
        cols = np.flatnonzero(a[run] != b[run])
        who = ["A" if a[run, j] else "B" for j in cols]
        for unit in index.units_of_run(int(run)):
            for j, by in zip(cols, who, strict=True):
                yield Disagreement(unit=unit, code=inp.codes[j], coded_by=by)  # type: ignore[arg-type]


def disagreements(inp: AgreementInput) -> list[Disagreement]:
    """List every (unit, code) on which the coders differ.

    Parameters
    ----------
    inp : AgreementInput
        The two coders' decisions.

    Returns
    -------
    list of Disagreement
        Ordered by unit (the input's unit order), then by code (the input's code
        order). ``coded_by`` names the coder who applied the code. With character units
        there is one entry per character; use :func:`iter_disagreements` to stream.
    """
    return list(iter_disagreements(inp))


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def _round(x: float | None) -> float | None:
    if x is None:
        return None
    r = round(float(x), 4)
    return 0.0 if r == 0 else r  # no "-0.0"


def _entry_to_dict(entry: CodeAgreement) -> dict[str, Any]:
    def ci(pair: tuple[float, float] | None) -> list[float | None] | None:
        return None if pair is None else [_round(pair[0]), _round(pair[1])]

    out = {
        "alpha": _round(entry.alpha),
        "alpha_ci": ci(entry.alpha_ci),
        "both": entry.both,
        "bootstrap_undefined": dict(sorted(entry.bootstrap_undefined.items())),
        "code": entry.code,
        "kappa": _round(entry.kappa),
        "kappa_ci": ci(entry.kappa_ci),
        "n_units": entry.n_units,
        "neither": entry.neither,
        "only_a": entry.only_a,
        "only_b": entry.only_b,
        "percent_agreement": _round(entry.percent_agreement),
        "percent_agreement_ci": ci(entry.percent_agreement_ci),
        "prevalence": _round(entry.prevalence),
        "prevalence_a": _round(entry.prevalence_a),
        "prevalence_b": _round(entry.prevalence_b),
        "undefined": dict(sorted(entry.undefined.items())),
    }
    return dict(sorted(out.items()))


def report_to_dict(report: AgreementReport) -> dict[str, Any]:
    """Return the report as a JSON-serialisable dict.

    Parameters
    ----------
    report : AgreementReport
        The report to convert.

    Returns
    -------
    dict
        Keys sorted at every level, codes sorted by id, floats rounded to 4 decimals,
        undefined values as ``None`` (JSON ``null``), intervals as ``[low, high]``.
    """
    out = {
        "bootstrap": {
            "confidence": _round(report.confidence),
            "method": "percentile",
            "resamples": report.bootstrap,
            "seed": report.seed,
        },
        "codes": [_entry_to_dict(e) for e in sorted(report.codes, key=lambda e: e.code)],
        "n_units": report.n_units,
        "overall": _entry_to_dict(report.overall),
        "unit_kind": report.unit_kind,
    }
    return dict(sorted(out.items()))


def _fmt(x: float | None, digits: int) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _fmt_ci(pair: tuple[float, float] | None, digits: int) -> str:
    return "" if pair is None else f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def format_table(report: AgreementReport) -> str:
    """Render the report as a plain-text table, one row per code and a pooled row.

    Parameters
    ----------
    report : AgreementReport
        The report to render.

    Returns
    -------
    str
        Columns: code, units, both, A only, B only, neither, agreement %, kappa and
        alpha, each followed by its interval when the report has a bootstrap. ``n/a``
        marks an undefined value; the reasons follow the table. The pooled row comes
        last. Ends with a newline.
    """
    level = f"{round(report.confidence * 100, 2):g}% CI"
    with_ci = report.bootstrap > 0
    header = ["code", "n", "both", "A only", "B only", "neither"]
    for name in ("agree %", "kappa", "alpha"):
        header += [name, level] if with_ci else [name]
    rows = []
    for e in (*report.codes, report.overall):
        row = [e.code, str(e.n_units), str(e.both), str(e.only_a), str(e.only_b), str(e.neither)]
        for value, ci, digits in (
            (e.percent_agreement, e.percent_agreement_ci, 1),
            (e.kappa, e.kappa_ci, 3),
            (e.alpha, e.alpha_ci, 3),
        ):
            row += [_fmt(value, digits), _fmt_ci(ci, digits)] if with_ci else [_fmt(value, digits)]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        out = [cells[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    units = "units" if report.unit_kind == "unit" else f"{report.unit_kind} units"
    lines = [
        f"Agreement between coders A and B over {report.n_units} {units}"
        + (f" ({report.bootstrap} bootstrap resamples, seed {report.seed})"
           if with_ci else " (no bootstrap)"),
        "",
        line(header),
        line(["-" * w for w in widths]),
    ]
    lines += [line(r) for r in rows[:-1]]
    lines.append(line(["-" * w for w in widths]))
    lines.append(line(rows[-1]))
    notes = [
        f"{e.code}: {name} undefined: {reason}"
        for e in (*report.codes, report.overall)
        for name, reason in sorted(e.undefined.items())
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
