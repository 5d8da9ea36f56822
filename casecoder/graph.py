"""Mechanism graphs: per case and across cases (networkx).

Nodes are codes, typed by their codebook layer: ``context``, ``practice`` (sub-codes
of a mechanism), ``mechanism``, ``outcome``, ``problem`` and ``theory`` (the theory
references of the mechanisms). Edges:

* ``causal`` — from the stored links (:mod:`casecoder.links`), each with its evidence
  (source, offsets, quote, connective, polarity, case) and the context in force
  (:func:`link_context`: the case's region, setting, industry, result, its
  present/absent/unknown conditions and the context codes coded in it), which makes
  each link a context-mechanism-outcome record;
* ``realises`` — practice -> its mechanism, evidenced by the practice's codings;
* ``grounded_in`` — mechanism -> theory, from the codebook (evidence type ``codebook``).

The cross-case graph bundles edges: ``case_support`` (distinct cases), ``citations``
(evidence count) and ``context_span`` (regions and settings of the supporting cases).
The evidence multigraph, one edge per citation and each with its context, is kept
beside it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from casecoder.models import Case, Codebook, Link
from casecoder.queries import frame_id
from casecoder.store import Store

LAYERS = ("context", "practice", "mechanism", "outcome", "problem", "theory")


@dataclass
class Evidence:
    """One citation: where a claim stands in the raw text."""

    case: str | None
    source: str
    start_char: int
    end_char: int
    quote: str
    connective: str = ""
    polarity: int = 1
    evidence_type: str = "connective"

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "source": self.source, "start_char": self.start_char,
                "end_char": self.end_char, "quote": self.quote, "connective": self.connective,
                "polarity": self.polarity, "evidence_type": self.evidence_type}


@dataclass
class GraphData:
    """What the graphs are built from: codings per case, links with evidence, cases."""

    codebook: Codebook
    cases: dict[str, Case]
    elements: dict[str, set[str]] = field(default_factory=dict)  # case -> codes present
    code_evidence: dict[tuple[str, str], list[Evidence]] = field(default_factory=dict)
    links: list[tuple[Link, Evidence]] = field(default_factory=list)
    sentences: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # by source name


def node_layer(codebook: Codebook, code: str) -> str:
    """The layer of a code: its own ``layer``, or practice for a mechanism's sub-code."""
    c = codebook.codes.get(code)
    if c is not None and c.layer in LAYERS:
        return c.layer
    if code.startswith("mech."):
        return "mechanism" if code.count(".") == 1 else "practice"
    if code.startswith("ctx."):
        return "context"
    if code.startswith("prob."):
        return "problem"
    if code.startswith("out"):
        return "outcome"
    return "mechanism"


LESSON_SECTIONS = ("问题与教训",)
# a sentence giving advice or a warning (研究建议…, 应该…, 也要…, 研究还提醒/主张…)
# names what should be done, not what the case did: like a lessons section, its
# mechanism codings do not make the mechanism present (提建议, giving suggestions, and
# 上门提醒, reminding people, are things done: not advice)
ADVICE = re.compile(r"(?<!提)建议|应该|应当|也要(?!求)|研究[^。！？]{0,16}(?:提醒|主张)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*$", re.M)


def lesson_spans(text: str) -> list[tuple[int, int]]:
    """Spans of a case file's lesson sections (``## 问题与教训``).

    Those sections hold problems, lessons and the studies' recommendations; a practice
    named there is advice, not something the case did, so mechanism codings inside them
    do not make the mechanism present in the case (problem and context codings count),
    and a causal link stated there (often of a copy that failed elsewhere) is not one of
    the case's links.
    """
    heads = [(m.start(), m.group(1)) for m in _HEADING.finditer(text)]
    out = []
    for i, (pos, title) in enumerate(heads):
        if title in LESSON_SECTIONS:
            end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
            out.append((pos, end))
    return out


def in_spans(pos: int, spans: Iterable[tuple[int, int]]) -> bool:
    """True when ``pos`` lies in one of the half-open ``spans`` (e.g. lesson sections)."""
    return any(a <= pos < b for a, b in spans)


def load(store: Store, pass_name: str, codebook: Codebook) -> GraphData:
    """Gather codings, links and cases of a pass into :class:`GraphData`."""
    from casecoder.links import stored_links

    store.require_pass(pass_name)
    cases = {c.id: c for c in store.cases()}
    srcs = {s.id: s for s in store.sources()}
    lessons = {sid: lesson_spans(s.text) for sid, s in srcs.items() if s.kind == "case"}
    data = GraphData(codebook=codebook, cases=cases)
    for c in store.codings(pass_name):
        src = srcs.get(c.source_id)
        if src is None or src.case_id is None:
            continue
        if c.code.startswith("mech.") and (
                in_spans(c.start_char, lessons.get(c.source_id, ()))
                or ADVICE.search(src.text, c.start_char, c.end_char)):
            continue
        case = src.case_id
        codes = {c.code, frame_id(c.code)}
        data.elements.setdefault(case, set()).update(codes)
        ev = Evidence(case, src.name, c.start_char, c.end_char, src.text[c.start_char:c.end_char],
                      polarity=c.polarity, evidence_type="coding")
        for code in codes:
            data.code_evidence.setdefault((case, code), []).append(ev)
    for lk in stored_links(store, pass_name):
        src = srcs[lk.source_id]
        if in_spans(lk.start_char, lessons.get(lk.source_id, ())):
            continue  # a lesson tells of other places (a copy elsewhere), not of this case
        data.links.append((lk, Evidence(lk.case_id, src.name, lk.start_char, lk.end_char,
                                        src.text[lk.start_char:lk.end_char], lk.connective,
                                        lk.polarity, lk.evidence_type)))
    for case in cases:
        data.elements.setdefault(case, set())
    for seg in store.segments(kind="sentence"):
        data.sentences.setdefault(srcs[seg.source_id].name, []).append(
            (seg.start_char, seg.end_char))
    return data


CONTEXT_ATTRIBUTES = ("region", "setting", "industry")
CONTEXT_FIELDS = (*CONTEXT_ATTRIBUTES, "case_result", "conditions", "context_codes")


def link_context(data: GraphData, case_id: str | None) -> dict[str, Any]:
    """The context in force for the links of a case: what makes a link a CMO record.

    Parameters
    ----------
    data : GraphData
        The gathered cases, codings and links.
    case_id : str or None
        The link's case; ``None`` or an unknown case gives ``unknown`` attributes and
        no conditions.

    Returns
    -------
    dict
        ``region``, ``setting``, ``industry`` (case attributes, ``unknown`` when not
        given), ``case_result`` (``outcome.result``), ``conditions`` (every ``ctx.*``
        condition of the case front matter: ``present``, ``absent`` or ``unknown``) and
        ``context_codes`` (each context-layer code coded in the case: ``present`` when
        every coding states it, ``absent`` when every coding states a lack, as 网络薄弱
        does for ``ctx.infrastructure``, else ``mixed``).
    """
    case = data.cases.get(case_id) if case_id is not None else None
    attrs = case.attributes if case is not None else {}
    out: dict[str, Any] = {k: str(attrs.get(k) or "unknown") for k in CONTEXT_ATTRIBUTES}
    out["case_result"] = str(case.outcome.get("result") or "unknown") if case else "unknown"
    out["conditions"] = dict(sorted(case.conditions.items())) if case else {}
    coded: dict[str, str] = {}
    for code in sorted(data.elements.get(case_id, ())):
        if node_layer(data.codebook, code) != "context":
            continue
        signs = {e.polarity < 0 for e in data.code_evidence.get((case_id, code), ())}
        coded[code] = "mixed" if len(signs) > 1 else "absent" if signs == {True} else "present"
    out["context_codes"] = coded
    return out


class _Contexts:
    """:func:`link_context` once per case, a fresh copy for every link."""

    def __init__(self, data: GraphData) -> None:
        self.data = data
        self.cache: dict[str | None, dict[str, Any]] = {}

    def __call__(self, case_id: str | None) -> dict[str, Any]:
        if case_id not in self.cache:
            self.cache[case_id] = link_context(self.data, case_id)
        return {k: dict(v) if isinstance(v, dict) else v for k, v in self.cache[case_id].items()}


def _add_node(g: Any, codebook: Codebook, code: str) -> None:
    if code in g:
        return
    c = codebook.codes.get(code)
    g.add_node(code, label=c.label if c else code, layer=node_layer(codebook, code),
               gloss=c.gloss if c else "")


def case_graph(data: GraphData, case_id: str) -> Any:
    """The mechanism graph of one case (a ``networkx.DiGraph``)."""
    import networkx as nx

    cb = data.codebook
    g = nx.DiGraph(case=case_id)
    present = sorted(data.elements.get(case_id, set()))
    case = data.cases.get(case_id)
    for code in present:
        _add_node(g, cb, code)
        g.nodes[code]["evidence"] = [e.as_dict() for e in data.code_evidence.get((case_id, code),
                                                                                []) [:5]]
        g.nodes[code]["citations"] = len(data.code_evidence.get((case_id, code), []))
    if case is not None:
        for ctx, state in sorted(case.conditions.items()):
            _add_node(g, cb, ctx)
            g.nodes[ctx]["state"] = state
    context = _Contexts(data)
    for lk, ev in data.links:
        if lk.case_id != case_id:
            continue
        for code in (lk.from_code, lk.to_code):
            _add_node(g, cb, code)
        if g.has_edge(lk.from_code, lk.to_code):
            g.edges[lk.from_code, lk.to_code]["evidence"].append(ev.as_dict())
        else:
            g.add_edge(lk.from_code, lk.to_code, kind="causal", evidence=[ev.as_dict()],
                       **context(case_id))
        edge = g.edges[lk.from_code, lk.to_code]
        edge["citations"] = len(edge["evidence"])
        edge["polarity"] = min(p["polarity"] for p in edge["evidence"])
    _structure_edges(g, cb, present)
    return g


def _structure_edges(g: Any, cb: Codebook, present: list[str]) -> None:
    for code in present:
        layer = node_layer(cb, code)
        if layer == "practice":
            parent = frame_id(code)
            if parent != code and not g.has_edge(code, parent):
                # a causal claim from the practice to its mechanism keeps its edge (a
                # simple graph holds one edge per pair: "realises" would overwrite it)
                _add_node(g, cb, parent)
                g.add_edge(code, parent, kind="realises", evidence_type="coding")
        if layer == "mechanism" and code in cb.codes:
            for theory in cb.codes[code].theory:
                tid = f"theory:{theory}"
                if tid not in g:
                    g.add_node(tid, label=theory, layer="theory", gloss="")
                g.add_edge(code, tid, kind="grounded_in", evidence_type="codebook")


def cross_case_graph(data: GraphData) -> tuple[Any, Any]:
    """The bundled cross-case graph and its evidence multigraph."""
    import networkx as nx

    cb = data.codebook
    g = nx.DiGraph(kind="cross-case")
    multi = nx.MultiDiGraph(kind="evidence")
    support: dict[tuple[str, str], set[str]] = defaultdict(set)
    cites: dict[tuple[str, str], int] = defaultdict(int)
    polarity: dict[tuple[str, str], list[int]] = defaultdict(list)
    context = _Contexts(data)
    for lk, ev in data.links:
        key = (lk.from_code, lk.to_code)
        for code in key:
            _add_node(g, cb, code)
            _add_node(multi, cb, code)
        multi.add_edge(*key, **ev.as_dict(), **context(lk.case_id))
        if lk.case_id:
            support[key].add(lk.case_id)
        cites[key] += 1
        polarity[key].append(lk.polarity)
    for key in sorted(cites):
        cases = sorted(support[key])
        regions = sorted({str(data.cases[c].attributes.get("region", "unknown"))
                          for c in cases if c in data.cases})
        settings = sorted({str(data.cases[c].attributes.get("setting", "unknown"))
                           for c in cases if c in data.cases})
        pos = sum(1 for p in polarity[key] if p > 0)
        g.add_edge(*key, kind="causal", case_support=len(cases), citations=cites[key],
                   cases=cases, context_span={"regions": regions, "settings": settings},
                   positive=pos, negative=cites[key] - pos)
    case_count: dict[str, int] = defaultdict(int)
    for _case, codes in data.elements.items():
        for code in codes:
            case_count[code] += 1
    present = sorted(case_count)
    for code in present:
        _add_node(g, cb, code)
        g.nodes[code]["case_support"] = case_count[code]
    _structure_edges(g, cb, present)
    return g, multi


# -- exports ------------------------------------------------------------------------------

def _flat(g: Any) -> Any:
    """A copy with every attribute a scalar (lists and dicts as JSON), for GraphML/GEXF."""
    h = g.copy()
    for _n, attrs in h.nodes(data=True):
        for k, v in list(attrs.items()):
            if isinstance(v, (list, dict)) or v is None:
                attrs[k] = json.dumps(v, ensure_ascii=False, sort_keys=True)
    for *_e, attrs in h.edges(data=True):
        for k, v in list(attrs.items()):
            if isinstance(v, (list, dict)) or v is None:
                attrs[k] = json.dumps(v, ensure_ascii=False, sort_keys=True)
    for k, v in list(h.graph.items()):
        if isinstance(v, (list, dict)) or v is None:
            h.graph[k] = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return h


def _sorted(g: Any) -> Any:
    import networkx as nx

    h = nx.MultiDiGraph() if g.is_multigraph() else nx.DiGraph()
    h.graph.update(g.graph)
    for n in sorted(g.nodes):
        h.add_node(n, **g.nodes[n])
    if g.is_multigraph():
        for u, v, _k, d in sorted(g.edges(keys=True, data=True),
                                  key=lambda e: (e[0], e[1], json.dumps(e[3], sort_keys=True,
                                                                        ensure_ascii=False))):
            h.add_edge(u, v, **d)
    else:
        for u, v in sorted(g.edges):
            h.add_edge(u, v, **g.edges[u, v])
    return h


def to_graphml(g: Any) -> str:
    import networkx as nx

    return "\n".join(nx.generate_graphml(_flat(_sorted(g)))) + "\n"


def to_gexf(g: Any) -> str:
    import networkx as nx

    return "\n".join(nx.generate_gexf(_flat(_sorted(g)))) + "\n"


def to_cytoscape(g: Any) -> str:
    import networkx as nx

    data = nx.cytoscape_data(_sorted(g))
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def _mid(n: str) -> str:
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in n)


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _edge_label(d: dict[str, Any]) -> str:
    if d.get("kind") == "causal":
        n = d.get("case_support", d.get("citations", 1))
        sign = "−" if d.get("polarity", 1) < 0 or d.get("negative", 0) > d.get("positive", 1) \
            else "+"
        return f"{sign}{n}"
    return str(d.get("kind", ""))


def to_mermaid(g: Any) -> str:
    lines = ["flowchart LR"]
    for n in sorted(g.nodes):
        d = g.nodes[n]
        label = f"{d.get('label', n)}<br/>{n}" if not n.startswith("theory:") else d["label"]
        lines.append(f'  {_mid(n)}["{label}"]:::{d.get("layer", "mechanism")}')
    for u, v in sorted(g.edges):
        d = g.edges[u, v]
        arrow = "-.->" if d.get("kind") != "causal" else "-->"
        lines.append(f"  {_mid(u)} {arrow}|{_edge_label(d)}| {_mid(v)}")
    for layer, color in (("context", "#e8f1fb"), ("practice", "#fdf3e1"),
                         ("mechanism", "#e6f4ea"), ("outcome", "#fde8e8"),
                         ("problem", "#eeeeee"), ("theory", "#f1e8fb")):
        lines.append(f"  classDef {layer} fill:{color}")
    return "\n".join(lines) + "\n"


def to_dot(g: Any) -> str:
    lines = ["digraph mechanisms {", "  rankdir=LR;",
             '  node [shape=box, fontname="Noto Sans CJK SC"];']
    for n in sorted(g.nodes):
        d = g.nodes[n]
        lines.append(f'  "{_esc(n)}" [label="{_esc(str(d.get("label", n)))}\\n{_esc(n)}", '
                     f'layer="{d.get("layer", "")}"];')
    for u, v in sorted(g.edges):
        d = g.edges[u, v]
        style = "solid" if d.get("kind") == "causal" else "dashed"
        lines.append(f'  "{_esc(u)}" -> "{_esc(v)}" [label="{_esc(_edge_label(d))}", '
                     f"style={style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


LINK_COLUMNS = ("from_label", "to_label", "quote", "source", "case", "from_code", "to_code",
                "polarity", "start_char", "end_char", "connective", "evidence_type",
                *CONTEXT_FIELDS)


def link_rows(data: GraphData) -> list[dict[str, Any]]:
    """Links as CMO records, in Causal Map's column layout (from_label, to_label, quote,
    source, …) followed by the context in force (:func:`link_context`; ``conditions``
    and ``context_codes`` are objects, written as JSON in a CSV cell)."""
    cb = data.codebook
    context = _Contexts(data)

    def label(code: str) -> str:
        c = cb.codes.get(code)
        return c.label if c else code

    return [{"from_label": label(lk.from_code), "to_label": label(lk.to_code),
             "quote": ev.quote, "source": ev.source, "case": lk.case_id,
             "from_code": lk.from_code, "to_code": lk.to_code, "polarity": lk.polarity,
             "start_char": lk.start_char, "end_char": lk.end_char,
             "connective": lk.connective, "evidence_type": lk.evidence_type,
             **context(lk.case_id)}
            for lk, ev in data.links]


def evidence_of_case(multi: Any, case_id: str) -> Any:
    """The evidence multigraph restricted to the links of one case."""
    import networkx as nx

    out = nx.MultiDiGraph(**multi.graph, case=case_id)
    for u, v, k, d in multi.edges(keys=True, data=True):
        if d.get("case") == case_id:
            for n in (u, v):
                out.add_node(n, **multi.nodes[n])
            out.add_edge(u, v, key=k, **d)
    return out


def render_text(g: Any, limit: int = 40) -> str:
    """A terminal view: nodes by layer, then the strongest edges."""
    out = []
    for layer in LAYERS:
        nodes = sorted(n for n, d in g.nodes(data=True) if d.get("layer") == layer)
        if not nodes:
            continue
        out.append(f"[{layer}]")
        for n in nodes:
            d = g.nodes[n]
            extra = f" cases={d['case_support']}" if "case_support" in d else ""
            extra += f" state={d['state']}" if "state" in d else ""
            out.append(f"  {n}  {d.get('label', '')}{extra}")
    edges = sorted(((u, v, d) for u, v, d in g.edges(data=True) if d.get("kind") == "causal"),
                   key=lambda e: (-e[2].get("case_support", e[2].get("citations", 0)), e[0], e[1]))
    if edges:
        out.append("[causal links]")
        for u, v, d in edges[:limit]:
            out.append(f"  {u} --{_edge_label(d)}--> {v}  citations={d.get('citations', 0)}")
        if len(edges) > limit:
            out.append(f"  … {len(edges) - limit} more of {len(edges)} causal links (the "
                       "strongest shown; `casecoder graph export` writes them all)")
    return "\n".join(out) + "\n"


@dataclass
class Analysis:
    """Everything the graph stage computes for a pass."""

    data: GraphData
    records: list[Any]
    flags: list[Any]
    cross: Any
    evidence: Any
    thresholds: Any


def analyse(store: Store, pass_name: str, codebook: Codebook, thresholds: Any = None,
            extract_links: bool = True) -> Analysis:
    """Links (re-extracted unless told not to), graphs and flags of a pass."""
    from casecoder import links as links_mod
    from casecoder.flags import Thresholds

    th = (thresholds or Thresholds()).validate()
    if extract_links:
        links_mod.extract(store, pass_name)
    data = load(store, pass_name, codebook)
    return analysis_from_data(data, th)


def analysis_from_data(data: GraphData, th: Any) -> Analysis:
    """Graphs and flags from gathered data (no store needed)."""
    from casecoder.flags import CaseRecord, element_flags

    records = [CaseRecord.from_case(case, element_set(data, cid))
               for cid, case in sorted(data.cases.items())]
    flags = element_flags(records, th)
    cross, multi = cross_case_graph(data)
    for f in flags:
        if f.element in cross:
            cross.nodes[f.element]["flag"] = f.flag
    return Analysis(data=data, records=records, flags=flags, cross=cross, evidence=multi,
                    thresholds=th)


def element_set(data: GraphData, case_id: str) -> set[str]:
    """The flaggable elements of a case: mechanisms and their practices."""
    return {e for e in data.elements.get(case_id, set()) if e.startswith("mech.")}
