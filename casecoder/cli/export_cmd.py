"""``casecoder export``: records for other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casecoder.cli.common import ProjectOpt, make_app

app = make_app("Export records (segments, codings, metrics, graphs, REFI-QDA).\n\n"
               "Example: casecoder export segments --format csv --out segments.csv")

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output file (written atomically).")]


@app.command()
def segments(out: OutOpt, project: ProjectOpt = Path("."), fmt: FormatOpt = "jsonl") -> None:
    """One record per segment: source, kind, start_char, end_char, text, role, speaker.

    Example: casecoder export segments --format jsonl --out segments.jsonl
    """
    from casecoder import exporting
    from casecoder.store import open_store

    with open_store(project) as store:
        n = exporting.export_segments(store, out, fmt)
    typer.echo(f"wrote {n} segments to {out}")


PassOpt = Annotated[str | None, typer.Option("--pass", help="Only this pass (default: all).")]


@app.command()
def codings(out: OutOpt, project: ProjectOpt = Path("."), fmt: FormatOpt = "jsonl",
            pass_name: PassOpt = None) -> None:
    """One record per coding: source, code, start_char, end_char, quote, evidence, pass, coder,
    confidence.

    Example: casecoder export codings --pass rules --format csv --out codings.csv
    """
    from casecoder import exporting
    from casecoder.store import open_store

    with open_store(project) as store:
        n = exporting.export_codings(store, out, fmt, pass_name)
    typer.echo(f"wrote {n} codings to {out}")


@app.command()
def metrics(out: OutOpt, project: ProjectOpt = Path("."), fmt: FormatOpt = "jsonl",
            pass_name: PassOpt = None) -> None:
    """One record per outcome metric: source, offsets, indicator, before, after, change, unit,
    direction, quote.

    Example: casecoder export metrics --format jsonl --out metrics.jsonl
    """
    from casecoder import exporting
    from casecoder.store import open_store

    with open_store(project) as store:
        n = exporting.export_metrics(store, out, fmt, pass_name)
    typer.echo(f"wrote {n} metrics to {out}")
