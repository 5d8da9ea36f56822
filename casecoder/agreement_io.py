"""Agreement between two coding passes of a project: :mod:`casecoder.agree` on the store.

:mod:`casecoder.agree` computes the statistics on any units; this module chooses the
units from the project and puts the text back on every disagreement:

* the compared sources are the current sources on which **both** passes have at least
  one coding (a pass leaves no trace on a source it read and did not code, so a source
  only one pass coded is left out and listed by :func:`compared_sources`);
* ``unit="sentence"``: every stored sentence segment of those sources is a unit; a pass
  codes a sentence ``X`` when one of its ``X`` codings overlaps it;
* ``unit="character"``: every character of the body of those sources (after the front
  matter, from ``Source.body_start``) is a unit, uncoded text counting as agreement on
  absence;
* ``level="frame"`` rolls every code up to its frame id first
  (:func:`casecoder.queries.frame_id`: ``mech.digital.lightweight`` → ``mech.digital``).

Polarity is not compared: a negated coding codes its unit like any other.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from casecoder.agree import AgreementReport
from casecoder.errors import CasecoderError
from casecoder.models import Source
from casecoder.store import Store

UNITS: tuple[str, ...] = ("sentence", "character")


@dataclass(frozen=True)
class TextDisagreement:
    """A stretch of text one pass coded with ``code`` and the other did not.

    Parameters
    ----------
    source : str
        The source's name.
    source_id : int
        The source's id in the store.
    case_id : str or None
        The source's case.
    start_char, end_char : int
        The unit (a sentence) or run of consecutive characters, half-open offsets into
        the source's raw text.
    code : str
        The code (its frame id with ``level="frame"``).
    coded_by : {"A", "B"}
        Which pass applied the code: A is ``pass_a``, B is ``pass_b``.
    pass_name : str
        The name of that pass.
    text : str
        ``raw[start_char:end_char]``.
    """

    source: str
    source_id: int
    case_id: str | None
    start_char: int
    end_char: int
    code: str
    coded_by: str
    pass_name: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "source_id": self.source_id, "case": self.case_id,
                "start_char": self.start_char, "end_char": self.end_char, "code": self.code,
                "coded_by": self.coded_by, "pass": self.pass_name, "text": self.text}


SOURCE_SCOPES = ("either", "both", "all")


@dataclass(frozen=True)
class ComparedSources:
    """Which current sources two passes coded, and which are compared.

    Parameters
    ----------
    shared : list of Source
        The sources compared, sorted by name (see :func:`compared_sources`).
    only_a, only_b : list of str
        Names of the sources only pass A, only pass B coded.
    scope : str
        How ``shared`` was chosen: ``either``, ``both`` or ``all``.
    stale_a, stale_b : list of str
        Names of the sources whose superseded versions (text since changed) hold codings
        of pass A, of pass B: those codings are not compared, and the report says so.
    """

    shared: list[Source]
    only_a: list[str]
    only_b: list[str]
    scope: str = "either"
    stale_a: list[str] = field(default_factory=list)
    stale_b: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"compared": [s.name for s in self.shared], "only_a": self.only_a,
                "only_b": self.only_b, "scope": self.scope, "stale_a": self.stale_a,
                "stale_b": self.stale_b}


def compared_sources(store: Store, pass_a: str, pass_b: str, scope: str = "either",
                     ) -> ComparedSources:
    """The current sources compared, and those only one pass coded.

    ``scope`` chooses the sources: ``either`` (default) every source either pass coded:
    a source one coder left without any coding counts as that coder finding no code
    there, so skipping a source lowers agreement instead of hiding; ``both`` only the
    sources both passes coded (for a second coder who coded a sample of the sources);
    ``all`` every current source of the project.

    Raises
    ------
    CasecoderError
        CC006 for an unknown pass; CC008 for an unknown ``scope``.
    """
    if scope not in SOURCE_SCOPES:
        raise CasecoderError("CC008", option="--sources", value=scope,
                             expected=" | ".join(SOURCE_SCOPES))
    store.require_pass(pass_a)
    store.require_pass(pass_b)
    coded_a = _coded_source_ids(store, pass_a)
    coded_b = _coded_source_ids(store, pass_b)
    sources = store.sources()
    wanted = {"either": coded_a | coded_b, "both": coded_a & coded_b,
              "all": {s.id for s in sources}}[scope]
    return ComparedSources(
        shared=[s for s in sources if s.id in wanted],
        only_a=[s.name for s in sources if s.id in coded_a and s.id not in coded_b],
        only_b=[s.name for s in sources if s.id in coded_b and s.id not in coded_a],
        scope=scope,
        stale_a=_stale_sources(store, pass_a),
        stale_b=_stale_sources(store, pass_b),
    )


def pass_agreement(
    store: Store,
    pass_a: str,
    pass_b: str,
    unit: str = "sentence",
    codes: Sequence[str] | None = None,
    level: str = "frame",
    bootstrap: int = 1000,
    seed: int = 0,
    sources: str = "either",
) -> tuple[AgreementReport, list[TextDisagreement]]:
    """Agreement between two passes of a project, per code and pooled.

    Parameters
    ----------
    store : Store
        The project store.
    pass_a, pass_b : str
        The two passes (coders A and B).
    unit : {"sentence", "character"}, default="sentence"
        The unit of comparison (see the module docstring).
    codes : sequence of str, default=None
        The codes compared, in report order, at the chosen ``level``; codings of other
        codes are left out. ``None`` takes every code either pass used, sorted.
    level : {"frame", "code"}, default="frame"
        ``"frame"`` rolls codes up to their frame ids; ``"code"`` compares codes as coded.
    bootstrap : int, default=1000
        Bootstrap resamples for the 95% intervals; 0 computes none.
    seed : int, default=0
        Seed of the bootstrap.
    sources : {"either", "both", "all"}, default="either"
        Which sources are compared (:func:`compared_sources`).

    Returns
    -------
    report : AgreementReport
        Per-code and pooled statistics (:func:`casecoder.agree.agreement`).
    disagreements : list of TextDisagreement
        Every unit and code on which the passes differ, in source (by name) and text
        order, then by code; with character units, consecutive characters are joined
        into one stretch.

    Raises
    ------
    CasecoderError
        CC006 for an unknown pass; CC008 for an unknown ``unit`` or ``level`` or a
        negative ``bootstrap`` or an unknown ``sources``; CC701 when no source is
        compared.
    """
    from casecoder.agree import agreement, iter_disagreements, units_from_spans
    from casecoder.queries import check_level, frame_id, require_codes

    if unit not in UNITS:
        raise CasecoderError("CC008", option="--unit", value=unit,
                             expected="sentence or character")
    check_level(level)
    if codes:
        require_codes(store, codes)
        sub = [c for c in codes if level == "frame" and frame_id(c) != c]
        if sub:  # rolled up to frame ids, a sub-code would never be found: say so
            raise CasecoderError("CC008", option="--code", value=sub[0],
                                 expected=f"a frame id at --level frame ({frame_id(sub[0])}),"
                                          " or --level code to compare sub-codes")
    compared = compared_sources(store, pass_a, pass_b, sources)
    if not compared.shared:
        raise CasecoderError("CC701", a=pass_a, b=pass_b)
    by_id = {s.id: s for s in compared.shared}
    if codes is not None:
        codes = list(dict.fromkeys(codes))
    wanted = None if codes is None else set(codes)

    def spans(pass_name: str) -> list[tuple[int, str, int, int]]:
        out = []
        for c in store.codings(pass_name):
            if c.source_id not in by_id or c.end_char <= c.start_char:
                continue  # another source, or an empty span, which codes no unit
            code = frame_id(c.code) if level == "frame" else c.code
            if wanted is not None and code not in wanted:
                continue
            out.append((c.source_id, code, c.start_char, c.end_char))
        return out

    spans_a, spans_b = spans(pass_a), spans(pass_b)
    if unit == "sentence":
        sentences = {s.id: [(g.start_char, g.end_char)
                            for g in store.segments(source_id=s.id, kind="sentence")]
                     for s in compared.shared}
        inp = units_from_spans(spans_a, spans_b, unit="sentence", sentences=sentences,
                               codes=codes)
    else:
        # Characters of the body only: shift offsets so that the body starts at 0.
        shift = {s.id: s.body_start for s in compared.shared}
        inp = units_from_spans(
            _shifted(spans_a, shift), _shifted(spans_b, shift), unit="character",
            universe="sources", codes=codes,
            source_lengths={s.id: len(s.text) - s.body_start for s in compared.shared})
    report = agreement(inp, bootstrap=bootstrap, seed=seed)
    names = {"A": pass_a, "B": pass_b}
    if unit == "sentence":
        found = []
        for d in iter_disagreements(inp):
            sid, start, end = d.unit  # type: ignore[misc]
            found.append(_text(by_id[sid], start, end, d.code, d.coded_by, names))
    else:
        found = _character_runs(iter_disagreements(inp), by_id, names)
    return report, found


def _stale_sources(store: Store, pass_name: str) -> list[str]:
    """Names of the sources whose superseded versions hold codings of ``pass_name``."""
    rows = store.db.execute(
        "SELECT DISTINCT s.name FROM codings c JOIN sources s ON s.id = c.source_id "
        "WHERE c.pass = ? AND s.current = 0 ORDER BY s.name", (pass_name,))
    return [r[0] for r in rows]


def _coded_source_ids(store: Store, pass_name: str) -> set[int]:
    rows = store.db.execute(
        "SELECT DISTINCT c.source_id FROM codings c JOIN sources s ON s.id = c.source_id "
        "WHERE c.pass = ? AND s.current = 1", (pass_name,))
    return {r[0] for r in rows}


def _shifted(spans: Iterable[tuple[int, str, int, int]], shift: dict[int, int],
             ) -> list[tuple[int, str, int, int]]:
    """Spans relative to the body; parts in the front matter are cut off."""
    out = []
    for sid, code, start, end in spans:
        s, e = max(start, shift[sid]) - shift[sid], end - shift[sid]
        if e > s:
            out.append((sid, code, s, e))
    return out


def _text(src: Source, start: int, end: int, code: str, by: str,
          names: dict[str, str]) -> TextDisagreement:
    return TextDisagreement(source=src.name, source_id=int(src.id or 0), case_id=src.case_id,
                            start_char=start, end_char=end, code=code, coded_by=by,
                            pass_name=names[by], text=src.text[start:end])


def _character_runs(found: Iterable[Any], by_id: dict[int, Source],
                    names: dict[str, str]) -> list[TextDisagreement]:
    """Join per-character disagreements into runs of consecutive characters."""
    open_runs: dict[tuple[Hashable, str, str], list[int]] = {}
    runs: list[tuple[Hashable, str, str, int, int]] = []
    for d in found:
        sid, char = d.unit
        key = (sid, d.code, d.coded_by)
        run = open_runs.get(key)
        if run is not None and run[1] == char:
            run[1] = char + 1
            continue
        if run is not None:
            runs.append((*key, run[0], run[1]))
        open_runs[key] = [char, char + 1]
    runs += [(*key, run[0], run[1]) for key, run in open_runs.items()]
    order = {sid: n for n, sid in enumerate(by_id)}
    runs.sort(key=lambda r: (order[r[0]], r[3], r[4], r[1], r[2]))
    out = []
    for sid, code, by, start, end in runs:
        src = by_id[sid]  # type: ignore[index]
        out.append(_text(src, start + src.body_start, end + src.body_start, code, by, names))
    return out

