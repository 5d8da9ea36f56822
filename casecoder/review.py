"""Review: a person accepts, rejects or recodes the codings of a pass.

Two routes lead to the same result, a *reviewed pass* holding the accepted codings and
the recoded ones under their new code (coder ``review:<pass>``):

* a spreadsheet: :func:`export_review` writes one row per coding (CSV or XLSX) with
  its context and empty ``decision``/``new_code``/``note`` columns; the reviewer fills
  them in; :func:`import_review` reads them back and writes the reviewed pass;
* the terminal: :class:`ReviewSession` shows one coding at a time and reads one key
  per decision. Every decision is saved at once to a JSON state file in the project
  directory, so an interrupted session (Ctrl-C, a crash, a closed terminal) resumes
  where it stopped.

Items are the codings of the pass in document order (source name, then offsets, then
code); ``id`` is the 1-based position in that order. Ordering by ``uncertainty`` puts
model codings (rule ``model:…``) first, least certain first (``|p - 0.5|`` ascending),
then any other codings in document order. ``docs/review.md`` describes keys and columns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casecoder.errors import CasecoderError
from casecoder.fileio import FIXED_TIME, stable_zip, write_bytes, write_text
from casecoder.models import Codebook, Coding
from casecoder.store import Store

REVIEW_COLUMNS = ("id", "source", "case", "code", "start_char", "end_char", "context_before",
                  "quote", "context_after", "confidence", "decision", "new_code", "note")
DECISIONS = ("accept", "reject", "recode", "skip")
ALIASES = {"a": "accept", "r": "reject", "c": "recode", "s": "skip"}
ORDERS = ("document", "uncertainty")
CONTEXT = 60
MODEL_PREFIX = "model:"
CODE_ID = re.compile(r"^[^\s.]+(\.[^\s.]+)*$")
#: Workbook timestamps: fixed, so the same review exports to the same bytes.
SHEET = "review"
STATE_DIR = "review-state"
HELP_LINE = "a accept  r reject  c recode  s skip  b back  q quit"


@dataclass
class ReviewItem:
    """One coding to review, with its text and context."""

    id: int
    source: str
    case: str | None
    code: str
    start_char: int
    end_char: int
    context_before: str
    quote: str
    context_after: str
    confidence: float
    rule: str
    evidence: list[tuple[int, int]]
    coding: Coding

    @property
    def key(self) -> str:
        """Identifies the coding across sessions: source, offsets and code."""
        return f"{self.source}\t{self.start_char}\t{self.end_char}\t{self.code}"

    @property
    def is_model(self) -> bool:
        return self.rule.startswith(MODEL_PREFIX)

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "case": self.case, "code": self.code,
                "start_char": self.start_char, "end_char": self.end_char,
                "context_before": self.context_before, "quote": self.quote,
                "context_after": self.context_after, "confidence": self.confidence,
                "decision": "", "new_code": "", "note": ""}


@dataclass
class Decision:
    decision: str
    code: str | None = None
    note: str = ""


def review_items(store: Store, pass_name: str, order: str = "document",
                 context: int = CONTEXT) -> list[ReviewItem]:
    """The codings of ``pass_name`` as review items, in ``order``.

    Raises
    ------
    CasecoderError
        CC006 unknown pass; CC008 unknown order; CC707 ``order="uncertainty"`` on a pass
        without model probabilities.
    """
    if order not in ORDERS:
        raise CasecoderError("CC008", option="--order", value=order,
                             expected=" or ".join(ORDERS))
    store.require_pass(pass_name)
    sources = {s.id: s for s in store.sources()}
    items = []
    for n, c in enumerate(store.codings(pass_name), start=1):
        src = sources[c.source_id]
        t = src.text
        lo = max(min(src.body_start, c.start_char), c.start_char - context)  # no front matter
        items.append(ReviewItem(
            id=n, source=src.name, case=src.case_id, code=c.code, start_char=c.start_char,
            end_char=c.end_char, context_before=t[lo:c.start_char],
            quote=t[c.start_char:c.end_char], context_after=t[c.end_char:c.end_char + context],
            confidence=c.confidence, rule=c.rule, evidence=list(c.evidence), coding=c))
    if order == "uncertainty":
        if not any(i.is_model for i in items):
            raise CasecoderError("CC707", name=pass_name)
        items.sort(key=lambda i: (0, round(abs(i.confidence - 0.5), 9), i.id) if i.is_model
                   else (1, 0.0, i.id))
    return items


# -- writing the reviewed pass -------------------------------------------------------------

def write_reviewed(store: Store, pass_name: str, out_pass: str, items: list[ReviewItem],
                   decisions: dict[str, Decision], how: str) -> dict[str, Any]:
    """Write the reviewed pass: accepted codings and recoded ones, in one transaction.

    An accepted coding is copied unchanged except for its coder (``review:<pass>``); a
    recoded one takes its new code and the rule ``review:recode from <old code>``. When
    a recode lands on a code the unit keeps (an accepted coding, or an earlier recode),
    the recode is the duplicate dropped (counted as ``duplicates``), whatever the order.
    """
    counts: Counter = Counter()
    kept: list[tuple[int, tuple]] = []
    seen: set[tuple[int, int, int, str]] = set()
    coder = f"review:{pass_name}"

    def kind(item: ReviewItem) -> str:
        d = decisions.get(item.key)
        return d.decision if d else "undecided"

    # accepted codings first, so that a recode landing on a code the unit keeps is the
    # duplicate dropped, whatever the order of the rows
    for item in sorted(items, key=lambda i: (kind(i) != "accept", i.id)):
        k = kind(item)
        counts[k] += 1
        if k not in ("accept", "recode"):
            continue
        c = item.coding
        d = decisions[item.key]
        code = d.code if k == "recode" and d.code else c.code
        rule = c.rule if k == "accept" else f"review:recode from {c.code}"
        key = (c.source_id, c.start_char, c.end_char, code)
        if key in seen:
            counts["duplicates"] += 1
            continue
        seen.add(key)
        kept.append((item.id, (out_pass, c.source_id, code, c.start_char, c.end_char,
                               json.dumps([list(e) for e in c.evidence]), rule, c.confidence,
                               coder, c.polarity, c.segment_id)))
    rows = [row for _id, row in sorted(kept, key=lambda x: x[0])]
    meta = {p["name"]: p for p in store.passes()}[pass_name]
    options = {"reviewed_pass": pass_name, "how": how, "items": len(items)}
    with store.transaction():
        run_id = store.start_run("review", {**options, "pass": out_pass})
        store.replace_pass(out_pass, coder, meta["codebook"], meta["codebook_sha256"], options,
                           run_id)
        store.add_codings(rows)
        store.end_run(run_id)
    return {"pass": out_pass, "reviewed_pass": pass_name, "items": len(items),
            "accepted": counts["accept"], "rejected": counts["reject"],
            "recoded": counts["recode"], "skipped": counts["skip"],
            "undecided": counts["undecided"], "duplicates": counts["duplicates"],
            "codings": len(rows)}


def _check_out_pass(pass_name: str, out_pass: str) -> None:
    if not out_pass or out_pass == pass_name:
        raise CasecoderError("CC008", option="--out-pass", value=out_pass,
                             expected="a pass name other than the reviewed pass")


def _check_code(code: str, codebook: Codebook | None, where: str) -> str:
    """A recode target: a valid id, and defined in ``codebook`` when one is given."""
    from casecoder.importing import known_codes

    code = code.strip()
    if not CODE_ID.match(code):
        raise CasecoderError("CC706", where=where, code=code,
                             expected="a code id such as mech.digital")
    if codebook is not None and code not in codebook.codes:
        raise CasecoderError("CC706", where=where, code=code,
                             expected=f"a code of the codebook {codebook.path} "
                                      f"({known_codes(code, codebook)})")
    return code


# -- the spreadsheet route -----------------------------------------------------------------

def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise CasecoderError("CC607", path=str(path), suffix=path.suffix, what="review files",
                             known=".csv or .xlsx")
    return suffix[1:]


def export_review(store: Store, pass_name: str, path: str | Path, order: str = "document",
                  context: int = CONTEXT) -> int:
    """Write a review sheet of ``pass_name`` (CSV or XLSX, by the file suffix).

    Columns: ``id, source, case, code, start_char, end_char, context_before, quote,
    context_after, confidence, decision, new_code, note``; the last three are empty for
    the reviewer. A CSV starts with a UTF-8 byte order mark so spreadsheet programs read
    Chinese correctly. An XLSX has fixed creation and modification times (and fixed
    times inside its zip archive), so the same pass exports to the same bytes.

    Returns
    -------
    int
        The number of rows written.
    """
    p = Path(path)
    kind = _kind(p)
    items = review_items(store, pass_name, order, context)
    recs = [i.record() for i in items]
    if kind == "csv":
        from casecoder import records

        write_text(p, "\ufeff" + records.render(recs, "csv", REVIEW_COLUMNS, "review"))
    else:
        write_bytes(p, _xlsx(recs, pass_name))
    return len(recs)


def _xlsx(recs: list[dict[str, Any]], pass_name: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(list(REVIEW_COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in recs:
        ws.append(["" if r[c] is None else r[c] for c in REVIEW_COLUMNS])
    widths = {"id": 6, "source": 24, "case": 8, "code": 22, "start_char": 10, "end_char": 10,
              "context_before": 30, "quote": 60, "context_after": 30, "confidence": 11,
              "decision": 12, "new_code": 20, "note": 30}
    for n, name in enumerate(REVIEW_COLUMNS):
        letter = ws.cell(row=1, column=n + 1).column_letter
        ws.column_dimensions[letter].width = widths[name]
    wrap = Alignment(wrap_text=True, vertical="top")
    quote_col = REVIEW_COLUMNS.index("quote") + 1
    for row in ws.iter_rows(min_row=2, min_col=quote_col, max_col=quote_col):
        for cell in row:
            cell.alignment = wrap
    ws.freeze_panes = "A2"
    wb.properties.creator = "casecoder"
    wb.properties.title = f"review of pass {pass_name}"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    return stable_zip(buf.getvalue())



def _read_sheet(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(row number, row)`` pairs of a review CSV or XLSX.

    Rows are numbered as a spreadsheet shows them (the header is row 1), also for CSV,
    whose cells may span several physical lines; error messages call this the line.
    """
    kind = _kind(path)
    if not path.exists():
        raise CasecoderError("CC108", path=str(path))
    if kind == "csv":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise CasecoderError(
                "CC602", path=str(path), line=line,
                reason="the file is not UTF-8 text; save it as \"CSV UTF-8\" or review "
                       "through an .xlsx file") from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        # numbered as spreadsheet rows (header = 1): cells may hold line breaks
        rows = [(n, rec) for n, rec in enumerate(reader, start=2)]
        header = reader.fieldnames or []
    else:
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise CasecoderError("CC602", path=str(path), line=1,
                                 reason=f"not a readable .xlsx workbook ({exc})") from None
        ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        first = next(it, None) or ()
        header = [str(h).strip() if h is not None else "" for h in first]
        rows = []
        for n, values in enumerate(it, start=2):
            if values is None or all(v is None or v == "" for v in values):
                continue
            rows.append((n, {h: v for h, v in zip(header, values, strict=False) if h}))
        wb.close()
    missing = [c for c in ("source", "code", "start_char", "end_char", "decision")
               if c not in header]
    if missing:
        raise CasecoderError("CC602", path=str(path), line=1,
                             reason=f"the header lacks the column(s) {', '.join(missing)}; "
                                    f"expected {', '.join(REVIEW_COLUMNS)}")
    return rows


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_decision(value: Any, new_code: Any, codebook: Codebook | None, path: str,
                   line: int) -> Decision | None:
    """A sheet cell's decision (None when undecided).

    Accepted: ``accept``, ``reject``, ``skip``, ``recode`` (with ``new_code``) or
    ``recode:CODE``, in any case, and the one-letter keys ``a``, ``r``, ``s``, ``c``.
    """
    raw = _text(value)
    word = raw.lower()
    if not word:
        return None
    code = ""
    if word.startswith("recode:"):
        word, code = "recode", raw.split(":", 1)[1].strip()
    word = ALIASES.get(word, word)
    if word not in DECISIONS:
        raise CasecoderError("CC703", path=path, line=line, value=raw)
    if word != "recode":
        return Decision(word)
    other = _text(new_code)
    if code and other and other != code:  # recode:A with new_code B: which one?
        raise CasecoderError("CC706", where=f"{path} line {line}", code=f"{code} / {other}",
                             expected="one new code (recode:CODE and new_code disagree)")
    code = code or other
    return Decision("recode", _check_code(code, codebook, f"{path} line {line}"))


def import_review(store: Store, path: str | Path, pass_name: str, out_pass: str = "reviewed",
                  codebook: Codebook | None = None) -> dict[str, Any]:
    """Read a filled-in review sheet and write the reviewed pass ``out_pass``.

    Rows are matched to the codings of ``pass_name`` by source, offsets and code (rows
    may be re-sorted or deleted; a deleted row counts as undecided). The whole sheet is
    checked before anything is written.

    Parameters
    ----------
    store : Store
        The open project store.
    path : str or Path
        The ``.csv`` or ``.xlsx`` sheet written by :func:`export_review`.
    pass_name : str
        The pass that was exported for review.
    out_pass : str, default="reviewed"
        The reviewed pass to (re)write.
    codebook : Codebook, default=None
        When given, new codes must be defined in it (CC301).

    Returns
    -------
    dict
        Counts: ``accepted``, ``rejected``, ``recoded``, ``skipped``, ``undecided``,
        ``duplicates``, ``codings`` (written), with ``pass`` and ``reviewed_pass``.

    Raises
    ------
    CasecoderError
        CC703 an unknown decision; CC706 a recode without a valid code; CC705 a row that
        is not a coding of the pass; CC602 an unreadable sheet; all with file and line.
    """
    from casecoder.importing import whole_number

    _check_out_pass(pass_name, out_pass)
    p = Path(path)
    rows = _read_sheet(p)
    items = review_items(store, pass_name)
    by_key = {i.key: i for i in items}
    decisions: dict[str, Decision] = {}
    first_line: dict[str, int] = {}
    for line, rec in rows:
        def bad(reason: str, line: int = line) -> CasecoderError:
            return CasecoderError("CC602", path=str(p), line=line, reason=reason)

        source = _text(rec.get("source"))
        code = _text(rec.get("code"))
        start = whole_number(rec.get("start_char"), "start_char", bad)
        end = whole_number(rec.get("end_char"), "end_char", bad)
        item = by_key.get(f"{source}\t{start}\t{end}\t{code}")
        if item is None:
            raise CasecoderError("CC705", path=str(p), line=line, row_id=_text(rec.get("id")),
                                 source=source, start=start, end=end, code=code,
                                 name=pass_name)
        d = parse_decision(rec.get("decision"), rec.get("new_code"), codebook, str(p), line)
        if d is not None:
            d.note = _text(rec.get("note"))
            had = decisions.get(item.key)
            if had is not None and (had.decision, had.code) != (d.decision, d.code):
                raise bad(f"a second row for the coding of line {first_line[item.key]} with "
                          f"another decision ({had.decision} there, {d.decision} here); "
                          "keep one of the two")
            decisions[item.key] = d
            first_line.setdefault(item.key, line)
    return write_reviewed(store, pass_name, out_pass, items, decisions, how=f"sheet:{p.name}")


# -- the terminal route --------------------------------------------------------------------

def state_path(store: Store, pass_name: str, out_pass: str) -> Path:
    """Where the session reviewing ``pass_name`` into ``out_pass`` keeps its state."""
    def safe(name: str) -> str:
        return re.sub(r"[^\w.-]", "_", name)

    return store.project / STATE_DIR / f"{safe(pass_name)}--{safe(out_pass)}.json"


def code_labels(store: Store, pass_name: str, codebook: Codebook | None = None,
                ) -> dict[str, str]:
    """Code id -> label, from ``codebook`` or else the codebook the pass was coded with.

    A pass made by rules records its codebook file; a suggestion or combined pass points
    to its training or rules pass, which is followed once. Returns ``{}`` when no
    codebook file can be found (the session then shows ids only).
    """
    if codebook is not None:
        return {c.id: c.label for c in codebook.codes.values()}
    passes = {p["name"]: p for p in store.passes()}
    name: str | None = pass_name
    for _ in range(3):
        meta = passes.get(name or "")
        if meta is None:
            return {}
        path = meta["options"].get("codebook")
        if isinstance(path, str) and Path(path).is_file():
            from casecoder.codebook import load_codebook

            try:
                cb = load_codebook(path)
            except CasecoderError:
                return {}
            if meta["codebook_sha256"] in (None, cb.sha256):
                return {c.id: c.label for c in cb.codes.values()}
            return {}
        name = (meta["options"].get("train_pass") or meta["options"].get("rules_pass")
                or meta["options"].get("reviewed_pass"))
    return {}


class ReviewSession:
    """A keyboard-driven review of one pass in the terminal, resumable at any key.

    Parameters
    ----------
    store : Store
        The open project store.
    pass_name : str
        The pass to review.
    out_pass : str, default="reviewed"
        The reviewed pass written at the end (or by :meth:`finish`).
    order : {"document", "uncertainty"}, default="document"
        Item order; ``uncertainty`` needs model codings (CC707 otherwise).
    codebook : Codebook, default=None
        Gives code labels and checks recode targets.
    labels : dict of str to str, default=None
        Code labels when no codebook is given (see :func:`code_labels`).
    state_file : Path, default=None
        Where decisions are saved; default :func:`state_path`.
    restart : bool, default=False
        Discard any saved state and start from the first item.
    color : bool, default=False
        Highlight with ANSI colours (the CLI turns this on for a terminal).
    context : int, default=60
        Characters of context shown on each side.

    Keys: ``a`` accept, ``r`` reject, ``c`` recode (type the code id, Enter; Esc
    cancels), ``s`` skip, ``b`` back, ``q`` quit (decisions stay saved). Reaching the
    end writes the reviewed pass.
    """

    def __init__(self, store: Store, pass_name: str, out_pass: str = "reviewed",
                 order: str = "document", codebook: Codebook | None = None,
                 labels: dict[str, str] | None = None, state_file: str | Path | None = None,
                 restart: bool = False, color: bool = False, context: int = CONTEXT) -> None:
        _check_out_pass(pass_name, out_pass)
        self.store = store
        self.pass_name = pass_name
        self.out_pass = out_pass
        self.order = order
        self.codebook = codebook
        self.items = review_items(store, pass_name, order, context)
        self.labels = labels if labels is not None else code_labels(store, pass_name, codebook)
        self.state_file = Path(state_file) if state_file else state_path(store, pass_name,
                                                                          out_pass)
        self.color = color
        self.decisions: dict[str, Decision] = {}
        self.position = 0
        self.stale = 0
        if not restart:
            self._load()
        self._save()

    # -- state --------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.state_file.exists():
            return
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            decisions = {k: Decision(v["decision"], v.get("code"))
                         for k, v in state["decisions"].items()}
            current = state.get("current")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CasecoderError("CC708", path=str(self.state_file), reason=str(exc),
                                 name=self.pass_name) from None
        keys = {i.key for i in self.items}
        bad = [k for k, d in decisions.items() if d.decision not in DECISIONS]
        if bad:
            raise CasecoderError("CC708", path=str(self.state_file), name=self.pass_name,
                                 reason=f"unknown decision for {bad[0]!r}")
        self.stale = sum(1 for k in decisions if k not in keys)
        self.decisions = {k: d for k, d in decisions.items() if k in keys}
        positions = {i.key: n for n, i in enumerate(self.items)}
        if current is None:
            self.position = len(self.items)
        elif current in positions:
            self.position = positions[current]
        else:
            self.position = next((n for n, i in enumerate(self.items)
                                  if i.key not in self.decisions), len(self.items))

    def _save(self) -> None:
        current = self.items[self.position].key if self.position < len(self.items) else None
        state = {
            "version": 1, "pass": self.pass_name, "out_pass": self.out_pass,
            "order": self.order, "current": current, "items": len(self.items),
            "items_sha256": hashlib.sha256("\n".join(sorted(
                i.key for i in self.items)).encode()).hexdigest(),
            "decisions": {k: {"decision": d.decision, **({"code": d.code} if d.code else {})}
                          for k, d in sorted(self.decisions.items())},
        }
        write_text(self.state_file,
                   json.dumps(state, ensure_ascii=False, sort_keys=True, indent=1) + "\n")

    # -- decisions ------------------------------------------------------------------------
    def decide(self, decision: str, code: str | None = None) -> None:
        """Record a decision on the current item, save, and move to the next item."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}; got {decision!r}")
        if self.position >= len(self.items):
            return
        if decision == "recode":
            code = _check_code(code or "", self.codebook, "recode")
        self.decisions[self.items[self.position].key] = Decision(decision, code)
        self.position += 1
        self._save()

    def back(self) -> None:
        """Return to the previous item (its decision can then be changed)."""
        self.position = max(0, self.position - 1)
        self._save()

    def summary(self, finished: bool = False) -> dict[str, Any]:
        counts = Counter(d.decision for d in self.decisions.values())
        return {"pass": self.pass_name, "out_pass": self.out_pass, "items": len(self.items),
                "decided": len(self.decisions), "position": self.position,
                "accepted": counts["accept"], "rejected": counts["reject"],
                "recoded": counts["recode"], "skipped": counts["skip"],
                "finished": finished, "state_file": str(self.state_file),
                "stale": self.stale}

    def finish(self) -> dict[str, Any]:
        """Write the reviewed pass from the decisions so far (undecided items are left out)."""
        written = write_reviewed(self.store, self.pass_name, self.out_pass, self.items,
                                 self.decisions, how="session")
        return {**self.summary(finished=True), **written}

    # -- display ----------------------------------------------------------------------------
    def render(self, n: int | None = None) -> str:
        """The screen for item ``n`` (default the current one)."""
        n = self.position if n is None else n
        item = self.items[n]
        d = self.decisions.get(item.key)
        label = self.labels.get(item.code, "")
        where = item.source + (f" (case {item.case})" if item.case else "")
        conf = f"p={item.confidence:.2f}" if item.is_model else f"confidence {item.confidence:g}"
        status = "undecided" if d is None else (
            f"recode -> {d.code}" if d.decision == "recode" else d.decision)
        head = f"[{n + 1}/{len(self.items)}] {where}  {item.start_char}:{item.end_char}"
        code_line = f"code: {item.code}" + (f"  {label}" if label else "") + f"  {conf}" \
            f"  [{status}]"
        body = (_oneline(item.context_before) + self._highlight(item)
                + _oneline(item.context_after))
        lines = [head, code_line, "", body, "", f"rule: {item.rule}", HELP_LINE, ""]
        clear = "\x1b[2J\x1b[H" if self.color else "\n"
        return clear + "\n".join(lines)

    def _highlight(self, item: ReviewItem) -> str:
        s0, text = item.start_char, item.quote
        marks = [(max(a, s0) - s0, min(b, item.end_char) - s0) for a, b in item.evidence
                 if a < item.end_char and b > s0]
        out, pos = [], 0
        ev_on, ev_off = ("\x1b[7;33m", "\x1b[27;39m") if self.color else ("[", "]")
        for a, b in sorted(marks):
            if a < pos:
                a = pos
            if a >= b:
                continue
            out += [_oneline(text[pos:a]), ev_on, _oneline(text[a:b]), ev_off]
            pos = b
        out.append(_oneline(text[pos:]))
        on, off = ("\x1b[1;4m", "\x1b[22;24m") if self.color else (" >>", "<< ")
        return on + "".join(out) + off

    # -- the loop -----------------------------------------------------------------------------
    def run(self, read_key: Callable[[], str] | None = None,
            write: Callable[[str], Any] | None = None) -> dict[str, Any]:
        """Review from the current item until the end (then write the pass) or ``q``.

        Parameters
        ----------
        read_key : callable, default=None
            Returns the next key pressed. By default ``click.getchar`` on a terminal; if
            stdin is not a terminal CC704 is raised. A ``read_key`` that raises
            ``EOFError`` quits; ``KeyboardInterrupt`` (or the key Ctrl-C) propagates,
            with every decision already saved.
        write : callable, default=None
            Receives the text to show (default: standard output).

        Returns
        -------
        dict
            The session summary; with ``finished`` true and the write counts when the
            end was reached.
        """
        if read_key is None:
            if not sys.stdin.isatty():
                raise CasecoderError("CC704")
            import click

            read_key = click.getchar
        if write is None:
            def write(text: str) -> None:
                sys.stdout.write(text)
                sys.stdout.flush()
        if self.stale:
            write(f"{self.stale} saved decision(s) refer to codings no longer in pass "
                  f"{self.pass_name!r} and are ignored.\n")
        read_key = _one_key_at_a_time(read_key)
        while self.position < len(self.items):
            write(self.render())
            try:
                key = read_key()
            except EOFError:
                return self.summary()
            if key in ("\x03",):
                raise KeyboardInterrupt
            if key in ("q", "Q", "\x04"):
                write("\nSaved; run the same command again to resume.\n")
                return self.summary()
            if key in ("a", "r", "s"):
                self.decide(ALIASES[key])
            elif key == "c":
                code = self._read_code(read_key, write)
                if code is not None:
                    self.decide("recode", code)
            elif key == "b":
                self.back()
            else:
                write(f"\nUnknown key {key!r}. {HELP_LINE}\n")
        write(f"\nAll {len(self.items)} items reviewed; writing pass {self.out_pass!r}.\n")
        return self.finish()

    def _read_code(self, read_key: Callable[[], str], write: Callable[[str], Any],
                   ) -> str | None:
        write("\nnew code (Enter to confirm, Esc to cancel): ")
        buf: list[str] = []
        while True:
            try:
                ch = read_key()
            except EOFError:
                return None
            if ch == "\x03":
                raise KeyboardInterrupt
            if ch in ("\r", "\n"):
                break
            if ch == "\x1b":
                write("\ncancelled\n")
                return None
            if ch in ("\x7f", "\x08"):
                if buf:
                    buf.pop()
                    write("\b \b")
                continue
            if ch.isprintable():
                buf.append(ch)
                write(ch)
        code = "".join(buf).strip()
        try:
            return _check_code(code, self.codebook, "recode")
        except CasecoderError as exc:
            write(f"\n{exc}\n")
            return None


def _oneline(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ⏎ ")


def keys(sequence: str | list[str]) -> Callable[[], str]:
    """A ``read_key`` that returns the given keys one by one, then raises EOFError."""
    it = iter(sequence)

    def read_key() -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return read_key


def _one_key_at_a_time(read_key: Callable[[], str]) -> Callable[[], str]:
    """``read_key`` giving one key per call: keys typed quickly or pasted arrive from
    the terminal as one chunk (``aa``, ``mech.digital\r``), which is split into its
    keys; an escape sequence (an arrow key) stays one key."""
    pending: list[str] = []

    def next_key() -> str:
        if not pending:
            chunk = read_key()
            pending.extend([chunk] if len(chunk) <= 1 or chunk.startswith("\x1b")
                           else list(chunk))
        return pending.pop(0)

    return next_key
