"""Links, graphs and exports on a small corpus coded with the mini codebook."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx
import pytest
from conftest import invoke

from casecoder.codebook import load_codebook
from casecoder.coding import code
from casecoder.graph import (
    CONTEXT_FIELDS,
    LINK_COLUMNS,
    analyse,
    case_graph,
    link_context,
    link_rows,
    to_cytoscape,
    to_dot,
    to_gexf,
    to_graphml,
    to_mermaid,
)
from casecoder.ingest import ingest
from casecoder.links import stored_links
from casecoder.store import Store

MINI = Path(__file__).parent / "data" / "mini_codebook.yaml"

CASE_A = """---
id: A1
title: 甲地数字调解
region: 长三角
setting: rural
conditions:
  ctx.infrastructure: present
outcome:
  result: success
---
## 主要做法
通过大数据平台实现纠纷智能调解。
由于网络薄弱，平台使用率不足15%。
群众积极参与调解。
因此满意度明显提高。
"""

CASE_B = """---
id: B1
title: 乙地轻量化
region: 中西部
setting: urban_community
conditions:
  ctx.infrastructure: absent
outcome:
  result: success
---
## 主要做法
通过短信推送带动志愿者参与调解。
"""


@pytest.fixture
def analysed(tmp_path, project):
    for name, text in (("a.md", CASE_A), ("b.md", CASE_B)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    with Store(project) as store:
        ingest(store, [tmp_path / "a.md", tmp_path / "b.md"])
        cb = load_codebook(MINI)
        code(store, cb)
        a = analyse(store, "rules", cb)
        links = stored_links(store, "rules")
        texts = {s.id: s.text for s in store.sources()}
    return project, a, links, texts


def test_links_from_connectives(analysed):
    _p, a, links, texts = analysed
    pairs = {(lk.from_code, lk.to_code, lk.polarity, lk.evidence_type) for lk in links}
    assert ("mech.digital", "mech.mediation", 1, "connective") in pairs
    # 由于 [lack], … : the cause is a stated lack -> negative
    assert ("ctx.infrastructure", "mech.digital", -1, "connective") in pairs
    # 因此 opening the next sentence links the sentence before
    assert ("mech.participation", "out", 1, "adjacent") in pairs
    assert ("mech.digital.lightweight", "mech.participation", 1, "connective") in pairs
    for lk in links:
        assert 0 <= lk.start_char < lk.end_char <= len(texts[lk.source_id])
        assert lk.case_id in ("A1", "B1")


def test_case_graph_layers_and_evidence(analysed):
    _p, a, _links, _texts = analysed
    g = case_graph(a.data, "A1")
    assert g.nodes["mech.digital"]["layer"] == "mechanism"
    assert g.nodes["ctx.infrastructure"]["layer"] == "context"
    assert g.nodes["ctx.infrastructure"]["state"] == "present"
    assert g.nodes["out"]["layer"] == "outcome"
    e = g.edges["mech.digital", "mech.mediation"]
    assert e["kind"] == "causal" and e["evidence"][0]["quote"] == "通过大数据平台实现纠纷智能调解。"
    assert g.edges["mech.digital", "theory:数字治理"]["kind"] == "grounded_in"
    gb = case_graph(a.data, "B1")
    assert gb.edges["mech.digital.lightweight", "mech.digital"]["kind"] == "realises"


def test_cross_case_bundles(analysed):
    _p, a, _links, _texts = analysed
    e = a.cross.edges["mech.digital.lightweight", "mech.participation"]
    assert e["case_support"] == 1 and e["cases"] == ["B1"]
    assert e["context_span"] == {"regions": ["中西部"], "settings": ["urban_community"]}
    assert a.cross.nodes["mech.mediation"]["case_support"] == 2
    assert a.evidence.number_of_edges() == len(a.data.links)


A1_CONTEXT = {"region": "长三角", "setting": "rural", "industry": "unknown",
              "case_result": "success", "conditions": {"ctx.infrastructure": "present"},
              # the case says present; its text states a lack (由于网络薄弱, polarity -1)
              "context_codes": {"ctx.infrastructure": "absent"}}
B1_CONTEXT = {"region": "中西部", "setting": "urban_community", "industry": "unknown",
              "case_result": "success", "conditions": {"ctx.infrastructure": "absent"},
              "context_codes": {}}


def test_links_carry_their_context(analysed, tmp_path):
    _p, a, _links, _texts = analysed
    assert link_context(a.data, "A1") == A1_CONTEXT
    assert link_context(a.data, "B1") == B1_CONTEXT
    expected = {"A1": A1_CONTEXT, "B1": B1_CONTEXT}
    # the links CSV rows (CMO records)
    rows = link_rows(a.data)
    assert len(rows) == len(a.data.links) >= 4
    for r in rows:
        assert {k: r[k] for k in CONTEXT_FIELDS} == expected[r["case"]]
    row = next(r for r in rows if (r["from_code"], r["to_code"]) == ("ctx.infrastructure",
                                                                     "mech.digital"))
    assert row["case"] == "A1" and row["polarity"] == -1 and row["connective"] == "由于"
    # every edge of the evidence multigraph, also after a GraphML round trip
    for _u, _v, d in a.evidence.edges(data=True):
        assert {k: d[k] for k in CONTEXT_FIELDS} == expected[d["case"]]
    p = tmp_path / "evidence.graphml"
    p.write_text(to_graphml(a.evidence), encoding="utf-8")
    for _u, _v, d in nx.read_graphml(p).edges(data=True):
        assert json.loads(d["conditions"]) == expected[d["case"]]["conditions"]
        assert json.loads(d["context_codes"]) == expected[d["case"]]["context_codes"]
        assert d["region"] == expected[d["case"]]["region"]
    # the per-case graph's causal edges
    e = case_graph(a.data, "B1").edges["mech.digital.lightweight", "mech.participation"]
    assert {k: e[k] for k in CONTEXT_FIELDS} == B1_CONTEXT
    # a link whose case is not known has unknown attributes and no conditions
    assert link_context(a.data, None) == {
        "region": "unknown", "setting": "unknown", "industry": "unknown",
        "case_result": "unknown", "conditions": {}, "context_codes": {}}


@pytest.mark.parametrize("fn", [to_graphml, to_gexf, to_cytoscape, to_mermaid, to_dot])
def test_exports_deterministic_and_readable(analysed, fn, tmp_path):
    _p, a, _links, _texts = analysed
    first = fn(a.cross)
    assert first == fn(a.cross)
    if fn is to_graphml:
        p = tmp_path / "g.graphml"
        p.write_text(first, encoding="utf-8")
        g = nx.read_graphml(p)
        assert set(g.nodes) == set(a.cross.nodes)
        assert json.loads(g.edges["mech.digital", "mech.mediation"]["cases"]) == ["A1"]
    if fn is to_gexf:
        p = tmp_path / "g.gexf"
        p.write_text(first, encoding="utf-8")
        assert set(nx.read_gexf(p).nodes) == set(a.cross.nodes)
    if fn is to_cytoscape:
        data = json.loads(first)
        assert len(data["elements"]["nodes"]) == a.cross.number_of_nodes()


def test_graph_cli(analysed, runner, tmp_path):
    project, _a, _links, _texts = analysed
    r = invoke(runner, "graph", "build", "--project", project, "--codebook", MINI, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["links"] >= 4
    r = invoke(runner, "graph", "show", "--project", project, "--codebook", MINI, "--case", "A1")
    assert r.exit_code == 0 and "[mechanism]" in r.output and "mech.digital" in r.output
    for fmt, name in (("links-csv", "links.csv"), ("mermaid", "g.mmd"), ("svg", "g.svg"),
                      ("png", "g.png")):
        out = tmp_path / name
        r = invoke(runner, "graph", "export", "--project", project, "--codebook", MINI,
                   "--format", fmt, "--out", out)
        assert r.exit_code == 0, r.output
        assert out.stat().st_size > 0
    header = (tmp_path / "links.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("from_label,to_label,quote,source")
    assert header == ",".join(LINK_COLUMNS) and header.endswith(",".join(CONTEXT_FIELDS))
    with (tmp_path / "links.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(json.loads(r["conditions"]) == {"ctx.infrastructure": "present"}
                        and r["region"] == "长三角" for r in rows if r["case"] == "A1")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = invoke(runner, "graph", "export", "--project", project, "--codebook", MINI,
               "--format", "pdf", "--out", tmp_path / "x")
    assert r.exit_code == 1 and "[CC406]" in r.output
    r = invoke(runner, "graph", "show", "--project", project, "--codebook", MINI, "--case", "ZZ")
    assert r.exit_code == 1 and "[CC502]" in r.output
    r = invoke(runner, "graph", "flags", "--project", project, "--codebook", MINI, "--json",
               "--min-support", "1", "--min-regions", "1", "--min-settings", "1")
    flags = {f["element"]: f for f in json.loads(r.output)["flags"]}
    assert flags["mech.mediation"]["flag"] == "transferable core"
    r = invoke(runner, "graph", "flags", "--project", project, "--codebook", MINI,
               "--necessity", "2")
    assert r.exit_code == 1 and "[CC405]" in r.output
    r = invoke(runner, "graph", "sensitivity", "--project", project, "--codebook", MINI,
               "--json")
    sweep = json.loads(r.output)
    assert r.exit_code == 0 and sweep["settings"] == 6 * 4 * 3 * 3
    assert sweep["grid"]["necessity"] == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    r = invoke(runner, "graph", "sensitivity", "--project", project, "--codebook", MINI,
               "--json", "--grid", "necessity=0.9,0.5", "--grid", "min_support=1",
               "--grid", "min_regions=1", "--grid", "min-settings=1")
    sweep = json.loads(r.output)
    assert sweep["settings"] == 2 * 3 and sweep["grid"]["necessity"] == [0.5, 0.9]
    assert sweep["core_share"]["mech.mediation"] == 1.0
    assert sweep["core_max_necessity"]["mech.mediation"] == 0.9
    r = invoke(runner, "graph", "sensitivity", "--project", project, "--codebook", MINI,
               "--grid", "min_support=1")
    assert r.exit_code == 0 and "max necessity" in r.output
    for bad, err in (("nonsense=1", "CC008"), ("min_support=a", "CC008"),
                     ("necessity", "CC008"), ("necessity=1.5", "CC405")):
        r = invoke(runner, "graph", "sensitivity", "--project", project, "--codebook", MINI,
                   "--grid", bad)
        assert r.exit_code == 1 and f"[{err}]" in r.output, (bad, r.output)


def test_graph_on_empty_pass(project, runner):
    r = invoke(runner, "graph", "build", "--project", project, "--codebook", MINI)
    assert r.exit_code == 1 and "[CC401]" in r.output


def test_adapt_cli_and_profile_errors(analysed, runner, tmp_path):
    project, _a, _links, _texts = analysed
    prof = tmp_path / "p.yaml"
    prof.write_text("region: 中西部\nsetting: rural\nconditions:\n  ctx.infrastructure: absent\n",
                    encoding="utf-8")
    r = invoke(runner, "adapt", "--project", project, "--codebook", MINI, "--target", prof,
               "--json")
    assert r.exit_code == 0, r.output
    assert isinstance(json.loads(r.output), list)
    prof.write_text("region: 中西部\nsetting: moon\n", encoding="utf-8")
    r = invoke(runner, "adapt", "--project", project, "--codebook", MINI, "--target", prof)
    assert r.exit_code == 1 and "[CC404]" in r.output and "line 2" in r.output
    prof.write_text("region: [x\n", encoding="utf-8")
    r = invoke(runner, "adapt", "--project", project, "--codebook", MINI, "--target", prof)
    assert r.exit_code == 1 and "[CC404]" in r.output


def test_links_stated_in_a_lessons_section_are_not_the_cases_links(tmp_path, project):
    lesson = CASE_A.replace("## 主要做法\n", "## 主要做法\n群众积极参与调解。\n## 问题与教训\n", 1)
    (tmp_path / "a.md").write_text(lesson, encoding="utf-8")
    with Store(project) as store:
        ingest(store, [tmp_path / "a.md"])
        cb = load_codebook(MINI)
        code(store, cb)
        a = analyse(store, "rules", cb)
        text = store.sources()[0].text
        stored = stored_links(store, "rules")
    start = text.index("## 问题与教训")
    assert any(lk.start_char > start for lk in stored)  # the links are found and stored
    assert all(lk.start_char < start for lk, _ev in a.data.links)
    assert len(a.data.links) < len(stored)


def test_a_causal_claim_from_a_practice_to_its_mechanism_keeps_its_edge():
    from casecoder.graph import Evidence, GraphData, cross_case_graph
    from casecoder.models import Case, Link

    cb = load_codebook(MINI)
    practice = next(c for c in sorted(cb.codes) if c.count(".") == 2)
    parent = practice.rsplit(".", 1)[0]
    data = GraphData(codebook=cb, cases={"A1": Case(
        id="A1", title="甲", attributes={"region": "长三角", "setting": "rural"},
        conditions={}, outcome={"result": "success"}, transfers=[])})
    data.elements["A1"] = {practice, parent}
    data.links.append((Link(1, practice, parent, 1, 0, 9, "推动", "connective", "A1"),
                       Evidence("A1", "a.md", 0, 9, "……", "推动")))
    for g in (case_graph(data, "A1"), cross_case_graph(data)[0]):
        assert g.edges[practice, parent]["kind"] == "causal"


def test_evidence_export_of_one_case_and_unknown_case(analysed, runner, tmp_path):
    project, a, _links, _texts = analysed
    out = tmp_path / "e.graphml"
    r = invoke(runner, "graph", "export", "--project", project, "--codebook", MINI,
               "--format", "evidence-graphml", "--case", "B1", "--out", out)
    assert r.exit_code == 0, r.output
    g = nx.read_graphml(out)
    assert g.number_of_edges() == sum(lk.case_id == "B1" for lk, _ev in a.data.links) > 0
    assert {d["case"] for *_e, d in g.edges(data=True)} == {"B1"}
    r = invoke(runner, "graph", "export", "--project", project, "--codebook", MINI,
               "--format", "evidence-graphml", "--case", "Z9", "--out", tmp_path / "z.graphml")
    assert r.exit_code == 1 and "[CC502]" in r.output
    assert not (tmp_path / "z.graphml").exists()


def test_advice_does_not_make_a_mechanism_present(tmp_path, project):
    advice = CASE_B.replace("通过短信推送带动志愿者参与调解。",
                            "研究建议通过短信推送带动志愿者参与调解。")
    (tmp_path / "b.md").write_text(advice, encoding="utf-8")
    (tmp_path / "c.md").write_text(CASE_B.replace("id: B1", "id: C1"), encoding="utf-8")
    with Store(project) as store:
        ingest(store, [tmp_path / "b.md", tmp_path / "c.md"])
        cb = load_codebook(MINI)
        code(store, cb)
        coded = {(s.case_id, c.code) for c in store.codings("rules")
                 for s in store.sources() if s.id == c.source_id}
        a = analyse(store, "rules", cb)
    # the same mechanisms are coded in both texts, and present in the plain one only
    assert {m for case, m in coded if case == "B1"} == {m for case, m in coded if case == "C1"}
    assert any(e.startswith("mech.") for e in a.data.elements["C1"])
    assert not any(e.startswith("mech.") for e in a.data.elements["B1"])


@pytest.mark.parametrize("sentence, advice", [
    ("研究建议通过协会吸收退休干部参与调解。", True),
    ("应该把一部分考评的权利交给群众。", True),
    ("村干部也要提升用微信收集需求的能力。", True),
    ("研究在论述需求识别时也主张按行业分类梳理需求。", True),
    ("研究还提醒，条线部门把资源前置可能管得太宽。", True),
    ("居民提建议也更有依据。", False),  # giving suggestions is something done
    ("网格员上门提醒老人防范诈骗。", False),  # so is reminding people
    ("街道也要求各社区建立需求台账。", False),
])
def test_what_counts_as_a_sentence_of_advice(sentence, advice):
    from casecoder.graph import ADVICE

    assert bool(ADVICE.search(sentence)) is advice
