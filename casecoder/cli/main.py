"""The ``casecoder`` command: a thin layer over the library, one sub-app per file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casecoder.cli import (
    agree_cmd,
    analyst_cmd,
    cases_cmd,
    coding_cmd,
    distill_cmd,
    exchange_cmd,
    export_cmd,
    graph_cmd,
    sources_cmd,
)
from casecoder.cli.common import CatalogueGroup, JsonOpt, ProjectOpt, emit_json, progress_bar

app = typer.Typer(
    cls=CatalogueGroup,
    help="casecoder: qualitative case coding and experience distillation.\n\n"
    "Example: casecoder init && casecoder ingest cases/ && casecoder status",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from casecoder import __version__

        typer.echo(f"casecoder {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Options of ``casecoder`` itself (the help text is the app's)."""


@app.command()
def init(project: ProjectOpt = Path(".")) -> None:
    """Create a project store in a directory.

    Example: casecoder init --project myproject
    """
    from casecoder.store import Store

    with Store(project, create=True) as store:
        typer.echo(f"Project ready: {store.path} (schema v{store.schema_version()})")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (read recursively).")],
    project: ProjectOpt = Path("."),
    kind: Annotated[str, typer.Option(help="case, interview or auto.")] = "auto",
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="Speaker role mapping LABEL=ROLE (repeatable)."),
    ] = None,
    layout: Annotated[str, typer.Option(help="auto, plain or pdf (hard-wrapped text).")] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Read transcripts and case narratives into the project.

    Example: casecoder ingest cases/ --project myproject
    """
    from casecoder.ingest import collect
    from casecoder.ingest import ingest as run_ingest
    from casecoder.store import open_store
    from casecoder.transcript import parse_role_map

    roles = parse_role_map(list(role or []), "--role")
    with open_store(project) as store:
        total = sum(p.stat().st_size for p, _ in collect(paths))
        with progress_bar(total, "ingest") as bar:
            report = run_ingest(store, paths, kind=kind, roles=roles, layout=layout,
                                progress=bar.advance)
    if as_json:
        emit_json(report.as_dict())
        return
    typer.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}; {report.segments} segments"
    )
    for name, before, now in report.moved:
        typer.echo(f"note: {name} is now read from {now} (was {before}); the earlier text is "
                   "kept as a superseded version. Ingest the folder to keep both files apart.",
                   err=True)


@app.command()
def status(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Summarise the project: sources, cases, segments, passes and recent runs.

    Example: casecoder status --json
    """
    from casecoder.status import project_status

    data = project_status(project)
    if as_json:
        emit_json(data)
        return
    typer.echo(f"project   {data['path']} (schema v{data['schema']})")
    typer.echo(f"sources   {data['sources']} current ({data['versions']} versions)")
    typer.echo(f"cases     {data['cases']}")
    typer.echo(f"segments  {data['segments']}")
    for p in data["passes"]:
        older = p["n"] - p["n_current"]
        typer.echo(f"pass      {p['name']}: {p['n']} codings by {p['coder']}"
                   + (f" ({older} on older versions of sources)" if older else ""))
    for r in data["runs"][-5:]:
        typer.echo(f"run       #{r['id']} {r['stage']} {r['started']} {r['status']}")


app.add_typer(sources_cmd.app, name="sources")
app.add_typer(cases_cmd.app, name="cases")
app.add_typer(export_cmd.app, name="export")
app.add_typer(coding_cmd.codebook_app, name="codebook")
app.add_typer(coding_cmd.codes_app, name="codes")
app.command("code")(coding_cmd.code)
app.command("terms")(coding_cmd.terms)
app.command("kwic")(coding_cmd.kwic)
app.command("quotes")(coding_cmd.quotes)
app.add_typer(graph_cmd.app, name="graph")
app.command("adapt")(graph_cmd.adapt)
app.command("qca")(graph_cmd.qca)
app.add_typer(distill_cmd.app, name="distill")
app.command("run")(distill_cmd.run)
app.add_typer(exchange_cmd.import_app, name="import")
app.add_typer(exchange_cmd.memo_app, name="memo")
export_cmd.app.command("qdpx")(exchange_cmd.export_qdpx_command)
export_cmd.app.command("qdc")(exchange_cmd.export_qdc_command)
exchange_cmd.import_app.command("codings")(analyst_cmd.import_codings_command)
app.command("suggest")(analyst_cmd.suggest_command)
app.command("combine")(analyst_cmd.combine_command)
app.add_typer(analyst_cmd.review_app, name="review")
app.command("agree")(agree_cmd.agree_command)
app.add_typer(agree_cmd.dict_app, name="dict")


def main() -> None:
    app()

