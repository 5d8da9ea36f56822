"""Import codings made elsewhere (another project, a spreadsheet, a colleague) as a pass.

The file has the layout ``casecoder export codings`` writes (JSONL or CSV; see
:data:`casecoder.exporting.CODING_COLUMNS`). Required fields: ``source``, ``code``,
``start_char``, ``end_char``. Optional: ``quote``, ``evidence``, ``coder``,
``confidence``, ``rule``, ``polarity``; ``case`` is checked against the source's case
when both are given; ``pass`` is ignored (every record goes to the pass named on import).

Every record must land on the same text it was made on: the source is looked up by name
among the current sources, the offsets must lie inside its raw text and a ``quote``,
when present, must equal ``raw[start_char:end_char]``. The whole file is checked before
anything is written, and the pass is then replaced in one transaction, so a bad line
leaves the store as it was. A file without records is refused too: importing it would
empty the pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casecoder import records
from casecoder.errors import CasecoderError, known_list
from casecoder.models import Codebook, Source
from casecoder.store import Store

REQUIRED = ("source", "code", "start_char", "end_char")
SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv")
CODE_ID = re.compile(r"^[^\s.]+(\.[^\s.]+)*$")
#: Kinds of segment a coding's span is matched to, most specific first.
SEGMENT_PREFERENCE = ("sentence", "turn", "paragraph", "heading")
DEFAULT_RULE = "import"


def import_codings(store: Store, path: str | Path, pass_name: str, coder: str | None = None,
                   codebook: Codebook | None = None) -> int:
    """Read a codings file and store it as the pass ``pass_name`` (replacing it).

    Parameters
    ----------
    store : Store
        The open project store.
    path : str or Path
        A ``.jsonl`` (or ``.json``/``.ndjson``) or ``.csv`` file in the layout of
        ``casecoder export codings``.
    pass_name : str
        The pass to (re)write.
    coder : str, default=None
        Coder recorded on every coding, overriding the file's ``coder`` column. By
        default each record keeps its own coder, or ``import:<file name>`` when it has
        none; the pass's coder is ``coder`` or ``import:<file name>``.
    codebook : Codebook, default=None
        When given, every code must be defined in it (CC301 otherwise).

    Returns
    -------
    int
        The number of codings written.

    Raises
    ------
    CasecoderError
        CC108 the file does not exist; CC607 it is neither JSONL nor CSV; CC609 it is
        binary or its encoding cannot be decided; CC610 it holds no records (an import
        never empties a pass); CC602 a line is not a JSON object or a well-formed CSV row
        with one cell per column, or a record misses a required field or holds a value
        of the wrong type; CC604 a record names an unknown source, has offsets outside
        the source's text or a quote that differs from the text at its offsets; CC301 a
        code is not in ``codebook``. Every message names the file (and the line, where
        there is one); nothing is written.
    """
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        if not p.exists():
            raise CasecoderError("CC108", path=str(p))
        raise CasecoderError("CC607", path=str(p), suffix=p.suffix, what="codings",
                             known=".jsonl or .csv (the layout of `casecoder export codings`)")
    recs = records.read(p)
    if not recs:
        raise CasecoderError("CC610", path=str(p), found=_nothing_found(p), name=pass_name)
    default_coder = coder or f"import:{p.name}"
    sources = {s.name: s for s in store.sources()}
    segs = _segment_index(store)
    rows: list[tuple] = []
    for line, rec in recs:
        src, code, start, end, evidence, extra = _check(rec, p, line, sources, codebook)
        rows.append((pass_name, src.id, code, start, end,
                     json.dumps([list(e) for e in evidence]),
                     extra["rule"], extra["confidence"],
                     coder or extra["coder"] or default_coder, extra["polarity"],
                     segs.get((src.id, start, end))))
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    options = {"file": str(p), "file_sha256": sha, "records": len(rows)}
    with store.transaction():
        run_id = store.start_run("import", {**options, "pass": pass_name})
        store.replace_pass(pass_name, default_coder,
                           codebook.name if codebook else None,
                           codebook.sha256 if codebook else None, options, run_id)
        store.add_codings(rows)
        store.end_run(run_id)
    return len(rows)


def _nothing_found(p: Path) -> str:
    """What a file without records holds, for CC610."""
    data = p.read_bytes()
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        data = data.removeprefix(bom)
    if not data.strip():
        return "the file is empty"
    if p.suffix.lower() == ".csv":
        return "a header row and no data rows"
    return "only blank lines"


# -- one record ------------------------------------------------------------------------

def _check(rec: dict[str, Any], path: Path, line: int, sources: dict[str, Source],
           codebook: Codebook | None) -> tuple[Source, str, int, int, list[tuple[int, int]],
                                                dict[str, Any]]:
    def bad(reason: str) -> CasecoderError:
        return CasecoderError("CC602", path=str(path), line=line, reason=reason)

    for name in REQUIRED:
        if _blank(rec.get(name)):
            have = ", ".join(k for k in rec if not _blank(rec.get(k))) or "none"
            raise bad(f"the required field {name!r} is missing or empty (fields given: "
                      f"{have}); a coding needs {', '.join(REQUIRED)}")
    name = str(rec["source"]).strip()
    code = str(rec["code"]).strip()
    start = whole_number(rec["start_char"], "start_char", bad)
    end = whole_number(rec["end_char"], "end_char", bad)
    if not CODE_ID.match(code):
        raise bad(f"code {code!r} is not a valid code id; expected dot-separated parts "
                  "without spaces, such as mech.digital")

    def mismatch(reason: str) -> CasecoderError:
        return CasecoderError("CC604", path=str(path), line=line, code=code, source=name,
                              start=start, end=end, reason=reason)

    src = sources.get(name)
    if src is None:
        known = known_list(sorted(sources))
        raise mismatch(f"no current source is named {name!r} (known sources: {known}); "
                       "ingest the source first or fix its name")
    n = len(src.text)
    if not 0 <= start < end <= n:
        raise mismatch(f"the offsets are outside the source's text, which has {n} "
                       "characters (expected 0 <= start_char < end_char <= length)")
    quote = rec.get("quote")
    if not _blank(quote) and str(quote) != src.text[start:end]:
        raise mismatch(f"the quote {_short(str(quote))!r} differs from the source's text at "
                       f"these offsets, {_short(src.text[start:end])!r}; the source changed "
                       "or the offsets are not code points of the raw text")
    case = rec.get("case")
    if not _blank(case) and src.case_id and str(case) != src.case_id:
        raise mismatch(f"the record's case {case!r} is not the source's case {src.case_id!r}")
    if codebook is not None and code not in codebook.codes:
        raise CasecoderError("CC301", code=code, path=str(path), line=line,
                             known=known_codes(code, codebook))
    evidence = _evidence(rec.get("evidence"), start, end, n, bad, mismatch)
    extra = {
        "rule": DEFAULT_RULE if _blank(rec.get("rule")) else str(rec["rule"]),
        "coder": None if _blank(rec.get("coder")) else str(rec["coder"]),
        "confidence": _confidence(rec.get("confidence"), bad),
        "polarity": _polarity(rec.get("polarity"), bad),
    }
    return src, code, start, end, evidence, extra


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _short(text: str, n: int = 30) -> str:
    return text if len(text) <= n else text[:n] + "…"


def whole_number(value: Any, name: str, bad: Callable[[str], CasecoderError]) -> int:
    """``value`` as an int (a JSON number or a CSV cell); ``bad(reason)`` makes the error."""
    if isinstance(value, bool):
        raise bad(f"{name} is {value!r}; expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    raise bad(f"{name} is {value!r}; expected a whole number")


def _confidence(value: Any, bad: Any) -> float:
    if _blank(value):
        return 1.0
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise bad(f"confidence is {value!r}; expected a number from 0 to 1") from None
    if isinstance(value, bool) or math.isnan(x) or not 0.0 <= x <= 1.0:
        raise bad(f"confidence is {value!r}; expected a number from 0 to 1")
    return x


def _polarity(value: Any, bad: Any) -> int:
    if _blank(value):
        return 1
    if isinstance(value, str) and value.strip() in ("1", "-1", "+1"):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (1, -1):
        return value
    raise bad(f"polarity is {value!r}; expected 1 or -1")


def _evidence(value: Any, start: int, end: int, n: int, bad: Any, mismatch: Any,
              ) -> list[tuple[int, int]]:
    """Evidence spans; a record without them is its own evidence ``[[start, end]]``."""
    if _blank(value):
        return [(start, end)]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise bad(f"evidence {value!r} is not a JSON list of [start, end] pairs") from None
    if not isinstance(value, list) or not all(
        isinstance(e, list) and len(e) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in e) for e in value
    ):
        raise bad(f"evidence {value!r} is not a list of [start, end] pairs of whole numbers")
    spans = [(int(a), int(b)) for a, b in value]
    for a, b in spans:
        if not 0 <= a < b <= n:
            raise mismatch(f"the evidence span {a}:{b} is outside the source's text "
                           f"({n} characters)")
    return spans


def known_codes(code: str, codebook: Codebook) -> str:
    """The codebook's ids for an error message, closest to ``code`` first when many."""
    import difflib

    ids = list(codebook.codes)
    close = difflib.get_close_matches(code, ids, n=4, cutoff=0.5)
    if len(ids) <= 12:
        head = ", ".join(ids)
    else:
        head = ", ".join(close or ids[:6]) + f", ... ({len(ids)} codes)"
    if close:
        head += f" (did you mean {close[0]!r}?)"
    return head


def _segment_index(store: Store) -> dict[tuple[int, int, int], int]:
    """Segment id of each ``(source_id, start, end)`` span, the most specific kind first."""
    rank = {k: i for i, k in enumerate(SEGMENT_PREFERENCE)}
    best: dict[tuple[int, int, int], tuple[int, int]] = {}
    for seg in store.segments():
        key = (seg.source_id, seg.start_char, seg.end_char)
        cand = (rank.get(seg.kind, len(rank)), int(seg.id or 0))
        if key not in best or cand < best[key]:
            best[key] = cand
    return {k: v[1] for k, v in best.items()}
