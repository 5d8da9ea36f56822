"""Commands of the graph stage: ``graph build|show|export|flags|sensitivity``, ``adapt``
and ``qca``."""

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
from casecoder.errors import CasecoderError

app = make_app("Mechanism graphs, flags and their sensitivity.\n\n"
               "Example: casecoder graph build && casecoder graph flags")

PassOpt = Annotated[str, typer.Option("--pass", help="Coding pass.")]
CaseOpt = Annotated[str | None, typer.Option("--case", help="One case (default: cross-case).")]
MinSupport = Annotated[int, typer.Option(help="Core: successful cases at least.")]
MinRegions = Annotated[int, typer.Option(help="Core: regions at least.")]
MinSettings = Annotated[int, typer.Option(help="Core: settings at least.")]
Necessity = Annotated[float, typer.Option(help="Core: necessity consistency at least.")]
Relevance = Annotated[float, typer.Option(help="Core: relevance of necessity at least.")]
PreNec = Annotated[float, typer.Option("--precondition", help="Precondition: necessity at "
                                       "least.")]
Difference = Annotated[float, typer.Option(help="Precondition: success-rate gap at least.")]


def _thresholds(min_support: int, min_regions: int, min_settings: int, necessity: float,
                relevance: float, precondition: float, difference: float) -> Any:
    from casecoder.flags import Thresholds

    return Thresholds(min_support=min_support, min_regions=min_regions,
                      min_settings=min_settings, necessity=necessity, relevance=relevance,
                      precondition=precondition, difference=difference)


def _analysis(project: Path, pass_name: str, codebook: Path, th: Any = None,
              extract: bool = False, then: Any = None) -> Any:
    """The analysis of a pass; with ``then``, ``then(store, analysis)`` while the store is
    open."""
    from casecoder.codebook import load_codebook
    from casecoder.graph import analyse
    from casecoder.store import open_store

    cb = load_codebook(codebook)
    with open_store(project) as store:
        if store.db.execute("SELECT 1 FROM codings WHERE pass = ? LIMIT 1",
                            (pass_name,)).fetchone() is None:
            from casecoder.errors import CasecoderError

            raise CasecoderError("CC401", name=pass_name)
        has_links = store.db.execute("SELECT 1 FROM links WHERE pass = ? LIMIT 1",
                                     (pass_name,)).fetchone() is not None
        a = analyse(store, pass_name, cb, th, extract_links=extract or not has_links)
        return then(store, a) if then is not None else a


@app.command()
def build(project: ProjectOpt = Path("."), pass_name: PassOpt = "rules",
          codebook: CodebookOpt = DEFAULT_CODEBOOK, as_json: JsonOpt = False) -> None:
    """Extract causal links from a pass's codings and build the graphs.

    Example: casecoder graph build --pass rules
    """
    a = _analysis(project, pass_name, codebook, extract=True)
    data = {"links": len(a.data.links), "cases": len(a.records),
            "nodes": a.cross.number_of_nodes(), "edges": a.cross.number_of_edges(),
            "flags": {k: sum(f.flag == k for f in a.flags)
                      for k in ("transferable core", "conditional core", "peripheral")}}
    if as_json:
        emit_json(data)
        return
    typer.echo(f"{data['links']} links in {data['cases']} cases; cross-case graph "
               f"{data['nodes']} nodes, {data['edges']} edges; " + ", ".join(
                   f"{v} {k}" for k, v in data["flags"].items()))


@app.command()
def show(project: ProjectOpt = Path("."), pass_name: PassOpt = "rules",
         codebook: CodebookOpt = DEFAULT_CODEBOOK, case: CaseOpt = None) -> None:
    """Print a graph in the terminal: nodes by layer, strongest causal links.

    Example: casecoder graph show --case C01
    """
    from casecoder.graph import case_graph, render_text

    a = _analysis(project, pass_name, codebook)
    g = case_graph(a.data, _case(a, case)) if case else a.cross
    typer.echo(render_text(g), nl=False)


def _case(a: Any, case: str) -> str:
    if case not in a.data.cases:
        from casecoder.errors import CasecoderError

        raise CasecoderError("CC502", case_id=case, known=", ".join(sorted(a.data.cases)))
    return case


GRAPH_FORMATS = ("graphml", "gexf", "cytoscape", "mermaid", "dot", "svg", "png", "links-csv",
                 "evidence-graphml")


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (written atomically).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=", ".join(GRAPH_FORMATS))]
    = "graphml",
    project: ProjectOpt = Path("."), pass_name: PassOpt = "rules",
    codebook: CodebookOpt = DEFAULT_CODEBOOK, case: CaseOpt = None,
) -> None:
    """Export a graph: GraphML, GEXF, Cytoscape JSON, Mermaid, DOT, SVG/PNG, links CSV.

    Example: casecoder graph export --format gexf --out outputs/graph.gexf
    """
    from casecoder.errors import CasecoderError

    if fmt not in GRAPH_FORMATS:
        raise CasecoderError("CC406", fmt=fmt, known=", ".join(GRAPH_FORMATS))
    a = _analysis(project, pass_name, codebook)
    write_graph(a, fmt, out, case)
    typer.echo(f"wrote {out}")


def write_graph(a: Any, fmt: str, out: Path, case: str | None = None) -> None:
    """Write one graph export (used by the command and by ``casecoder run``)."""
    from casecoder import graph as G
    from casecoder import records
    from casecoder.fileio import write_text
    from casecoder.pictures import draw_graph

    if case:
        _case(a, case)  # an unknown case is refused whatever the format
    if fmt == "links-csv":
        rows = G.link_rows(a.data)
        if case:
            rows = [r for r in rows if r["case"] == case]
        records.write(out, rows, "csv", G.LINK_COLUMNS, "links")
        return
    if fmt == "evidence-graphml":
        write_text(out, G.to_graphml(G.evidence_of_case(a.evidence, case) if case
                                     else a.evidence))
        return
    g = G.case_graph(a.data, _case(a, case)) if case else a.cross
    if fmt in ("svg", "png"):
        title = f"{case} {a.data.cases[case].title}" if case else "cross-case mechanism graph"
        draw_graph(g, out, fmt, title)
        return
    text = {"graphml": G.to_graphml, "gexf": G.to_gexf, "cytoscape": G.to_cytoscape,
            "mermaid": G.to_mermaid, "dot": G.to_dot}[fmt](g)
    write_text(out, text)


@app.command()
def flags(
    project: ProjectOpt = Path("."), pass_name: PassOpt = "rules",
    codebook: CodebookOpt = DEFAULT_CODEBOOK,
    min_support: MinSupport = 3, min_regions: MinRegions = 2, min_settings: MinSettings = 2,
    necessity: Necessity = 0.9, relevance: Relevance = 0.5, precondition: PreNec = 0.9,
    difference: Difference = 0.5, as_json: JsonOpt = False,
) -> None:
    """Flag each element: transferable core, conditional core or peripheral, with counts,
    preconditions and evidence.

    Example: casecoder graph flags --necessity 0.85 --json
    """
    from casecoder.flags import analysis_report

    th = _thresholds(min_support, min_regions, min_settings, necessity, relevance, precondition,
                     difference)
    report = _analysis(project, pass_name, codebook, th,
                       then=lambda store, a: analysis_report(store, a))
    if as_json:
        emit_json(report)
        return
    flags = report["flags"]
    rows = [[f["element"], f["flag"], f"{f['support']}/{f['successes']}",
             f"{f['necessity']:.2f}", f"{f['relevance']:.2f}", len(f["regions"]),
             len(f["settings"]),
             "; ".join(f"{p['condition']}({p['necessity_k']}/{p['necessity_n']})"
                       for p in f["preconditions"] if p["status"] == "precondition")]
            for f in flags]
    typer.echo(table(rows, ["element", "flag", "support", "incl.N", "RoN", "regions",
                            "settings", "preconditions"]))
    typer.echo(f"thresholds: {report['thresholds']}")
    typer.echo("")
    typer.echo("Evidence (--json has up to "
               f"{report['quoted_cases']} cases per flag and per precondition):")
    for f in flags:
        typer.echo(f"{f['element']} ({f['flag']}, {f['support']}/{f['successes']}):")
        _echo_quotes(f["evidence"], TERMINAL_QUOTES)
        for p in f["preconditions"]:
            if p["status"] == "no evidence":
                continue
            typer.echo(f"  {p['condition']}: {p['status']} (necessity "
                       f"{p['necessity_k']}/{p['necessity_n']}; with it "
                       f"{p['with_c_success']}/{p['with_c_total']} succeeded, without it "
                       f"{p['without_c_success']}/{p['without_c_total']})")
            _echo_quotes(p["evidence"], TERMINAL_QUOTES, indent="    ")
            if p["unquoted"]:
                typer.echo(f"    no quote for: {', '.join(p['unquoted'])}")


TERMINAL_QUOTES = 3


def _echo_quotes(quotes: list[dict[str, Any]], limit: int, indent: str = "  ") -> None:
    for q in quotes[:limit]:
        state = f" [{q['state']}]" if "state" in q else ""
        typer.echo(f"{indent}{q['case']}{state} {q['source']}:{q['start_char']}-"
                   f"{q['end_char']} “{q['quote']}”")
    if len(quotes) > limit:
        typer.echo(f"{indent}… {len(quotes) - limit} more with --json")


GridOpt = Annotated[list[str] | None, typer.Option(
    "--grid", help="Values to sweep for one threshold, NAME=V1,V2,… (repeatable; the others "
    "keep the default grid).")]


def _grid(specs: list[str]) -> dict[str, list[Any]]:
    from casecoder.flags import DEFAULT_GRID, Thresholds

    grid = dict(DEFAULT_GRID)
    kinds = {name: f.type for name, f in Thresholds.__dataclass_fields__.items()}
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in kinds or not values.strip():
            raise CasecoderError("CC008", option="--grid", value=spec,
                                 expected="NAME=V1,V2,… with NAME one of "
                                 + ", ".join(sorted(kinds)))
        cast = int if kinds[name] in (int, "int") else float
        try:
            grid[name] = sorted({cast(v) for v in values.split(",") if v.strip()})
        except ValueError:
            raise CasecoderError("CC008", option="--grid", value=spec,
                                 expected=f"{cast.__name__} values for {name}") from None
    return grid


@app.command()
def sensitivity(project: ProjectOpt = Path("."), pass_name: PassOpt = "rules",
                codebook: CodebookOpt = DEFAULT_CODEBOOK, grid: GridOpt = None,
                as_json: JsonOpt = False) -> None:
    """Sweep the core thresholds and report how stable each element's core flag is.

    The default grid: necessity 0.5–1.0, min_support 2–5, min_regions 1–3 and relevance
    0.3–0.7; --grid replaces the values of one threshold.

    Example: casecoder graph sensitivity --grid necessity=0.5,0.6,0.7 --grid min_support=3
    """
    from casecoder.flags import sensitivity as sweep

    values = _grid(grid or [])
    a = _analysis(project, pass_name, codebook)
    result = sweep(a.records, values)
    if as_json:
        emit_json(result)
        return
    typer.echo(f"{result['settings']} threshold settings: "
               + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in result["grid"].items()))
    if not result["core_share"]:
        typer.echo("No element is a transferable core in any of them.")
        return
    typer.echo("Share of settings in which each element is a transferable core, and the "
               "highest necessity threshold at which it is one:")
    typer.echo(table([[e, f"{s:.2f}", f"{result['core_max_necessity'][e]:.2f}"]
                      for e, s in sorted(result["core_share"].items(),
                                         key=lambda x: (-x[1], x[0]))],
                     ["element", "core share", "max necessity"]))


def adapt(
    target: Annotated[Path, typer.Option("--target", help="Target site profile (YAML).")],
    project: ProjectOpt = Path("."), pass_name: PassOpt = "rules",
    codebook: CodebookOpt = DEFAULT_CODEBOOK, as_json: JsonOpt = False,
) -> None:
    """Advice for a target site: keep / adapt / build the precondition first / no evidence.

    Example: casecoder adapt --target profiles/west-rural.yaml
    """
    from casecoder.adapt import advise, load_target

    tgt = load_target(target)
    a = _analysis(project, pass_name, codebook)
    advice = advise(a, tgt)
    if as_json:
        emit_json([x.__dict__ for x in advice])
        return
    for x in advice:
        typer.echo(f"{x.element}: {x.action}" + (
            f" (substitute forms seen to succeed: {', '.join(x.substitutes)})"
            if x.substitutes else ""))
        for r in x.reasons:
            typer.echo(f"    - {r}")
        if x.cite_cases:
            typer.echo(f"    cases: {', '.join(x.cite_cases)}")


def qca(
    table_path: Annotated[Path, typer.Argument(help="CSV/TSV table; first column = cases.")],
    outcome: Annotated[str, typer.Option(help="Outcome column.")],
    incl_cut: Annotated[str, typer.Option(help="Inclusion cut-off (or 'X,Y' for 1 and 0).")]
    = "0.8",
    n_cut: Annotated[int, typer.Option(help="Minimum cases per row.")] = 1,
    dir_exp: Annotated[str | None, typer.Option(help="Directional expectations COND=1,…")]
    = None,
    conditions: Annotated[str | None, typer.Option(help="Conditions COND,… (default all).")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Set-theoretic analysis (QCA): truth table and complex, parsimonious and intermediate
    solutions with inclS, PRI, covS, covU.

    Example: casecoder qca data.csv --outcome SURV --incl-cut 0.8 --dir-exp A=1,B=1
    """
    from casecoder import qca as Q
    from casecoder.errors import CasecoderError

    try:
        cuts = [float(x) for x in incl_cut.split(",")]
    except ValueError:
        cuts = []
    if len(cuts) not in (1, 2):
        raise CasecoderError("CC008", option="--incl-cut", value=incl_cut,
                             expected="a number, or two numbers X,Y (for 1 and for 0)")
    cut: Any = cuts[0] if len(cuts) == 1 else (cuts[0], cuts[1])
    dexp = None
    if dir_exp:
        dexp = {}
        for item in dir_exp.split(","):
            k, sep, v = item.partition("=")
            if not sep:
                raise CasecoderError("CC008", option="--dir-exp", value=item,
                                     expected="COND=1, COND=0 or COND=-")
            dexp[k.strip()] = v.strip()
    conds = [c.strip() for c in conditions.split(",")] if conditions else None
    try:
        result = Q.run(table_path, outcome, conditions=conds, incl_cut=cut, n_cut=n_cut,
                       dir_exp=dexp)
    except Q.QcaDataError as exc:
        if exc.line is not None:
            raise CasecoderError("CC402", path=exc.path, line=exc.line,
                                 column=exc.column or "-", reason=exc.reason) from exc
        raise CasecoderError("CC407", path=exc.path, reason=exc.reason) from exc
    except Q.QcaColumnError as exc:
        raise CasecoderError("CC403", column=exc.column, path=exc.path,
                             known=", ".join(exc.known)) from exc
    except Q.QcaSpecError as exc:
        raise CasecoderError("CC407", path=str(table_path), reason=str(exc)) from exc
    if as_json:
        emit_json(Q.result_to_dict(result))
        return
    typer.echo(Q.format_report(result), nl=False)
