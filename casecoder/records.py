"""Writing and reading record files (JSONL and CSV) and tables (CSV, XLSX): one format,
one place."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from casecoder.errors import CasecoderError
from casecoder.fileio import FIXED_TIME, stable_zip, write_bytes, write_text

FORMATS = ("jsonl", "csv")
TABLE_SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl"}
#: Suffixes :func:`read` takes as JSONL (one JSON object per line); ``.csv`` is CSV.
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def render(records: Iterable[dict[str, Any]], fmt: str, columns: Sequence[str],
           what: str = "records") -> str:
    """Render records as JSONL (one object per line) or CSV with a header row."""
    if fmt not in FORMATS:
        raise CasecoderError("CC501", fmt=fmt, what=what, known=", ".join(FORMATS))
    if fmt == "jsonl":
        return "".join(
            json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n"
            for r in records
        )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in records:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue()


def write(path: str | Path, records: Iterable[dict[str, Any]], fmt: str,
          columns: Sequence[str], what: str = "records") -> None:
    """Render and write records atomically."""
    write_text(path, render(records, fmt, columns, what))


def table_format(path: str | Path, what: str = "table") -> str:
    """The format of a table file, from its suffix: ``csv``, ``xlsx`` or ``jsonl``."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise CasecoderError("CC607", path=str(path), suffix=suffix, what=what,
                             known=", ".join(TABLE_SUFFIXES))
    return TABLE_SUFFIXES[suffix]


def xlsx_bytes(records: Iterable[dict[str, Any]], columns: Sequence[str], sheet: str,
               title: str = "") -> bytes:
    """One worksheet with a bold header row, frozen below it; numbers stay numbers.

    The workbook's properties and the archive's dates are fixed, so the same table gives
    the same bytes.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    ws.append(list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in records:
        ws.append([v if isinstance(v, (int, float)) and not isinstance(v, bool) else _cell(v)
                   for v in (r.get(c) for c in columns)])
    ws.freeze_panes = "B2"
    ws.column_dimensions["A"].width = max(12, min(40, max(
        (len(str(c.value or "")) for c in ws["A"]), default=12) + 2))
    wb.properties.creator = "casecoder"
    wb.properties.title = title or sheet
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    return stable_zip(buf.getvalue())


def write_table(path: str | Path, records: Iterable[dict[str, Any]], columns: Sequence[str],
                what: str = "table") -> None:
    """Write a table atomically as CSV, XLSX or JSONL, following the file's suffix."""
    fmt = table_format(path, what)
    if fmt == "xlsx":
        write_bytes(path, xlsx_bytes(records, columns, what))
    else:
        write(path, records, fmt, columns, what)


def read(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSONL or CSV record file: ``(line number, record)`` pairs.

    The format follows the file suffix (``.jsonl``/``.json``/``.ndjson`` or ``.csv``). The
    bytes are decoded as sources are (:func:`casecoder.readers.decode`: UTF-8, a BOM, or
    GB18030 Chinese text as Excel saves it in a Chinese locale). A record's line is the
    line where it starts. Blank lines, and CSV rows whose cells are all empty, are
    skipped; an empty file gives no records. CSV cells holding JSON lists or objects are
    decoded.

    Raises
    ------
    CasecoderError
        CC108 the file does not exist; CC107 another suffix; CC609 the file is binary or
        in an encoding that cannot be decided; CC602 a line that is not a JSON object, a
        malformed CSV row (an unclosed quote, text after a closing quote), a row with more
        or fewer cells than the header, or a header naming a column twice.
    """
    p = Path(path)
    if not p.exists():
        raise CasecoderError("CC108", path=str(p))
    suffix = p.suffix.lower()
    if suffix not in (*JSONL_SUFFIXES, ".csv"):
        raise CasecoderError("CC107", path=str(p), suffix=p.suffix)
    text = _decoded(p)
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(text, p)
    return _read_csv(text, p)


def _decoded(p: Path) -> str:
    """The file's text, decoded as sources are; ``""`` for a file of blanks only."""
    from casecoder.readers import decode

    data = p.read_bytes()
    try:
        text, _ = decode(data, str(p))
    except CasecoderError as exc:
        if exc.code == "CC101":  # nothing but blanks: no records, the caller decides
            return ""
        if exc.code == "CC102":
            reason = f"it looks like a binary file ({exc.fields['reason']})"
        elif exc.code == "CC103":
            reason = f"its encoding could not be decided (tried {exc.fields['tried']})"
            if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
                body = data.removeprefix(b"\xef\xbb\xbf")
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError as bad:
                    line = body[: bad.start].count(b"\n") + 1
                    reason += f"; the first byte that is not UTF-8 is on line {line}"
        else:
            raise
        raise CasecoderError("CC609", path=str(p), reason=reason) from None
    return text


def _read_jsonl(text: str, p: Path) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    # split on LF only: str.splitlines() would also break at U+2028, U+0085 and others,
    # which json.dumps(ensure_ascii=False) leaves unescaped inside strings
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CasecoderError("CC602", path=str(p), line=n,
                                 reason=f"not a JSON object: {exc.msg}") from exc
        if not isinstance(rec, dict):
            raise CasecoderError("CC602", path=str(p), line=n, reason="not a JSON object")
        out.append((n, rec))
    return out


def _read_csv(text: str, p: Path) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    line = 1  # the line where the next row starts (a quoted cell may span lines)
    try:
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = row
                twice = sorted({h for h in header if header.count(h) > 1})
                if twice:
                    raise CasecoderError("CC602", path=str(p), line=start,
                                         reason="the header names the column(s) "
                                         f"{', '.join(map(repr, twice))} more than once")
                continue
            if len(row) != len(header):
                raise CasecoderError(
                    "CC602", path=str(p), line=start,
                    reason=f"the row has {len(row)} cells but the header has {len(header)}"
                    f"{_runs_to(start, reader.line_num)}; a cell holding a comma, a quote "
                    "or a line break has probably lost its quotes. Fix the row, or export "
                    "the file again")
            rec: dict[str, Any] = dict(zip(header, row, strict=True))
            for k, v in rec.items():
                if v[:1] in ("[", "{"):
                    try:
                        rec[k] = json.loads(v)
                    except json.JSONDecodeError:
                        pass
            out.append((start, rec))
    except csv.Error as exc:
        raise CasecoderError(
            "CC602", path=str(p), line=line,
            reason=f"the row is not valid CSV ({exc}){_runs_to(line, reader.line_num)}; a "
            "quote is probably unclosed or stray. Fix the row, or export the file again",
        ) from None
    return out


def _runs_to(start: int, end: int) -> str:
    return f" (it runs on to line {end})" if end > start else ""
