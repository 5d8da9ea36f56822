"""``casecoder cases``: the case classification sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casecoder.cli.common import JsonOpt, emit_json, make_app, table

app = make_app("The case classification sheet.\n\nExample: casecoder cases index cases/")


@app.command()
def index(
    folder: Annotated[Path, typer.Argument(help="Folder of case files.")] = Path("cases"),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="CSV to write "
                                             "(default FOLDER/index.csv).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List every case with its attributes and write the index CSV.

    Example: casecoder cases index cases/ --out cases/index.csv
    """
    from casecoder.caseindex import read_cases, rows, write_index

    target = out or folder / "index.csv"
    n = write_index(folder, target)
    data = rows(read_cases(folder))
    if as_json:
        emit_json(data)
        return
    typer.echo(table([[r["id"], r["title"][:24], r["region"], r["setting"], r["result"]]
                      for r in data], ["id", "title", "region", "setting", "result"]))
    typer.echo(f"{n} cases; wrote {target}")
