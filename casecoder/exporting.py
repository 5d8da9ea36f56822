"""Export: tabular records of what the store holds (segments, codings, metrics)."""

from __future__ import annotations

from pathlib import Path

from casecoder import records
from casecoder.store import Store

SEGMENT_COLUMNS = ("source", "kind", "start_char", "end_char", "text", "role", "speaker",
                   "timestamp")


def export_segments(store: Store, out: str | Path, fmt: str) -> int:
    """Write every segment of the current sources; returns the number written."""
    texts = {s.id: (s.name, s.text) for s in store.sources()}
    rows = []
    for seg in store.segments():
        name, text = texts[seg.source_id]
        rows.append({"source": name, "kind": seg.kind, "start_char": seg.start_char,
                     "end_char": seg.end_char, "text": text[seg.start_char:seg.end_char],
                     "role": seg.role, "speaker": seg.speaker, "timestamp": seg.timestamp})
    records.write(out, rows, fmt, SEGMENT_COLUMNS, "segments")
    return len(rows)

CODING_COLUMNS = ("source", "case", "code", "start_char", "end_char", "quote", "evidence",
                  "pass", "coder", "confidence", "rule", "polarity")
METRIC_COLUMNS = ("source", "case", "start_char", "end_char", "indicator", "before", "after",
                  "change", "unit", "direction", "qualifier", "before_qualifier", "quote",
                  "pass")


def coding_records(store: Store, pass_name: str | None = None) -> list[dict]:
    """One record per coding; ``evidence`` is the list of matched ``[start, end]`` spans."""
    if pass_name:
        store.require_pass(pass_name)
    srcs = {s.id: s for s in store.sources()}
    out = []
    for c in store.codings(pass_name):
        src = srcs[c.source_id]
        out.append({"source": src.name, "case": src.case_id, "code": c.code,
                    "start_char": c.start_char, "end_char": c.end_char,
                    "quote": src.text[c.start_char:c.end_char],
                    "evidence": [list(e) for e in c.evidence], "pass": c.pass_name,
                    "coder": c.coder, "confidence": c.confidence, "rule": c.rule,
                    "polarity": c.polarity})
    return out


def export_codings(store: Store, out: str | Path, fmt: str, pass_name: str | None = None) -> int:
    """Write every coding (of one pass, or all); returns the number written."""
    rows = coding_records(store, pass_name)
    records.write(out, rows, fmt, CODING_COLUMNS, "codings")
    return len(rows)


def metric_records(store: Store, pass_name: str | None = None) -> list[dict]:
    """One record per outcome metric, tied to its sentence."""
    if pass_name:
        store.require_pass(pass_name)
    srcs = {s.id: s for s in store.sources()}
    sql = ("SELECT m.* FROM metrics m JOIN sources s ON s.id = m.source_id WHERE s.current = 1"
           + (" AND m.pass = ?" if pass_name else "")
           + " ORDER BY s.name, m.start_char, m.id")
    out = []
    for r in store.db.execute(sql, (pass_name,) if pass_name else ()):
        src = srcs[r["source_id"]]
        out.append({"source": src.name, "case": src.case_id, "start_char": r["start_char"],
                    "end_char": r["end_char"], "indicator": r["indicator"],
                    "before": r["before"], "after": r["after"], "change": r["change"],
                    "unit": r["unit"], "direction": r["direction"],
                    "qualifier": r["qualifier"], "before_qualifier": r["before_qualifier"],
                    "quote": r["quote"], "pass": r["pass"]})
    return out


def export_metrics(store: Store, out: str | Path, fmt: str, pass_name: str | None = None) -> int:
    rows = metric_records(store, pass_name)
    records.write(out, rows, fmt, METRIC_COLUMNS, "metrics")
    return len(rows)
