"""Project status: what the store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casecoder.store import open_store


def project_status(project: str | Path) -> dict[str, Any]:
    """Counts of sources, versions, cases, segments, passes and the run history."""
    with open_store(project) as store:
        db = store.db
        return {
            "path": str(store.path),
            "schema": store.schema_version(),
            "sources": db.execute("SELECT COUNT(*) FROM sources WHERE current = 1").fetchone()[0],
            "versions": store.count("sources"),
            "cases": len(store.cases()),
            "segments": db.execute(
                "SELECT COUNT(*) FROM segments s JOIN sources src ON src.id = s.source_id "
                "WHERE src.current = 1"
            ).fetchone()[0],
            "passes": [
                {"name": p["name"], "coder": p["coder"], "n": p["n"],
                 "n_current": p["n_current"]} for p in store.passes()
            ],
            "runs": [
                {"id": r["id"], "stage": r["stage"], "started": r["started"],
                 "status": r["status"]} for r in store.runs()
            ],
        }
