"""``casecoder sources``: list and show ingested sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casecoder.cli.common import JsonOpt, ProjectOpt, emit_json, make_app, table

app = make_app("List and show ingested sources.\n\nExample: casecoder sources list")


@app.command("list")
def list_(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """List the current version of every source.

    Example: casecoder sources list --json
    """
    from casecoder.store import open_store

    with open_store(project) as store:
        rows = [
            {"name": s.name, "kind": s.kind, "case": s.case_id, "version": s.version,
             "chars": len(s.text), "encoding": s.encoding, "sha256": s.sha256}
            for s in store.sources()
        ]
    if as_json:
        emit_json(rows)
        return
    typer.echo(table([[r["name"], r["kind"], r["case"], r["version"], r["chars"], r["encoding"]]
                      for r in rows], ["source", "kind", "case", "v", "chars", "encoding"]))


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Source name (as listed) or case id.")],
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
    text: Annotated[bool, typer.Option("--text", help="Also print the raw text.")] = False,
) -> None:
    """Show one source: attributes and segments (raw text only with --text).

    Example: casecoder sources show C01
    """
    from casecoder.store import open_store

    with open_store(project) as store:
        src = store.source_by_name(name)
        segs = store.segments(source_id=src.id)
    counts: dict[str, int] = {}
    for s in segs:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    data = {"name": src.name, "kind": src.kind, "case": src.case_id, "version": src.version,
            "sha256": src.sha256, "encoding": src.encoding, "chars": len(src.text),
            "attributes": src.attributes, "segments": counts}
    if text:
        data["text"] = src.text
    if as_json:
        emit_json(data)
        return
    for key in ("name", "kind", "case", "version", "sha256", "encoding", "chars"):
        typer.echo(f"{key:10} {data[key]}")
    for key, value in sorted(src.attributes.items()):
        typer.echo(f"  {key}: {value}")
    typer.echo("segments   " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if text:
        typer.echo(src.text)
