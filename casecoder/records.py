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

    The format follows the file suffix (``.jsonl``/``.json`` or ``.csv``). CSV cells
    holding JSON lists or objects are decoded.
    """
    p = Path(path)
    if not p.exists():
        raise CasecoderError("CC108", path=str(p))
    text = p.read_text(encoding="utf-8-sig")
    out: list[tuple[int, dict[str, Any]]] = []
    if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for n, line in enumerate(text.splitlines(), start=1):
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
    if p.suffix.lower() != ".csv":
        raise CasecoderError("CC107", path=str(p), suffix=p.suffix)
    reader = csv.DictReader(io.StringIO(text))
    for rec in reader:
        n = reader.line_num
        for k, v in list(rec.items()):
            if isinstance(v, str) and v[:1] in "[{":
                try:
                    rec[k] = json.loads(v)
                except json.JSONDecodeError:
                    pass
        out.append((n, rec))
    return out
