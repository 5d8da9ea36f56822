"""Shared pieces of the command line: the error boundary, options, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from casecoder.errors import CasecoderError


class CatalogueGroup(TyperGroup):
    """The one error boundary: a catalogued error prints ``Error: [CCnnn] …``, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CasecoderError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


def make_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
    )


ProjectOpt = Annotated[
    Path,
    typer.Option("--project", "-p", help="Project directory (holds casecoder.sqlite).",
                 envvar="CASECODER_PROJECT"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CodebookOpt = Annotated[Path, typer.Option("--codebook", "-c", help="YAML codebook.")]


def _default_codebook() -> Path:
    """``codebooks/governance.yaml`` of the working directory; when there is none, the one
    of the checkout the package runs from (so the commands work outside the repository
    root too); else the relative path, whose absence the loader reports (CC309)."""
    here = Path("codebooks") / "governance.yaml"
    if here.exists():
        return here
    bundled = Path(__file__).resolve().parents[2] / "codebooks" / "governance.yaml"
    return bundled if bundled.exists() else here


DEFAULT_CODEBOOK = _default_codebook()


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))


def table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain aligned text table (East Asian wide characters count double)."""
    import unicodedata

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)

    cells = [[str(h) for h in header]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(width(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, r in enumerate(cells):
        cells_out = (c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True))
        lines.append("  ".join(cells_out).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True) -> Iterator[Any]:
    """A progress bar on stderr (hidden when stderr is not a terminal or disabled)."""
    show = enabled and sys.stderr.isatty()
    if not show:
        class _Null:
            def advance(self, n: int = 1) -> None:
                pass
        yield _Null()
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), TimeRemainingColumn(), transient=True,
                  console=_stderr_console()) as prog:
        task = prog.add_task(label, total=total)

        class _Bar:
            def advance(self, n: int = 1) -> None:
                prog.advance(task, n)
        yield _Bar()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
