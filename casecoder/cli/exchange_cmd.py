"""Exchange and memo commands: ``import qdpx|qdc``, ``memo add|list`` and the ``export qdpx``
and ``export qdc`` commands (plain functions that ``casecoder.cli.main`` registers under
``export``). Each is a thin wrapper over :mod:`casecoder.refiqda` or :mod:`casecoder.memos`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casecoder.cli.common import (
    DEFAULT_CODEBOOK,
    CodebookOpt,
    JsonOpt,
    ProjectOpt,
    emit_json,
    make_app,
    table,
)

import_app = make_app("Import REFI-QDA projects (.qdpx) and codebooks (.qdc) from NVivo, "
                      "ATLAS.ti, MAXQDA, QualCoder or casecoder.\n\n"
                      "Example: casecoder import qdpx nvivo-export.qdpx --project myproject")
memo_app = make_app("Write and list memos on codes, cases and sources.\n\n"
                    "Example: casecoder memo add case C03 \"政工与安全生产结合\" --author li")

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output file (written atomically).")]
TargetTypeArg = Annotated[str, typer.Argument(help="code, case or source.", show_default=False)]


def _print_notices(report: dict) -> None:
    for line in report.get("warnings", []):
        typer.echo(f"Warning: {line}", err=True)
    for line in report.get("skipped", []):
        typer.echo(f"Not imported: {line}", err=True)


@import_app.command("qdpx")
def import_qdpx(
    file: Annotated[Path, typer.Argument(help="The .qdpx project archive.")],
    project: ProjectOpt = Path("."),
    codebook_out: Annotated[
        Path | None,
        typer.Option("--codebook-out", help="Also write the project's codebook as YAML."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a REFI-QDA project: text sources, codes, one pass per user, cases, memos, links.

    Nothing is written if any part of the file is refused, or if the codebook cannot be
    written to --codebook-out. What casecoder cannot hold (pictures, audio, sets, rich
    text) is listed on stderr.

    Example: casecoder import qdpx nvivo-export.qdpx --project myproject
    """
    from casecoder import refiqda
    from casecoder.store import open_store

    with open_store(project) as store:
        report = refiqda.import_qdpx(store, file, codebook_out=codebook_out)
    if as_json:
        emit_json(report)
        return
    src = report["sources"]
    typer.echo(f"imported {len(src['added'])} sources ({len(src['reused'])} already present), "
               f"{report['codes']} codes, {report['codings']} codings in "
               f"{len(report['passes'])} passes, {len(report['cases'])} cases, "
               f"{report['memos']} memos, {report['links']} links from {file}")
    for name, n in report["passes"].items():
        typer.echo(f"pass      {name}: {n} codings")
    if codebook_out is not None:
        typer.echo(f"wrote the codebook to {codebook_out}")
    _print_notices(report)


@import_app.command("qdc")
def import_qdc(
    file: Annotated[Path, typer.Argument(help="The .qdc codebook file.")],
    out: OutOpt,
) -> None:
    """Convert a REFI-QDA codebook into a casecoder YAML codebook (hierarchy kept; codes
    without rules are marked manual).

    Example: casecoder import qdc nvivo-codes.qdc --out codebooks/nvivo.yaml
    """
    from casecoder import refiqda

    cb = refiqda.import_qdc(file, out)
    typer.echo(f"wrote {len(cb.codes)} codes to {out}")


@memo_app.command("add")
def memo_add(
    target_type: TargetTypeArg,
    target: Annotated[str, typer.Argument(help="Code id, case id or source name.")],
    text: Annotated[str, typer.Argument(help="The memo.")],
    author: Annotated[
        str | None,
        typer.Option("--author", "-a", envvar="CASECODER_AUTHOR",
                     help="Who writes it (default: your login name)."),
    ] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Attach a memo to a code, a case or a source.

    Example: casecoder memo add code mech.digital "离线APP只在网络薄弱处出现" --author li
    """
    import getpass

    from casecoder.memos import add_memo
    from casecoder.store import open_store

    with open_store(project) as store:
        memo_id = add_memo(store, target_type, target, text, author or getpass.getuser())
    typer.echo(f"memo {memo_id} added to {target_type} {target}")


@memo_app.command("list")
def memo_list(
    project: ProjectOpt = Path("."),
    target_type: Annotated[
        str | None, typer.Option("--type", help="Only memos on code, case or source.")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only memos on this id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List memos, oldest first.

    Example: casecoder memo list --type case --json
    """
    from casecoder.memos import list_memos
    from casecoder.store import open_store

    with open_store(project) as store:
        memos = list_memos(store, target_type, target)
    if as_json:
        emit_json(memos)
        return
    rows = [[m["id"], m["target_type"], m["target_id"], m["author"], m["created"],
             " ".join(m["text"].split())[:60]] for m in memos]
    typer.echo(table(rows, ["id", "type", "target", "author", "created", "text"]))


def export_qdpx_command(
    out: OutOpt,
    project: ProjectOpt = Path("."),
    codebook: Annotated[
        Path | None,
        typer.Option("--codebook", "-c",
                     help="YAML codebook for labels and hierarchy (default: the codebook "
                     "kept from an import, else bare code ids)."),
    ] = None,
    pass_name: Annotated[
        list[str] | None,
        typer.Option("--pass", help="Only this pass (repeatable; default: all)."),
    ] = None,
    graph: Annotated[bool, typer.Option("--graph/--no-graph",
                                        help="Add a mechanism graph per pass.")] = True,
) -> None:
    """Export the project as a REFI-QDA project archive (.qdpx) for NVivo, ATLAS.ti, MAXQDA
    or QualCoder: sources, codes, one user per pass, cases with variables, memos, links.

    Example: casecoder export qdpx --codebook codebooks/governance.yaml --out project.qdpx
    """
    from casecoder import refiqda
    from casecoder.codebook import load_codebook
    from casecoder.store import open_store

    cb = load_codebook(codebook) if codebook is not None else None
    with open_store(project) as store:
        report = refiqda.export_qdpx(store, out, codebook=cb, passes=pass_name or None,
                                     include_graph=graph)
    typer.echo(f"wrote {report['sources']} sources, {report['codes']} codes, "
               f"{report['codings']} codings by {report['users']} users, {report['cases']} "
               f"cases, {report['notes']} memos, {report['links']} links to {out}")
    for line in report["skipped"]:
        typer.echo(f"Not exported: {line}", err=True)


def export_qdc_command(
    out: OutOpt,
    codebook: CodebookOpt = DEFAULT_CODEBOOK,
) -> None:
    """Export a YAML codebook as a REFI-QDA codebook (.qdc).

    Example: casecoder export qdc --codebook codebooks/governance.yaml --out governance.qdc
    """
    from casecoder import refiqda
    from casecoder.codebook import load_codebook

    report = refiqda.export_qdc(load_codebook(codebook), out)
    typer.echo(f"wrote {report['codes']} codes to {out}")
