"""Commands of agreement and dictionary exchange: ``agree`` and ``dict export|import``.

``agree_command`` is a plain function registered as ``casecoder agree``; ``dict_app`` is
the ``casecoder dict`` sub-app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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

TEXT_WIDTH = 60

dict_app = make_app("Exchange codebooks with quanteda (YAML) and LIWC (.dic) dictionaries.\n\n"
                    "Example: casecoder dict export --format quanteda --out governance.yml")


def agree_command(
    pass_a: Annotated[str, typer.Argument(help="The first pass (coder A).")],
    pass_b: Annotated[str, typer.Argument(help="The second pass (coder B).")],
    project: ProjectOpt = Path("."),
    unit: Annotated[str, typer.Option(help="Unit of comparison: sentence or character.")]
    = "sentence",
    level: Annotated[str, typer.Option(help="frame (roll codes up to frame ids) or code.")]
    = "frame",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the 95% intervals "
                                           "(0: none).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    as_json: JsonOpt = False,
    disagreements: Annotated[int, typer.Option(help="How many disagreements to print, with "
                                               "their text.")] = 20,
    code: Annotated[list[str] | None, typer.Option("--code", help="Compare only this code "
                                                    "(repeatable; at the chosen level).")]
    = None,
    sources: Annotated[str, typer.Option(
        "--sources", help="Sources compared: either (coded by either pass; a source one "
        "pass left uncoded counts as 'no code'), both (coded by both) or all.")]
    = "either",
) -> None:
    """Inter-coder agreement of two passes: kappa, alpha, % agreement per code.

    Units are the sentences (or, with --unit character, the body characters) of the
    sources either pass coded (--sources). Codes are compared at frame level unless
    --level code. Prints one row per code and a pooled row, with 95% bootstrap
    intervals, then the first disagreements with their text; --json prints everything.

    Example: casecoder agree rules manual --level code --disagreements 50
    """
    from casecoder.agree import report_to_dict
    from casecoder.agreement_io import compared_sources, pass_agreement
    from casecoder.errors import CasecoderError
    from casecoder.store import open_store

    if disagreements < 0:
        raise CasecoderError("CC008", option="--disagreements", value=disagreements,
                             expected="a whole number of at least 0")
    with open_store(project) as store:
        report, found = pass_agreement(store, pass_a, pass_b, unit=unit, codes=code,
                                       level=level, bootstrap=bootstrap, seed=seed,
                                       sources=sources)
        compared = compared_sources(store, pass_a, pass_b, sources)
    if as_json:
        emit_json({
            "passes": {"A": pass_a, "B": pass_b},
            "unit": unit,
            "level": level,
            "sources": compared.as_dict(),
            "report": report_to_dict(report),
            "disagreements": [d.as_dict() for d in found],
        })
        return
    intervals = (f"{report.bootstrap} bootstrap resamples, seed {report.seed}"
                 if report.bootstrap else "no bootstrap")
    typer.echo(f"Agreement of A = {pass_a!r} and B = {pass_b!r}: {report.n_units} "
               f"{unit} units in {len(compared.shared)} sources (level {level}; {intervals})")
    for who, other, names in (("A", "B", compared.only_a), ("B", "A", compared.only_b)):
        if names:
            how = ("left out" if compared.scope == "both"
                   else f"compared as coded with no code by {other}")
            typer.echo(f"Coded by {who} only ({how}): {', '.join(names)}")
    for who, name, names in (("A", pass_a, compared.stale_a), ("B", pass_b, compared.stale_b)):
        if names:
            typer.echo(f"Note: {who} ({name}) also has codings on older versions of "
                       f"{', '.join(names)}: the text changed since, so they are not compared"
                       f"; re-run or re-import the pass to compare them", err=True)
    typer.echo("")
    typer.echo(agreement_table(report), nl=False)
    if disagreements and found:
        shown = found[:disagreements]
        typer.echo("")
        typer.echo(f"Disagreements ({len(shown)} of {len(found)}):")
        rows = [[d.source, f"{d.start_char}:{d.end_char}", d.code,
                 f"{d.coded_by} ({d.pass_name})", _clip(d.text)] for d in shown]
        typer.echo(table(rows, ["source", "span", "code", "coded by", "text"]))
    elif not found:
        typer.echo("")
        typer.echo("No disagreements.")


def agreement_table(report: Any) -> str:
    """The report as a plain table: per code kappa, alpha, % agreement, prevalence, CIs.

    Columns: code, units, both, A only, B only, agreement % and its interval, kappa and
    its interval, alpha and its interval, prevalence (share of units either pass coded).
    ``n/a`` marks an undefined value; the reasons follow the table.
    """

    def num(x: float | None, digits: int) -> str:
        return "n/a" if x is None else f"{x:.{digits}f}"

    def ci(pair: tuple[float, float] | None, digits: int) -> str:
        return "" if pair is None else f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"

    level = f"{round(report.confidence * 100, 2):g}% CI"
    header = ["code", "n", "both", "A only", "B only", "agree %", level, "kappa", level,
              "alpha", level, "prevalence"]
    rows = [[e.code, e.n_units, e.both, e.only_a, e.only_b,
             num(e.percent_agreement, 1), ci(e.percent_agreement_ci, 1),
             num(e.kappa, 3), ci(e.kappa_ci, 3), num(e.alpha, 3), ci(e.alpha_ci, 3),
             num(e.prevalence, 3)]
            for e in (*report.codes, report.overall)]
    lines = [table(rows, header)]
    notes = [f"{e.code}: {name} undefined: {reason}"
             for e in (*report.codes, report.overall)
             for name, reason in sorted(e.undefined.items())]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_WIDTH else flat[:TEXT_WIDTH - 1] + "…"


@dict_app.command("export")
def export_dict(
    fmt: Annotated[str, typer.Option("--format", "-f", help="Dictionary format: quanteda or "
                                     "liwc.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dictionary file to write.")],
    codebook: CodebookOpt = DEFAULT_CODEBOOK,
) -> None:
    """Write a codebook as a quanteda YAML or LIWC .dic dictionary.

    The hierarchy and the literal terms are kept; every rule the format cannot express
    (regular expressions, exclusions, proximity, negation, speaker scope) is listed as a
    warning on stderr, naming its code.

    Example: casecoder dict export --format liwc --out governance.dic
    """
    from casecoder.codebook import load_codebook
    from casecoder.dictformats import export_dictionary

    cb = load_codebook(codebook)
    warnings = export_dictionary(cb, out, fmt)
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"wrote {out}: {len(cb.codes)} categories as {fmt}; {len(warnings)} "
               "warnings about what was left out")


@dict_app.command("import")
def import_dict(
    path: Annotated[Path, typer.Argument(help="Dictionary: .yml/.yaml (quanteda) or .dic "
                                         "(LIWC).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Codebook YAML file to write.")],
) -> None:
    """Read a quanteda or LIWC dictionary and write it as a casecoder codebook.

    The format follows the suffix. Categories become codes (nesting or dotted names
    give the parents), plain entries keywords, wildcard entries patterns.

    Example: casecoder dict import laver-garry.yml --out codebooks/laver-garry.yaml
    """
    from casecoder.dictformats import SUFFIX_FORMATS, import_dictionary, write_codebook_yaml

    cb = import_dictionary(path)
    fmt = SUFFIX_FORMATS[path.suffix.lower()]
    write_codebook_yaml(cb, out, description=f"Imported by casecoder from the {fmt} "
                        f"dictionary {path.name}.")
    keywords = sum(len(c.rules.keywords) for c in cb.codes.values())
    patterns = sum(len(c.rules.patterns) for c in cb.codes.values())
    typer.echo(f"wrote {out}: {len(cb.codes)} codes, {keywords} keywords, {patterns} "
               "patterns")
