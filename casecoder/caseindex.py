"""The case classification sheet: every case with its attributes, as one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casecoder import records
from casecoder.errors import CasecoderError
from casecoder.ingest import _case, _is_case_fm, collect
from casecoder.models import CONTEXT_IDS, Case
from casecoder.readers import read_file

COLUMNS = ("id", "title", "region", "province", "city", "setting", "industry", "actor",
           "period", "budget", *CONTEXT_IDS, "result", "figures", "transfers", "interviews",
           "illustrative", "file")


def read_cases(folder: str | Path) -> list[tuple[Case, str, list[str]]]:
    """Cases declared under ``folder``: (case, file name, linked interview files)."""
    cases: dict[str, tuple[Case, str]] = {}
    interviews: dict[str, list[str]] = {}
    for path, name in collect([folder]):
        read = read_file(path)
        fm = read.front_matter
        if _is_case_fm(fm):
            case = _case(fm, read, str(path))
            if case.id in cases:
                raise CasecoderError("CC106", case_id=case.id, path=str(path),
                                     other=cases[case.id][1])
            cases[case.id] = (case, name)
        else:
            from casecoder import transcript

            tr = transcript.parse(read.text, read.body_start, str(path))
            cid = str(fm.get("case") or tr.attributes.get("case") or "")
            if cid:
                interviews.setdefault(cid, []).append(name)
    return [(c, n, sorted(interviews.get(cid, []))) for cid, (c, n) in sorted(cases.items())]


def rows(cases: list[tuple[Case, str, list[str]]]) -> list[dict[str, Any]]:
    out = []
    for case, name, interviews in cases:
        a = case.attributes
        out.append({
            "id": case.id, "title": case.title,
            **{k: a.get(k, "") for k in ("region", "province", "city", "setting", "industry",
                                         "actor", "period", "budget", "illustrative")},
            **{c: case.conditions.get(c, "unknown") for c in CONTEXT_IDS},
            "result": case.outcome.get("result", ""),
            "figures": "；".join(str(f) for f in case.outcome.get("figures") or []),
            "transfers": "；".join(f"{t.get('mode')} from {t.get('from')}: {t.get('result')}"
                                   for t in case.transfers),
            "interviews": " ".join(interviews), "file": name,
        })
    return out


def write_index(folder: str | Path, out: str | Path) -> int:
    """Write the case index CSV; returns the number of cases."""
    r = rows(read_cases(folder))
    records.write(out, r, "csv", COLUMNS, "case index")
    return len(r)
