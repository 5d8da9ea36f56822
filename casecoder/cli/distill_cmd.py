"""Commands of the distill stage: ``distill summary|teaching|comparison`` and ``run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casecoder.cli.common import DEFAULT_CODEBOOK, CodebookOpt, ProjectOpt, make_app

app = make_app("Policy summaries, teaching cases and course tables.\n\n"
               "Example: casecoder distill summary --case C01 --format docx --out C01.docx")

PassOpt = Annotated[str, typer.Option("--pass", help="Coding pass.")]
LangOpt = Annotated[str, typer.Option("--lang", help="zh (default) or en.")]
FmtOpt = Annotated[str, typer.Option("--format", "-f", help="md, docx or html.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output file (atomic), with a "
                                      ".citations.jsonl sidecar.")]


def _ctx(project: Path, pass_name: str, codebook: Path, lang: str):  # noqa: ANN202
    from casecoder import distill
    from casecoder.cli.graph_cmd import _analysis
    from casecoder.store import open_store

    a = _analysis(project, pass_name, codebook)
    with open_store(project) as store:
        return distill.make_context(store, a, pass_name, lang)


@app.command()
def summary(out: OutOpt, project: ProjectOpt = Path("."),
            case: Annotated[str | None, typer.Option(help="Case id (default: cross-case).")]
            = None, fmt: FmtOpt = "md", pass_name: PassOpt = "rules",
            codebook: CodebookOpt = DEFAULT_CODEBOOK, lang: LangOpt = "zh") -> None:
    """Write a policy summary (one case, or across cases).

    Example: casecoder distill summary --case C06 --format html --out C06.html
    """
    from casecoder import distill, document

    ctx = _ctx(project, pass_name, codebook, lang)
    doc = distill.case_summary(ctx, case) if case else distill.cross_case_summary(ctx)
    document.write(doc, out, fmt)
    typer.echo(f"wrote {out} ({len(doc.citations())} citations)")


@app.command()
def teaching(case: Annotated[str, typer.Option(help="Case id.")],
             out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the pack.")],
             project: ProjectOpt = Path("."), fmt: FmtOpt = "md", pass_name: PassOpt = "rules",
             codebook: CodebookOpt = DEFAULT_CODEBOOK, lang: LangOpt = "zh") -> None:
    """Write a teaching case pack: the case body and its teaching note.

    Example: casecoder distill teaching --case C01 --out-dir teaching/C01 --format docx
    """
    from casecoder import distill, document

    ctx = _ctx(project, pass_name, codebook, lang)
    document.write(distill.teaching_case(ctx, case), out_dir / f"case.{fmt}", fmt)
    document.write(distill.teaching_note(ctx, case, distill.case_diagram(ctx, case)),
                   out_dir / f"note.{fmt}", fmt)
    typer.echo(f"wrote {out_dir}")


@app.command()
def comparison(out: OutOpt, project: ProjectOpt = Path("."), fmt: FmtOpt = "md",
               pass_name: PassOpt = "rules", codebook: CodebookOpt = DEFAULT_CODEBOOK,
               lang: LangOpt = "zh") -> None:
    """Write the cross-case comparison table for a course.

    Example: casecoder distill comparison --format docx --out course.docx
    """
    from casecoder import distill, document

    document.write(distill.comparison_table(_ctx(project, pass_name, codebook, lang)), out, fmt)
    typer.echo(f"wrote {out}")


def run(
    cases: Annotated[Path, typer.Option(help="Folder of case files and interviews.")]
    = Path("cases"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("outputs"),
    codebook: CodebookOpt = DEFAULT_CODEBOOK,
    lang: LangOpt = "zh",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Processes for coding.")] = 1,
) -> None:
    """Run the whole pipeline on a corpus: ingest, code, graph, distill, export.

    Example: casecoder run --cases cases --out outputs
    """
    import sys

    from casecoder.pipeline import run as run_pipeline

    def step(name: str) -> None:
        if sys.stderr.isatty():
            typer.echo(f"… {name}", err=True)

    summary = run_pipeline(cases, out, codebook, lang=lang, jobs=jobs, step=step)
    typer.echo(f"{summary['cases']} cases, {summary['codings']} codings, {summary['links']} "
               f"links, {summary['documents']} documents, {summary['files']} files in {out}")
    for flag in ("transferable core", "conditional core"):
        elements = summary["flags"].get(flag, [])
        typer.echo(f"{flag}: " + (", ".join(elements) if elements else
                                  "none under these thresholds (sweep: data/sensitivity.json)"))
