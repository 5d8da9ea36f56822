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
