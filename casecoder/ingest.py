"""Ingest: read files into the project store as immutable sources with their segments.

A whole ``ingest`` call is one transaction: if any file is refused, nothing of the
call is stored. Re-ingesting an unchanged file (same name, same SHA-256) is a no-op;
a changed file becomes a new version of its source, and the old version with
everything coded on it stays in the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casecoder import segment, transcript
from casecoder.errors import CasecoderError
from casecoder.models import CONDITION_VALUES, RESULTS, SETTINGS, Case, Segment, Source
from casecoder.readers import SUFFIXES, ReadResult, read_file
from casecoder.store import Store

KINDS = ("case", "interview", "auto")
LAYOUTS = ("auto", "plain", "pdf")


@dataclass
class IngestReport:
    """What an ingest call did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # updated sources whose new version came from another file than the one before:
    # (name, earlier path, new path); files given by path are named by their base name
    moved: list[tuple[str, str, str]] = field(default_factory=list)
    segments: int = 0
    chars: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "moved": [list(m) for m in self.moved], "segments": self.segments,
                "chars": self.chars}


def collect(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Files to read, each with the name it is stored under.

    A file given directly is named by its file name; files found under a folder are
    named ``<folder name>/<path below it>``. Folder walks skip hidden files, files whose
    name starts with ``_`` and README files.
    """
    out: list[tuple[Path, str]] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = []
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path)
                if not f.is_file() or f.suffix.lower() not in SUFFIXES:
                    continue
                if any(part.startswith((".", "_")) for part in rel.parts):
                    continue
                if f.stem.upper() == "README":
                    continue
                found.append((f, f"{path.resolve().name}/{rel.as_posix()}"))
            if not found:
                raise CasecoderError("CC112", path=str(path))
            out.extend(found)
        elif path.exists():
            out.append((path, path.name))
        else:
            raise CasecoderError("CC108", path=str(path))
    return out


def ingest(
    store: Store,
    paths: Iterable[str | Path],
    kind: str = "auto",
    roles: dict[str, str] | None = None,
    layout: str = "auto",
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Read ``paths`` (files or folders, recursively) into the store.

    Parameters
    ----------
    store : Store
        The open project store.
    paths : iterable of str or Path
        Files (.txt, .md, .docx) or folders.
    kind : {"auto", "case", "interview"}, default="auto"
        ``auto`` treats a file as an interview when it has a transcript header or
        speaker turns, else as a case narrative.
    roles : dict, optional
        Speaker label -> role (interviewer, respondent, other), overriding detection.
    layout : {"auto", "plain", "pdf"}, default="auto"
        ``pdf`` reads hard-wrapped PDF text through a clean view; ``auto`` guesses.
    progress : callable, optional
        Called with the number of bytes of each file once it is read.
    """
    if kind not in KINDS:
        raise CasecoderError("CC110", path=", ".join(map(str, paths)), kind=kind)
    if layout not in LAYOUTS:
        raise CasecoderError("CC008", option="--layout", value=layout,
                             expected="auto, plain or pdf")
    files = collect(paths)
    report = IngestReport()
    seen_cases: dict[str, str] = {}
    with store.transaction():
        run_id = store.start_run("ingest", {"paths": [n for _, n in files], "kind": kind,
                                            "layout": layout, "roles": roles or {}})
        next_id = (store.db.execute("SELECT MAX(id) FROM segments").fetchone()[0] or 0) + 1
        for path, name in files:
            read = read_file(path)
            sha = hashlib.sha256(read.text.encode("utf-8")).hexdigest()
            if progress:
                progress(path.stat().st_size)
            prev = store.find_current(name)
            if prev is not None and prev["sha256"] == sha:
                report.unchanged.append(name)
                _check_case_id(store, read, name, str(path), seen_cases)
                continue
            src, case, spans = build_source(read, name, str(path), kind, roles, layout)
            if case is not None:
                _check_case_id(store, read, name, str(path), seen_cases)
            store.add_source(src, str(path), run_id)
            if case is not None:
                case.source_id = src.id
                store.upsert_case(case)
            segs, next_id = _number(src.id, spans, next_id)
            store.add_segments(segs)
            report.segments += len(segs)
            report.chars += len(src.text)
            (report.updated if prev is not None else report.added).append(name)
            if prev is not None and Path(prev["path"]).resolve() != path.resolve():
                report.moved.append((name, prev["path"], str(path)))
        store.end_run(run_id)
    return report


def _check_case_id(store: Store, read: ReadResult, name: str, path: str,
                   seen: dict[str, str]) -> None:
    case_id = read.front_matter.get("id") if _is_case_fm(read.front_matter) else None
    if case_id is None:
        return
    case_id = str(case_id)
    if case_id in seen and seen[case_id] != name:
        raise CasecoderError("CC106", case_id=case_id, path=path, other=seen[case_id])
    seen[case_id] = name
    row = store.db.execute(
        "SELECT s.name FROM cases c JOIN sources s ON s.id = c.source_id "
        "WHERE c.id = ? AND s.current = 1", (case_id,)
    ).fetchone()
    if row is not None and row[0] != name:
        raise CasecoderError("CC106", case_id=case_id, path=path, other=row[0])


def _is_case_fm(fm: dict[str, Any]) -> bool:
    return "id" in fm and ("conditions" in fm or "outcome" in fm or "setting" in fm)


def build_source(
    read: ReadResult, name: str, path: str, kind: str = "auto",
    roles: dict[str, str] | None = None, layout: str = "auto",
) -> tuple[Source, Case | None, list[tuple[Segment, int | None]]]:
    """Turn a read file into a source, its case (if it declares one) and its segments.

    Segments come as ``(segment, parent_index)`` pairs, the parent index pointing into
    the same list. Pure: touches no store.
    """
    text, fm, body = read.text, read.front_matter, read.body_start
    if kind == "auto":
        if _is_case_fm(fm):
            kind = "case"
        elif fm.get("kind") in ("case", "interview"):
            kind = str(fm["kind"])
        else:
            kind = "interview" if transcript.looks_like_transcript(text[body:]) else "case"
    if layout == "auto":
        layout = str(fm.get("layout", "auto"))
        if layout not in ("plain", "pdf"):
            layout = "pdf" if segment.looks_like_pdf_text(text[body:]) else "plain"
    pdf = layout == "pdf"
    attributes: dict[str, Any] = {k: v for k, v in fm.items()}
    attributes["_encoding"] = read.encoding
    attributes["_newline"] = read.newline
    attributes["_layout"] = layout
    spans: list[tuple[Segment, int | None]] = []
    case: Case | None = None
    case_id = None
    if kind == "interview":
        role_map = transcript.parse_role_map(fm.get("roles"), path,
                                             read.front_lines.get("roles", 1))
        role_map.update(roles or {})
        tr = transcript.parse(text, body, path, role_map)
        attributes.update(tr.attributes)
        case_id = str(fm.get("case") or tr.attributes.get("case") or "") or None
        cursor = tr.header_end
        for turn in tr.turns:
            if turn.start > cursor:
                _add_blocks(spans, text, cursor, turn.start, pdf, role="other")
            spans.append((Segment(0, "turn", turn.start, turn.end, role=turn.role,
                                  speaker=turn.label, timestamp=turn.timestamp), None))
            parent = len(spans) - 1
            view = segment.clean_view(text, turn.content_start, turn.end, pdf)
            for a, b in segment.sentences(view):
                spans.append((Segment(0, "sentence", a, b, role=turn.role, speaker=turn.label,
                                      timestamp=turn.timestamp), parent))
            cursor = turn.end
        if cursor < len(text):
            _add_blocks(spans, text, cursor, len(text), pdf, role="other")
    else:
        if _is_case_fm(fm):
            case = _case(fm, read, path)
            case_id = case.id
        elif fm.get("case"):
            case_id = str(fm["case"])
        _add_blocks(spans, text, body, len(text), pdf, role=None)
    src = Source(name=name, kind=kind, text=text,
                 sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                 encoding=read.encoding, attributes=attributes, case_id=case_id,
                 body_start=body)
    return src, case, spans


def _add_blocks(spans: list[tuple[Segment, int | None]], text: str, start: int, end: int,
                pdf: bool, role: str | None) -> None:
    for block in segment.blocks(text, start, end, pdf):
        spans.append((Segment(0, block.kind, block.start, block.end, role=role), None))
        if block.kind != "paragraph":
            continue
        parent = len(spans) - 1
        view = segment.clean_view(text, block.start, block.end, pdf)
        for a, b in segment.sentences(view):
            spans.append((Segment(0, "sentence", a, b, role=role), parent))


def _number(source_id: int, spans: list[tuple[Segment, int | None]],
            next_id: int) -> tuple[list[Segment], int]:
    out = []
    for i, (seg, parent) in enumerate(spans):
        seg.source_id = source_id
        seg.id = next_id + i
        seg.parent_id = None if parent is None else next_id + parent
        out.append(seg)
    return out, next_id + len(spans)


def _case(fm: dict[str, Any], read: ReadResult, path: str) -> Case:
    lines = read.front_lines

    def bad(field_name: str, value: Any, expected: str) -> CasecoderError:
        return CasecoderError("CC109", path=path, line=lines.get(field_name.split(".")[0], 1),
                              field=field_name, value=value, expected=expected)

    setting = fm.get("setting", "unknown")
    if setting not in (*SETTINGS, "unknown"):
        raise bad("setting", setting, " | ".join(SETTINGS) + " | unknown")
    conditions = fm.get("conditions") or {}
    if not isinstance(conditions, dict):
        raise bad("conditions", conditions, "a mapping of ctx.* ids to present/absent/unknown")
    for key, value in conditions.items():
        if not str(key).startswith("ctx.") or value not in CONDITION_VALUES:
            raise bad(f"conditions.{key}", value, "ctx.* id with present | absent | unknown")
    outcome = fm.get("outcome") or {}
    if not isinstance(outcome, dict) or outcome.get("result", "unknown") not in (
        *RESULTS, "unknown"
    ):
        raise bad("outcome.result", outcome, "result: success | partial | failure")
    transfers = fm.get("transfers") or []
    if not isinstance(transfers, list):
        raise bad("transfers", transfers, "a list of {from, mode, result}")
    attributes = {
        k: fm[k] for k in ("region", "province", "city", "setting", "industry", "actor",
                           "period", "budget", "illustrative") if k in fm
    }
    attributes.setdefault("setting", setting)
    return Case(id=str(fm["id"]), title=str(fm.get("title", fm["id"])), attributes=attributes,
                conditions={str(k): str(v) for k, v in conditions.items()}, outcome=outcome,
                transfers=transfers)
