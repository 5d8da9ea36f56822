"""Commands of the coding stage: ``code``, ``codebook …``, ``codes stats``, ``terms``,
``kwic`` and ``quotes``."""

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
    progress_bar,
    table,
)

PassOpt = Annotated[str, typer.Option("--pass", help="Coding pass name.")]

codebook_app = make_app("Validate, show and count a codebook.\n\n"
                        "Example: casecoder codebook validate codebooks/governance.yaml")
codes_app = make_app("Counts of codes: crosstabs by case attribute and co-occurrence.\n\n"
                     "Example: casecoder codes stats --by region")


def _load(path: Path):  # noqa: ANN202
    """Load and check a codebook (a declared frame included, see ``load_codebook``)."""
    from casecoder.codebook import load_codebook

    return load_codebook(path)


@codebook_app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="Codebook YAML file.")] = DEFAULT_CODEBOOK,
    frame: Annotated[Path | None, typer.Option(
        help="Also check against this frame file: every id present, with its label.")]
    = None,
) -> None:
    """Check a codebook: ids, parents, regexes, token patterns, rules, and the ids and
    labels of the frame it declares (`frame: governance-v1`) or of --frame FILE.

    Example: casecoder codebook validate codebooks/governance.yaml
    --frame ../shared/codebook-frame.md
    """
    from casecoder.codebook import check_frame, load_codebook

    cb = load_codebook(path)
    if frame is not None:
        check_frame(cb, frame)
    typer.echo(f"{path}: {len(cb.codes)} codes, valid (sha256 {cb.sha256[:12]})")


@codebook_app.command()
def show(
    path: Annotated[Path, typer.Argument(help="Codebook YAML file.")] = DEFAULT_CODEBOOK,
    as_json: JsonOpt = False,
) -> None:
    """Print the code hierarchy with labels.

    Example: casecoder codebook show codebooks/governance.yaml
    """
    from casecoder.codebook import load_codebook, render_tree

    cb = load_codebook(path)
    if as_json:
        emit_json([{"id": c.id, "label": c.label, "parent": c.parent, "layer": c.layer,
                    "gloss": c.gloss, "definition": c.definition} for c in cb.codes.values()])
        return
    typer.echo(render_tree(cb))


@codebook_app.command()
def stats(
    path: Annotated[Path, typer.Argument(help="Codebook YAML file.")] = DEFAULT_CODEBOOK,
    as_json: JsonOpt = False,
) -> None:
    """Count codes, terms, patterns and examples.

    Example: casecoder codebook stats --json
    """
    from casecoder.codebook import codebook_stats, load_codebook

    data = codebook_stats(load_codebook(path))
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        typer.echo(f"{key:24} {value}")


def code(
    project: ProjectOpt = Path("."),
    codebook: CodebookOpt = DEFAULT_CODEBOOK,
    pass_name: PassOpt = "rules",
    unit: Annotated[str, typer.Option(help="sentence, turn or paragraph (a narrative's "
                                      "turns are its paragraphs).")] = "sentence",
    speaker: Annotated[
        list[str] | None,
        typer.Option("--speaker", help="Roles coded in interviews (repeatable); default "
                     "the codebook's speaker_scope (respondent)."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Processes.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Code every current source with a codebook's rules, as one pass.

    Re-running a pass replaces it in one transaction; other passes stay.

    Example: casecoder code --codebook codebooks/governance.yaml --pass rules --jobs 2
    """
    from casecoder.coding import code as run_code
    from casecoder.store import open_store

    cb = _load(codebook)
    with open_store(project) as store:
        total = sum(len(s.text) for s in store.sources())
        with progress_bar(total, "code") as bar:
            report = run_code(store, cb, pass_name=pass_name, unit=unit,
                              speakers=speaker or None, jobs=jobs, progress=bar.advance)
    if as_json:
        emit_json(report.as_dict())
        return
    typer.echo(f"pass {report.pass_name}: {report.codings} codings, {report.metrics} metrics "
               f"in {report.units} units of {report.sources} sources ({report.coder})")


HeatmapOpt = Annotated[Path | None, typer.Option(
    "--heatmap", help="Also draw a heatmap here (.png or .svg, Chinese labels).")]
TableOutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Also write the table here: .csv, .xlsx or .jsonl, by suffix.")]


def _heatmap_format(path: Path) -> str:
    from casecoder.errors import CasecoderError

    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise CasecoderError("CC607", path=str(path), suffix=path.suffix, what="a heatmap",
                             known=".png, .svg")
    return fmt


def _code_labels(project: Path, codes: list[str]) -> dict[str, str]:
    """Chinese labels of ``codes`` from the codebook of the project's passes, if readable."""
    from casecoder.codebook import load_codebook
    from casecoder.errors import CasecoderError

    try:
        cb = load_codebook(DEFAULT_CODEBOOK)
    except CasecoderError:
        return {}
    return {c: cb.codes[c].label for c in codes if c in cb.codes}


@codes_app.command("stats")
def codes_stats(
    project: ProjectOpt = Path("."),
    pass_name: PassOpt = "rules",
    by: Annotated[str, typer.Option(help="case, region, setting, industry, result, kind, "
                                         "ctx.* or any case attribute")] = "case",
    level: Annotated[str, typer.Option(help="frame (roll sub-codes up) or code.")] = "frame",
    out: TableOutOpt = None,
    heatmap_out: HeatmapOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Code x case-attribute crosstab: coded units of each code per case or per value of a
    case attribute, with row totals.

    Example: casecoder codes stats --by region --out code_by_region.xlsx --heatmap region.png
    """
    from casecoder import records
    from casecoder.pictures import heatmap
    from casecoder.queries import code_frequencies
    from casecoder.store import open_store

    if out is not None:
        records.table_format(out, "code stats")
    fmt = _heatmap_format(heatmap_out) if heatmap_out is not None else ""
    with open_store(project) as store:
        codes, cols, counts = code_frequencies(store, pass_name, by=by, level=level)
    rows = [{"code": c, **{col: counts.get((c, col), 0) for col in cols},
             "total": sum(counts.get((c, col), 0) for col in cols)} for c in codes]
    if out is not None:
        records.write_table(out, rows, ["code", *cols, "total"], f"code by {by}")
    if heatmap_out is not None:
        heatmap(codes, cols, counts, heatmap_out, fmt, f"coded units: code x {by}",
                _code_labels(project, codes))
    if as_json:
        emit_json(rows)
        return
    typer.echo(table([[r["code"], *[r[c] for c in cols], r["total"]] for r in rows],
                     ["code", *cols, "total"]))


@codes_app.command("cooccur")
def codes_cooccur(
    project: ProjectOpt = Path("."),
    pass_name: PassOpt = "rules",
    scope: Annotated[str, typer.Option(
        help="overlap (coded segments sharing text), unit (same span), source or case.")]
    = "overlap",
    level: Annotated[str, typer.Option(help="frame (roll sub-codes up) or code.")] = "frame",
    out: TableOutOpt = None,
    heatmap_out: HeatmapOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Code co-occurrence matrix (symmetric; the diagonal counts each code alone).

    With --scope overlap a cell counts pairs of coded segments whose spans share text;
    with unit, spans coded with both; with source or case, sources or cases holding both.

    Example: casecoder codes cooccur --scope case --out cooccurrence.xlsx --heatmap co.png
    """
    from casecoder import records
    from casecoder.pictures import heatmap
    from casecoder.queries import cooccurrence
    from casecoder.store import open_store

    if out is not None:
        records.table_format(out, "co-occurrence")
    fmt = _heatmap_format(heatmap_out) if heatmap_out is not None else ""
    with open_store(project) as store:
        codes, counts = cooccurrence(store, pass_name, level=level, scope=scope)
    rows = [{"code": c, **{d: counts.get((c, d), 0) for d in codes}} for c in codes]
    if out is not None:
        records.write_table(out, rows, ["code", *codes], "co-occurrence")
    if heatmap_out is not None:
        heatmap(codes, codes, counts, heatmap_out, fmt, f"co-occurrence ({scope})",
                _code_labels(project, codes))
    if as_json:
        emit_json({"scope": scope, "level": level, "pass": pass_name, "codes": codes,
                   "matrix": [[counts.get((c, d), 0) for d in codes] for c in codes]})
        return
    typer.echo(table([[r["code"], *[r[d] for d in codes]] for r in rows], ["code", *codes]))


def terms(
    project: ProjectOpt = Path("."),
    codebook: CodebookOpt = DEFAULT_CODEBOOK,
    pass_name: Annotated[str | None, typer.Option(
        "--pass", help="Coding pass for candidate terms [default: rules, when there is "
        "one]")] = None,
    top: Annotated[int, typer.Option(help="How many words to list.")] = 30,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Processes.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Word frequencies, and candidate terms per code missing from the codebook.

    The sentences are cut once (jieba with the codebook's terms in its user dictionary,
    spread over --jobs processes) for both lists.

    Example: casecoder terms --top 20 --jobs 2
    """
    from casecoder.errors import CasecoderError
    from casecoder.store import open_store
    from casecoder.terms import term_lists

    if jobs < 1:
        raise CasecoderError("CC312", jobs=jobs)
    if top < 1:
        raise CasecoderError("CC008", option="--top", value=top,
                             expected="a whole number of at least 1")
    cb = _load(codebook)
    with open_store(project) as store:
        if pass_name is not None:
            store.require_pass(pass_name)  # a pass asked for by name must exist (CC006)
        else:  # by default the rules pass, when there is one
            pass_name = "rules"
        has_pass = any(p["name"] == pass_name for p in store.passes())
        data = term_lists(store, cb, pass_name if has_pass else None, top=top, jobs=jobs)
    cands = data["candidates"]
    if as_json:
        emit_json(data)
        return
    typer.echo(table([[r["term"], r["count"]] for r in data["frequencies"]], ["term", "count"]))
    for code_id, rows in cands.items():
        if rows:
            typer.echo(f"\ncandidates for {code_id}: "
                       + "、".join(f"{r['term']}({r['count']}, ×{r['lift']})" for r in rows))
    if not has_pass:
        typer.echo(f"\n(no pass {pass_name!r}: run `casecoder code` for candidate terms)")


def kwic(
    term: Annotated[str, typer.Argument(help="Term (or regex with --regex).")],
    project: ProjectOpt = Path("."),
    width: Annotated[int, typer.Option(help="Context characters each side.")] = 20,
    regex: Annotated[bool, typer.Option(help="Treat TERM as a regular expression.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Keyword in context over the stored corpus.

    Example: casecoder kwic 调解 --width 15
    """
    from casecoder.queries import kwic as run_kwic
    from casecoder.store import open_store

    with open_store(project) as store:
        rows = run_kwic(store, term, width=width, regex=regex)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        left = r["left"].replace("\n", " ")
        right = r["right"].replace("\n", " ")
        typer.echo(f"{r['source']}:{r['start_char']}  {left:>{width}} [{r['match']}] {right}")


def quotes(
    code_id: Annotated[str, typer.Option("--code", help="Code id (sub-codes included).")],
    project: ProjectOpt = Path("."),
    where: Annotated[list[str] | None, typer.Option(help="ATTR=VALUE filter (repeatable).")]
    = None,
    pass_name: Annotated[str | None, typer.Option("--pass", help="Only this pass.")] = None,
    context: Annotated[int, typer.Option(help="Context characters each side.")] = 40,
    as_json: JsonOpt = False,
) -> None:
    """Coded passages of a code, with context, source and case (a coding query).

    Example: casecoder quotes --code mech.mediation --where region=中西部 --where setting=rural
    """
    from casecoder.queries import quotes as run_quotes
    from casecoder.store import open_store

    with open_store(project) as store:
        rows = run_quotes(store, code_id, where or [], pass_name, context)
    if as_json:
        emit_json([r.as_dict() for r in rows])
        return
    for r in rows:
        typer.echo(f"— {r.case or '-'} {r.source} {r.start_char}:{r.end_char} [{r.code}]"
                   f" ({r.pass_name})")
        typer.echo(f"  …{r.before.replace(chr(10), ' ')}【{r.quote}】"
                   f"{r.after.replace(chr(10), ' ')}…")
    typer.echo(f"{len(rows)} passages")
