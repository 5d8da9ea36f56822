"""The one-command pipeline: ingest → code → graph and flags → distill → export.

``casecoder run`` writes everything into an output folder (``outputs/`` by default)::

    outputs/
      project/                  the SQLite project store of the run
      summaries/                policy summaries (.md, .docx, .html; cross-case and per case)
      teaching/                 teaching case packs and the course comparison table
      graphs/                   GraphML, GEXF, Cytoscape JSON, Mermaid, DOT, SVG/PNG, links CSV
      data/                     segments, codings, metrics, flags, sensitivity, code tables
      exchange/                 REFI-QDA project and codebook (when available)

Every document has a ``.citations.jsonl`` sidecar. Outputs are deterministic: two runs
on the same inputs give byte-identical files (the project store aside).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casecoder.fileio import write_text

DOC_FORMATS = ("md", "docx", "html")


def run(cases: Path, out: Path, codebook_path: Path, lang: str = "zh", jobs: int = 1,
        pass_name: str = "rules", fresh: bool = True,
        step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole pipeline; returns a summary of what was written."""
    from casecoder import distill, document, exporting
    from casecoder.codebook import load_codebook
    from casecoder.coding import code
    from casecoder.graph import analyse
    from casecoder.ingest import ingest
    from casecoder.store import Store

    say = step or (lambda s: None)
    codebook = load_codebook(codebook_path)
    project = out / "project"
    if fresh and project.exists():
        shutil.rmtree(project)
    written: list[Path] = []
    with Store(project, create=True) as store:
        say("ingest")
        ingest(store, [cases])
        say("code")
        report = code(store, codebook, pass_name=pass_name, jobs=jobs)
        say("graph")
        a = analyse(store, pass_name, codebook)
        say("export data")
        data_dir = out / "data"
        exporting.export_segments(store, data_dir / "segments.jsonl", "jsonl")
        exporting.export_codings(store, data_dir / "codings.jsonl", "jsonl", pass_name)
        exporting.export_codings(store, data_dir / "codings.csv", "csv", pass_name)
        exporting.export_metrics(store, data_dir / "metrics.csv", "csv", pass_name)
        written += _data_tables(store, a, data_dir, pass_name)
        say("graphs")
        written += _graphs(a, out / "graphs")
        say("distill")
        ctx = distill.make_context(store, a, pass_name, lang)
        docs: list[tuple[Any, Path]] = [(distill.cross_case_summary(ctx),
                                         out / "summaries" / "cross-case")]
        for cid in sorted(a.data.cases):
            if a.data.elements.get(cid):
                docs.append((distill.case_summary(ctx, cid), out / "summaries" / "cases" / cid))
                png = distill.case_diagram(ctx, cid)
                docs.append((distill.teaching_case(ctx, cid),
                              out / "teaching" / cid / "case"))
                docs.append((distill.teaching_note(ctx, cid, png),
                             out / "teaching" / cid / "note"))
        docs.append((distill.comparison_table(ctx), out / "teaching" / "course-comparison"))
        for doc, stem in docs:
            for fmt in DOC_FORMATS:
                written += document.write(doc, stem.with_suffix(f".{fmt}"), fmt)
        say("exchange")
        written += _exchange(store, codebook, out / "exchange", pass_name)
    summary = {"sources": report.sources, "codings": report.codings, "metrics": report.metrics,
               "links": len(a.data.links), "cases": len(a.records),
               "documents": len(docs), "files": len(written),
               "flags": {k: sorted(f.element for f in a.flags if f.flag == k)
                         for k in ("transferable core", "conditional core")}}
    write_text(out / "run-summary.json",
               json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return summary


def _data_tables(store: Any, a: Any, data_dir: Path, pass_name: str) -> list[Path]:
    from casecoder import records
    from casecoder.flags import analysis_report, sensitivity
    from casecoder.pictures import heatmap
    from casecoder.queries import code_frequencies, cooccurrence

    out = []
    write_text(data_dir / "flags.json", json.dumps(
        analysis_report(store, a), ensure_ascii=False, indent=1,
        sort_keys=True) + "\n")
    write_text(data_dir / "sensitivity.json", json.dumps(
        sensitivity(a.records), ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    out += [data_dir / "flags.json", data_dir / "sensitivity.json"]
    cb = a.data.codebook
    for by in ("case", "region", "setting"):
        codes, cols, counts = code_frequencies(store, pass_name, by=by)
        rows = [{"code": c, **{col: counts.get((c, col), 0) for col in cols}} for c in codes]
        for suffix in (".csv", ".xlsx"):
            path = data_dir / f"code_by_{by}{suffix}"
            records.write_table(path, rows, ["code", *cols], f"code by {by}")
            out.append(path)
        if by == "case":
            labels = {c: cb.codes[c].label for c in codes if c in cb.codes}
            heatmap(codes, cols, counts, data_dir / "code_by_case_heatmap.png", "png",
                    "code frequency by case", labels)
            out.append(data_dir / "code_by_case_heatmap.png")
    codes, counts = cooccurrence(store, pass_name)
    rows = [{"code": c, **{d: counts.get((c, d), 0) for d in codes}} for c in codes]
    for suffix in (".csv", ".xlsx"):
        records.write_table(data_dir / f"cooccurrence{suffix}", rows, ["code", *codes],
                            "co-occurrence")
        out.append(data_dir / f"cooccurrence{suffix}")
    heatmap(codes, codes, counts, data_dir / "cooccurrence_heatmap.png", "png",
            "co-occurrence (coded segments sharing text)",
            {c: cb.codes[c].label for c in codes if c in cb.codes})
    out.append(data_dir / "cooccurrence_heatmap.png")
    return out


def _graphs(a: Any, gdir: Path) -> list[Path]:
    from casecoder.cli.graph_cmd import write_graph

    out = []
    for fmt, name in (("graphml", "cross-case.graphml"), ("gexf", "cross-case.gexf"),
                      ("cytoscape", "cross-case.cyjs.json"), ("mermaid", "cross-case.mmd"),
                      ("dot", "cross-case.dot"), ("svg", "cross-case.svg"),
                      ("png", "cross-case.png"), ("links-csv", "links.csv"),
                      ("evidence-graphml", "evidence.graphml")):
        write_graph(a, fmt, gdir / name)
        out.append(gdir / name)
    for cid in sorted(a.data.cases):
        if a.data.elements.get(cid):
            write_graph(a, "graphml", gdir / "cases" / f"{cid}.graphml", cid)
            out.append(gdir / "cases" / f"{cid}.graphml")
    return out


def _exchange(store: Any, codebook: Any, xdir: Path, pass_name: str) -> list[Path]:
    from casecoder import refiqda

    refiqda.export_qdc(codebook, xdir / "codebook.qdc")
    refiqda.export_qdpx(store, xdir / "project.qdpx", codebook=codebook, passes=[pass_name])
    return [xdir / "codebook.qdc", xdir / "project.qdpx"]
