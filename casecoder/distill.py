"""Distill: policy summaries, teaching cases and teaching notes from an analysis.

Every sentence that states a finding carries a :class:`~casecoder.document.Cite` to the
stored text it rests on (a coded passage, a link's sentence, a metric's sentence, or
the front-matter line of a case file that records a condition or an outcome). Every
figure is computed from the store (counts, k/n, metric values), never typed in.
Method notes (codebook, hash, thresholds) and teaching prompts state no findings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from casecoder.document import Cite, Document, Inline
from casecoder.errors import CasecoderError
from casecoder.flags import BLOCKING, sensitivity
from casecoder.graph import Analysis, Evidence, case_graph, node_layer
from casecoder.models import CONTEXT_IDS, Source
from casecoder.queries import frame_id

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "summary": "政策摘要", "cross": "跨案例政策摘要", "key": "核心信息",
        "context": "情境概况", "practice": "主要做法", "how": "作用机制（机制链）",
        "why": "理论依据", "results": "成效", "conditions": "适用条件",
        "transfer": "可迁移性", "risks": "风险与失败模式", "notes": "实施要点",
        "method": "方法说明", "sources": "来源与引文", "attribute": "属性", "value": "取值",
        "evidence": "证据", "condition": "条件", "state": "状态", "indicator": "指标",
        "before": "基线", "after": "结果", "change": "变化", "unit": "单位",
        "direction": "方向", "element": "要素", "flag": "判定", "advice": "迁移建议",
        "support": "成功案例支持", "regions": "区域", "settings": "场景",
        "industries": "行业", "budgets": "资源水平", "case": "案例", "result": "结果",
        "present": "具备", "absent": "缺乏", "unknown": "未知",
        "transferable core": "可迁移内核", "conditional core": "条件性内核",
        "peripheral": "外围做法", "copy": "可复制", "adapt": "需适配", "inspire": "可借鉴",
        "teaching_case": "教学案例", "teaching_note": "教学笔记",
        "purpose": "教学目的与用途", "questions": "启发思考题", "approach": "分析思路",
        "theory": "理论依据与分析", "points": "关键要点", "plan": "建议课堂计划",
        "annex": "附件：机制图", "decision": "决策点", "background": "背景",
        "comparison": "跨案例比较表（课程用）", "mechanisms": "机制", "key_figure": "关键数据",
    },
    "en": {
        "summary": "Policy summary", "cross": "Cross-case policy summary",
        "key": "Key messages", "context": "Context profile", "practice": "What was done",
        "how": "How it works (mechanism chain)", "why": "Why it works (theory)",
        "results": "Results", "conditions": "Conditions for use (preconditions)",
        "transfer": "Transferability", "risks": "Risks and failure modes",
        "notes": "Implementation notes", "method": "Method note",
        "sources": "Sources and quotes", "attribute": "Attribute", "value": "Value",
        "evidence": "Evidence", "condition": "Condition", "state": "State",
        "indicator": "Indicator", "before": "Before", "after": "After", "change": "Change",
        "unit": "Unit", "direction": "Direction", "element": "Element", "flag": "Flag",
        "advice": "Transfer advice", "support": "Successful cases", "regions": "Regions",
        "settings": "Settings", "industries": "Industries", "budgets": "Resource levels",
        "case": "Case", "result": "Result", "present": "present", "absent": "absent",
        "unknown": "unknown", "transferable core": "transferable core",
        "conditional core": "conditional core", "peripheral": "peripheral", "copy": "copy",
        "adapt": "adapt", "inspire": "take inspiration", "teaching_case": "Teaching case",
        "teaching_note": "Teaching note", "purpose": "Teaching purpose and use",
        "questions": "Discussion questions", "approach": "Analytical approach",
        "theory": "Theory and analysis", "points": "Key points",
        "plan": "Suggested class plan", "annex": "Annex: mechanism diagram",
        "decision": "Decision point", "background": "Background",
        "comparison": "Cross-case comparison table (for a course)",
        "mechanisms": "Mechanisms", "key_figure": "Key figure",
    },
}
ADVICE_OF_FLAG = {"transferable core": "copy", "conditional core": "adapt",
                  "peripheral": "inspire"}


@dataclass
class Context:
    """What the writers read: the analysis, the sources and the language."""

    analysis: Analysis
    sources: dict[str, Source]  # by name
    case_sources: dict[str, list[Source]]  # case id -> its sources (case file first)
    metrics: list[dict[str, Any]]
    lang: str
    pass_name: str

    def t(self, key: str) -> str:
        return TEXT[self.lang].get(key, key)

    def label(self, code: str) -> str:
        c = self.analysis.data.codebook.codes.get(code)
        if c is None:
            return code.removeprefix("theory:")
        if self.lang == "en" and c.gloss:
            return f"{c.gloss} ({code})"
        return f"{c.label}（{code}）"

    def cite(self, ev: Evidence) -> Cite:
        return Cite(ev.source, ev.start_char, ev.end_char, ev.quote, ev.case)


def make_context(store: Any, analysis: Analysis, pass_name: str, lang: str = "zh") -> Context:
    """Gather what the writers need from the store."""
    from casecoder.exporting import metric_records

    if lang not in TEXT:
        raise CasecoderError("CC504", lang=lang)
    sources = {s.name: s for s in store.sources()}
    by_case: dict[str, list[Source]] = defaultdict(list)
    for s in sorted(sources.values(), key=lambda s: (s.kind != "case", s.name)):
        if s.case_id:
            by_case[s.case_id].append(s)
    from casecoder.graph import lesson_spans

    lessons = {name: lesson_spans(s.text) for name, s in sources.items() if s.kind == "case"}
    metrics = []
    seen: set[tuple[Any, ...]] = set()
    for m in metric_records(store, pass_name):
        # figures in a case file's lessons section describe other places (see graph.py)
        if any(a <= m["start_char"] < b for a, b in lessons.get(m["source"], ())):
            continue
        key = (m["case"], m["indicator"], m["before"], m["after"], m["change"], m["unit"])
        if key in seen:  # the same figure restated in an interview of the same case
            continue
        seen.add(key)
        metrics.append(m)
    return Context(analysis=analysis, sources=sources, case_sources=dict(by_case),
                   metrics=metrics, lang=lang, pass_name=pass_name)


# -- evidence helpers ------------------------------------------------------------------------

def front_matter_cite(ctx: Context, case_id: str, key: str) -> Cite | None:
    """The line of a case file's front matter that records ``key`` (e.g. ``ctx.funding``)."""
    srcs = ctx.case_sources.get(case_id, [])
    if not srcs or srcs[0].kind != "case":
        return None
    src = srcs[0]
    head = src.text[:src.body_start]
    m = re.search(rf"^[ \t]*{re.escape(key)}:.*$", head, re.M)
    if m is None:
        return None
    a, b = m.start(), m.end()
    while a < b and src.text[a] in " \t":
        a += 1
    return Cite(src.name, a, b, src.text[a:b], case_id)


def evidence_of(ctx: Context, case_id: str, code: str) -> list[Evidence]:
    return ctx.analysis.data.code_evidence.get((case_id, code), [])


def first_cite(ctx: Context, case_id: str, code: str) -> Cite | None:
    ev = evidence_of(ctx, case_id, code)
    return ctx.cite(ev[0]) if ev else None


def _cites(*cs: Cite | None) -> list[Inline]:
    return [c for c in cs if c is not None]


def _flags(ctx: Context) -> dict[str, Any]:
    return {f.element: f for f in ctx.analysis.flags}


def _cond_label(ctx: Context, cond: str) -> str:
    return ctx.label(cond)


# -- policy summaries -------------------------------------------------------------------------

def case_summary(ctx: Context, case_id: str) -> Document:
    """The policy summary of one case."""
    a = ctx.analysis
    if case_id not in a.data.cases:
        raise CasecoderError("CC502", case_id=case_id, known=", ".join(sorted(a.data.cases)))
    case = a.data.cases[case_id]
    flags = _flags(ctx)
    t = ctx.t
    doc = Document(title=f"{case.title}：{t('summary')}" if ctx.lang == "zh"
                   else f"{t('summary')}: {case.title} ({case_id})", lang=ctx.lang,
                   sources_heading=t("sources"))
    elements = sorted(a.data.elements.get(case_id, set()))
    mechs = sorted((e for e in elements if node_layer(a.data.codebook, e) == "mechanism"
                    and e.startswith("mech.")),
                   key=lambda e: (-len(evidence_of(ctx, case_id, e)), e))
    if not elements:
        raise CasecoderError("CC506", name=ctx.pass_name, case_id=case_id)

    # key messages
    doc.h(1, t("key"))
    items: list[list[Inline]] = []
    for m in mechs[:3]:
        f = flags.get(m)
        n = len(evidence_of(ctx, case_id, m))
        if ctx.lang == "zh":
            s = (f"{ctx.label(m)}在本案例中有{n}处编码证据；跨案例判定为“{t(f.flag)}”，"
                 f"见于{f.support}/{f.successes}个成功案例。" if f else
                 f"{ctx.label(m)}在本案例中有{n}处编码证据。")
        else:
            s = (f"{ctx.label(m)} is coded in {n} passages here; across cases it is a "
                 f"{f.flag}, present in {f.support}/{f.successes} successful cases. " if f else
                 f"{ctx.label(m)} is coded in {n} passages here. ")
        items.append([s, *_cites(first_cite(ctx, case_id, m))])
    case_metrics = [m for m in ctx.metrics if m["case"] == case_id]
    for m in case_metrics[:2]:
        items.append([_metric_sentence(ctx, m), _metric_cite(ctx, m)])
    result_cite = front_matter_cite(ctx, case_id, "result")
    items.append([(f"研究报告的结果为“{case.outcome.get('result', 'unknown')}”。"
                   if ctx.lang == "zh" else
                   f"The studies report the result as {case.outcome.get('result')}. "),
                  *_cites(result_cite)])
    doc.ul(items)

    # context profile
    doc.h(1, t("context"))
    rows: list[list[Any]] = []
    for key in ("region", "province", "city", "setting", "industry", "period", "budget"):
        if key in case.attributes:
            rows.append([key, str(case.attributes[key]),
                         _cites(front_matter_cite(ctx, case_id, key))])
    for cond in CONTEXT_IDS:
        state = case.conditions.get(cond, "unknown")
        rows.append([_cond_label(ctx, cond), t(state),
                     _cites(front_matter_cite(ctx, case_id, cond),
                            first_cite(ctx, case_id, cond))])
    doc.table([t("attribute"), t("value"), t("evidence")], rows)

    # practice
    doc.h(1, t("practice"))
    practices = [e for e in elements if node_layer(a.data.codebook, e) == "practice"]
    items = []
    for p in practices[:10]:
        c = first_cite(ctx, case_id, p)
        if c is not None:
            items.append([f"{ctx.label(p)}：“{_excerpt(c.quote)}”" if ctx.lang == "zh"
                          else f"{ctx.label(p)}: “{_excerpt(c.quote)}”", c])
    doc.ul(items)

    # how it works
    doc.h(1, t("how"))
    doc.ul(_link_items(ctx, case_id))

    # why
    doc.h(1, t("why"))
    doc.ul(_theory_items(ctx, case_id, mechs))

    # results
    doc.h(1, t("results"))
    doc.table([t("indicator"), t("before"), t("after"), t("change"), t("unit"), t("direction"),
               t("evidence")], [_metric_row(m, ctx) for m in case_metrics])
    if not case_metrics:
        doc.p("本案例文本中没有可提取的量化成效。" if ctx.lang == "zh"
              else "No quantified result could be extracted from this case's text.")

    # conditions
    doc.h(1, t("conditions"))
    _ul_or_note(ctx, doc, _precondition_items(ctx, [m for m in mechs if m in flags]),
                "conditions")

    # transferability
    doc.h(1, t("transfer"))
    trows = []
    for e in sorted(mechs + practices):
        f = flags.get(e)
        if f is None:
            continue
        trows.append([ctx.label(e), t(f.flag), t(ADVICE_OF_FLAG[f.flag]),
                      f"{f.support}/{f.successes}", "、".join(f.regions) or "-",
                      "、".join(f.settings) or "-", _cites(first_cite(ctx, case_id, e))])
    doc.table([t("element"), t("flag"), t("advice"), t("support"), t("regions"),
               t("settings"), t("evidence")], trows)

    # risks
    doc.h(1, t("risks"))
    doc.ul(_risk_items(ctx, case_id, set(mechs)))

    # implementation notes
    doc.h(1, t("notes"))
    _ul_or_note(ctx, doc, _implementation_items(ctx, [m for m in mechs if m in flags]),
                "notes")

    _method(ctx, doc)
    return doc


def cross_case_summary(ctx: Context) -> Document:
    """The policy summary across all cases."""
    a = ctx.analysis
    t = ctx.t
    flags = _flags(ctx)
    doc = Document(title=t("cross"), lang=ctx.lang, sources_heading=t("sources"))
    cores = [f for f in a.flags if f.flag == "transferable core"]
    conditional = [f for f in a.flags if f.flag == "conditional core"]
    doc.h(1, t("key"))
    items: list[list[Inline]] = []
    for f in cores + conditional[:3]:
        cites = [first_cite(ctx, c, f.element) for c in f.success_cases[:2]]
        if ctx.lang == "zh":
            s = (f"{ctx.label(f.element)}为“{t(f.flag)}”：见于{f.support}/{f.successes}个成功案例，"
                 f"覆盖{len(f.regions)}个区域、{len(f.settings)}类场景（必要性一致度"
                 f"{f.necessity:.2f}，必要性相关度{f.relevance:.2f}）。")
        else:
            s = (f"{ctx.label(f.element)} is a {f.flag}: present in {f.support}/{f.successes} "
                 f"successful cases across {len(f.regions)} regions and {len(f.settings)} "
                 f"settings (necessity consistency {f.necessity:.2f}, relevance "
                 f"{f.relevance:.2f}). ")
        items.append([s, *_cites(*cites)])
    for f in cores + conditional:
        for p in f.preconditions:
            if p.status in BLOCKING:
                items.append(_precondition_sentence(ctx, f, p))
    doc.ul(items)

    doc.h(1, t("context"))
    rows = []
    for cond in CONTEXT_IDS:
        states: dict[str, list[str]] = defaultdict(list)
        for cid, case in sorted(a.data.cases.items()):
            states[case.conditions.get(cond, "unknown")].append(cid)
        cites = [front_matter_cite(ctx, cid, cond) for cid in states.get("absent", [])[:3]
                 + states.get("present", [])[:2]]
        rows.append([_cond_label(ctx, cond),
                     f"{t('present')} {len(states['present'])} · {t('absent')} "
                     f"{len(states['absent'])} · {t('unknown')} {len(states['unknown'])}",
                     "、".join(states["absent"]) or "-", _cites(*cites)])
    doc.table([t("condition"), t("state"), t("absent"), t("evidence")], rows)

    doc.h(1, t("practice"))
    practice_flags = sorted((f for f in a.flags if node_layer(a.data.codebook, f.element)
                             == "practice" and f.support > 0),
                            key=lambda f: (-f.support, f.element))
    doc.ul([[f"{ctx.label(f.element)}：{f.support}个成功案例（{'、'.join(f.success_cases)}）。"
             if ctx.lang == "zh" else
             f"{ctx.label(f.element)}: {f.support} successful cases "
             f"({', '.join(f.success_cases)}). ",
             *_cites(*(first_cite(ctx, c, f.element) for c in f.success_cases[:2]))]
            for f in practice_flags[:12]])

    doc.h(1, t("how"))
    doc.ul(_link_items(ctx, None))
    doc.h(1, t("why"))
    mechs = sorted({f.element for f in a.flags if node_layer(a.data.codebook, f.element)
                    == "mechanism"})
    doc.ul(_theory_items(ctx, None, mechs))

    doc.h(1, t("results"))
    seen_cases: set[str] = set()
    mrows = []
    for m in ctx.metrics:
        if m["case"] and m["case"] not in seen_cases:
            seen_cases.add(m["case"])
            mrows.append([m["case"], *_metric_row(m, ctx)])
    doc.table([t("case"), t("indicator"), t("before"), t("after"), t("change"), t("unit"),
               t("direction"), t("evidence")], mrows)
    doc.p(f"共提取{len(ctx.metrics)}条量化成效记录，来自{len({m['case'] for m in ctx.metrics})}"
          f"个案例（每个案例列出第一条）。" if ctx.lang == "zh" else
          f"{len(ctx.metrics)} quantified results were extracted from "
          f"{len({m['case'] for m in ctx.metrics})} cases (the first of each is listed).")

    doc.h(1, t("conditions"))
    _ul_or_note(ctx, doc, _precondition_items(ctx, [f.element for f in cores + conditional]),
                "conditions")

    doc.h(1, t("transfer"))
    trows = []
    by_id = {r.id: r for r in a.records}
    for f in sorted(a.flags, key=lambda f: (["transferable core", "conditional core",
                                             "peripheral"].index(f.flag), f.element)):
        if f.support == 0:
            continue
        inds = sorted({by_id[c].industry for c in f.success_cases} - {"unknown"})
        buds = sorted({by_id[c].budget for c in f.success_cases} - {"unknown"})
        trows.append([ctx.label(f.element), t(f.flag), t(ADVICE_OF_FLAG[f.flag]),
                      f"{f.support}/{f.successes}", "、".join(f.regions) or "-",
                      "、".join(f.settings) or "-", "、".join(inds) or "-",
                      "、".join(buds) or "-",
                      _cites(first_cite(ctx, f.success_cases[0], f.element))])
    doc.table([t("element"), t("flag"), t("advice"), t("support"), t("regions"), t("settings"),
               t("industries"), t("budgets"), t("evidence")], trows)
    from casecoder.flags import transfer_summary

    xrows = [[f"{r['from_setting']} → {r['to_setting']}", r["mode"],
              f"{r['successes']}/{r['n']}", "、".join(r["cases"]),
              _cites(*(front_matter_cite(ctx, c, "result") for c in r["cases"][:3]))]
             for r in transfer_summary(a.records)]
    if xrows:
        doc.p("迁移记录（按经验来源场景与输入场景汇总）：" if ctx.lang == "zh" else
              "Recorded transfers, by the settings they crossed:")
        doc.table([t("settings"), "mode", t("result"), t("case"), t("evidence")], xrows)

    doc.h(1, t("risks"))
    doc.ul(_risk_items(ctx, None, set(flags)))
    doc.h(1, t("notes"))
    _ul_or_note(ctx, doc, _implementation_items(ctx, [f.element for f in cores + conditional]),
                "notes")
    _method(ctx, doc, sweep=True)
    return doc


def _excerpt(quote: str, n: int = 48) -> str:
    q = " ".join(quote.split())
    return q if len(q) <= n else q[:n] + "…"


def _metric_sentence(ctx: Context, m: dict[str, Any]) -> str:
    def num(v: Any) -> str:
        return "" if v is None else f"{v:g}"

    if m["before"] is not None and m["after"] is not None:
        return (f"{m['indicator'] or '指标'}从{num(m['before'])}{m['unit']}变为"
                f"{num(m['after'])}{m['unit']}。" if ctx.lang == "zh" else
                f"{m['indicator']} went from {num(m['before'])}{m['unit']} to "
                f"{num(m['after'])}{m['unit']}. ")
    if m["change"] is not None:
        return (f"{m['indicator'] or '指标'}变化{num(m['change'])}{m['unit']}。"
                if ctx.lang == "zh" else
                f"{m['indicator']} changed by {num(m['change'])}{m['unit']}. ")
    return (f"{m['indicator'] or '指标'}为{num(m['after'])}{m['unit']}。" if ctx.lang == "zh"
            else f"{m['indicator']}: {num(m['after'])}{m['unit']}. ")


def _metric_cite(ctx: Context, m: dict[str, Any]) -> Cite:
    return Cite(m["source"], m["start_char"], m["end_char"], m["quote"], m["case"])


def _metric_row(m: dict[str, Any], ctx: Context) -> list[Any]:
    def num(v: Any) -> str:
        return "" if v is None else f"{v:g}"

    return [m["indicator"] or "-", num(m["before"]), num(m["after"]), num(m["change"]),
            m["unit"], m["direction"], [_metric_cite(ctx, m)]]


def _link_items(ctx: Context, case_id: str | None) -> list[list[Inline]]:
    a = ctx.analysis
    cross = a.cross
    grouped: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    for lk, ev in a.data.links:
        if case_id is None or lk.case_id == case_id:
            grouped[(lk.from_code, lk.to_code)].append(ev)

    def support(key: tuple[str, str]) -> int:
        return cross.edges[key]["case_support"] if cross.has_edge(*key) else 0

    items = []
    for key in sorted(grouped, key=lambda k: (-support(k), -len(grouped[k]), k))[:10]:
        evs = grouped[key]
        sign = "−" if all(e.polarity < 0 for e in evs) else "+"
        k = support(key)
        s = (f"{ctx.label(key[0])} → {ctx.label(key[1])}（{sign}；跨案例{k}个案例支持，"
             f"{len(evs)}处引证）。" if ctx.lang == "zh" else
             f"{ctx.label(key[0])} → {ctx.label(key[1])} ({sign}; supported by {k} cases, "
             f"{len(evs)} citations). ")
        items.append([s, *[ctx.cite(e) for e in evs[:2]]])
    return items


def _theory_items(ctx: Context, case_id: str | None, mechs: list[str]) -> list[list[Inline]]:
    cb = ctx.analysis.data.codebook
    items = []
    for m in mechs:
        code = cb.codes.get(m)
        if code is None or not code.theory:
            continue
        if case_id is not None:
            cite = first_cite(ctx, case_id, m)
        else:
            f = _flags(ctx).get(m)
            cite = first_cite(ctx, f.success_cases[0], m) if f and f.success_cases else None
        if cite is None:
            continue
        s = (f"{ctx.label(m)}的理论依据（编码本理论层）：{'、'.join(code.theory)}；文本证据："
             if ctx.lang == "zh" else
             f"{ctx.label(m)} rests on (codebook theory layer): {', '.join(code.theory)}; "
             f"evidence: ")
        items.append([s, cite])
    return items


def _precondition_sentence(ctx: Context, f: Any, p: Any) -> list[Inline]:
    cites = [front_matter_cite(ctx, c, p.condition) for c in p.cases_without[:3]]
    if ctx.lang == "zh":
        cond = _cond_label(ctx, p.condition)
        lead = (f"需要“{cond}”" if p.status == "precondition" else
                f"在缺乏“{cond}”时失败（必要性未检验）")
        s = (f"{ctx.label(f.element)}{lead}：已知该条件的"
             f"{p.necessity_n}个成功案例中{p.necessity_k}个具备；缺乏该条件的"
             f"{p.without_c_total}个案例中{p.without_c_success}个成功"
             f"（{'、'.join(p.cases_without)}）。")
    else:
        s = (f"{ctx.label(f.element)} — {p.condition} ({p.status}): {p.necessity_k} of "
             f"{p.necessity_n} successful cases with a known state had it; "
             f"{p.without_c_success} of {p.without_c_total} cases lacking it succeeded "
             f"({', '.join(p.cases_without)}). ")
    return [s, *_cites(*cites)]


def _precondition_items(ctx: Context, elements: list[str]) -> list[list[Inline]]:
    flags = _flags(ctx)
    items = []
    for e in elements:
        f = flags.get(e)
        if f is None:
            continue
        for p in f.preconditions:
            if p.status in BLOCKING:
                items.append(_precondition_sentence(ctx, f, p))
            elif p.status == "untested: limited diversity" and p.necessity_n >= 2:
                cites = [front_matter_cite(ctx, c, p.condition) for c in f.success_cases[:2]]
                s = (f"{ctx.label(e)}与“{_cond_label(ctx, p.condition)}”：已知该条件的"
                     f"{p.necessity_n}个成功案例中{p.necessity_k}个具备，但语料中没有缺乏该条件的"
                     f"同类案例，无法检验（有限多样性）。" if ctx.lang == "zh" else
                     f"{ctx.label(e)} and {p.condition}: {p.necessity_k} of {p.necessity_n} "
                     f"successful cases with a known state had it, but no case lacks it: "
                     f"untested (limited diversity). ")
                items.append([s, *_cites(*cites)])
    return items


def _risk_items(ctx: Context, case_id: str | None, elements: set[str]) -> list[list[Inline]]:
    a = ctx.analysis
    items = []
    for r in a.records:
        if r.success:
            continue
        shared = sorted(elements & set(r.elements)) if case_id is not None else sorted(r.elements)
        if case_id is not None and not shared and r.id != case_id:
            continue
        case = a.data.cases[r.id]
        probs = sorted(e for e in a.data.elements.get(r.id, set()) if e.startswith("prob."))
        cites = [first_cite(ctx, r.id, p) for p in probs[:2]]
        cites.append(front_matter_cite(ctx, r.id, "result"))
        result = case.outcome.get("result", "unknown")
        if ctx.lang == "zh":
            s = (f"{case.title}（{r.id}，结果：{result}）"
                 + (f"，与本案例共有要素：{'、'.join(ctx.label(e) for e in shared[:4])}"
                    if case_id is not None and shared else "")
                 + (f"；编码到的问题：{'、'.join(ctx.label(p) for p in probs)}" if probs else "")
                 + "。")
        else:
            s = (f"{case.title} ({r.id}, result: {result})"
                 + (f", sharing {', '.join(shared[:4])}" if case_id is not None and shared
                    else "")
                 + (f"; problems coded: {', '.join(probs)}" if probs else "") + ". ")
        for tr in case.transfers:
            s += (f" 迁移记录：{tr.get('mode')}自{tr.get('from')}，结果{tr.get('result')}。"
                  if ctx.lang == "zh" else
                  f" Transfer: {tr.get('mode')} from {tr.get('from')}, {tr.get('result')}. ")
        items.append([s, *_cites(*cites)])
    return items


def _implementation_items(ctx: Context, elements: list[str]) -> list[list[Inline]]:
    from casecoder.flags import Target, adapt

    a = ctx.analysis
    items = []
    for cond in CONTEXT_IDS:
        target = Target(conditions={c: ("absent" if c == cond else "present")
                                    for c in CONTEXT_IDS})
        for adv in adapt(a.records, target, a.thresholds, a.flags):
            if adv.element not in elements or adv.action == "keep as is":
                continue
            cites = [first_cite(ctx, c, s) for c in adv.cite_cases for s in adv.substitutes
                     if first_cite(ctx, c, s)][:2]
            cites += [front_matter_cite(ctx, c, cond) for c in adv.cite_cases[:2]]
            if ctx.lang == "zh":
                s = (f"目标地缺乏“{_cond_label(ctx, cond)}”时，{ctx.label(adv.element)}："
                     f"{_action_zh(adv.action)}"
                     + (f"（可采用{'、'.join(ctx.label(x) for x in adv.substitutes)}，"
                        f"见{'、'.join(adv.cite_cases)}）" if adv.substitutes else
                        f"（依据：{'、'.join(adv.cite_cases)}）") + "。")
            else:
                s = (f"Where {cond} is absent, {ctx.label(adv.element)}: {adv.action}"
                     + (f" (use {', '.join(adv.substitutes)}, as in "
                        f"{', '.join(adv.cite_cases)})" if adv.substitutes else
                        f" (evidence: {', '.join(adv.cite_cases)})") + ". ")
            items.append([s, *_cites(*cites)])
    return items


NO_FINDING = {
    ("zh", "conditions"): "语料中没有足够证据判定前提条件"
                          "（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "conditions"): "The corpus holds too little evidence to establish preconditions "
                          "(a note on missing evidence, not a finding).",
    ("zh", "notes"): "语料未显示需要改造的情形（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "notes"): "The corpus shows no situation that calls for adaptation (a note on "
                     "missing evidence, not a finding).",
}


def _ul_or_note(ctx: Context, doc: Document, items: list[list[Inline]], what: str) -> None:
    """A bullet list of findings, or a plain note saying there is no evidence for any."""
    if items:
        doc.ul(items)
    else:
        doc.p(NO_FINDING[(ctx.lang, what)])


def _action_zh(action: str) -> str:
    return {"keep as is": "保持原样", "adapt": "改造后采用",
            "build the precondition first": "先建设前提条件",
            "no evidence in the corpus": "语料中无证据"}.get(action, action)


def _sweep_line(ctx: Context) -> list[str]:
    """The threshold sweep of ``casecoder graph sensitivity``, in one line."""
    sweep = sensitivity(ctx.analysis.records)
    grid = ", ".join(f"{k} {min(v)}–{max(v)}" for k, v in sweep["grid"].items())
    with_core = sum(1 for r in sweep["runs"] if r["cores"])
    line = (f"threshold sweep (casecoder graph sensitivity): {sweep['settings']} settings "
            f"({grid}); transferable cores in {with_core} of them")
    if sweep["core_max_necessity"]:
        top = max(sweep["core_max_necessity"].values())
        who = [e for e, v in sweep["core_max_necessity"].items() if v == top]
        line += (f"; the highest necessity threshold at which an element is one: {top} "
                 f"({', '.join(who)})")
    return [line + "."]


def _method(ctx: Context, doc: Document, sweep: bool = False) -> None:
    a = ctx.analysis
    cb = a.data.codebook
    th = a.thresholds
    doc.h(1, ctx.t("method"))
    doc.ul([
        [f"codebook: {cb.name} {cb.version} ({cb.path}), sha256 {cb.sha256}"],
        [f"pass: {ctx.pass_name} (coder {cb.coder}); cases: {len(a.records)}; "
         f"links: {len(a.data.links)}"],
        [f"thresholds: min_support={th.min_support}, min_regions={th.min_regions}, "
         f"min_settings={th.min_settings}, necessity={th.necessity}, "
         f"relevance={th.relevance}, precondition={th.precondition}, "
         f"difference={th.difference}"],
        ["Outcome = case result 'success' (partial and failure count as not success); "
         "unknown conditions are left out of the counts that need them."],
        *([_sweep_line(ctx)] if sweep else []),
    ])


# -- teaching ------------------------------------------------------------------------------

_SECTION = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.M)


def _section_sentences(ctx: Context, case_id: str, names: tuple[str, ...]) -> list[Cite]:
    """Sentences of the named ``##`` sections of the case file, as citations."""
    srcs = ctx.case_sources.get(case_id, [])
    if not srcs or srcs[0].kind != "case":
        return []
    src = srcs[0]
    heads = list(_SECTION.finditer(src.text))
    out = []
    for i, h in enumerate(heads):
        if h.group(1) not in names:
            continue
        end = heads[i + 1].start() if i + 1 < len(heads) else len(src.text)
        for s in ctx.analysis.data.sentences.get(src.name, []):
            if h.end() <= s[0] and s[1] <= end:
                out.append(Cite(src.name, s[0], s[1], src.text[s[0]:s[1]], case_id))
    return out


def teaching_case(ctx: Context, case_id: str) -> Document:
    """The case body: a neutral narrative from the case text, ending in a decision point."""
    a = ctx.analysis
    case = a.data.cases[case_id]
    t = ctx.t
    doc = Document(title=f"{t('teaching_case')}：{case.title}" if ctx.lang == "zh"
                   else f"{t('teaching_case')}: {case.title}", lang=ctx.lang,
                   sources_heading=t("sources"))
    doc.h(1, t("background"))
    for c in _section_sentences(ctx, case_id, ("背景",)):
        doc.p(c.quote, c)
    doc.h(1, t("practice"))
    for c in _section_sentences(ctx, case_id, ("主要做法",)):
        doc.p(c.quote, c)
    doc.h(1, t("decision"))
    doc.p(_decision_point(ctx, case_id))
    return doc


def _decision_point(ctx: Context, case_id: str) -> str:
    a = ctx.analysis
    case = a.data.cases[case_id]
    lacking = [c for c in CONTEXT_IDS if any(
        p.condition == c and p.status in (*BLOCKING, "untested: limited diversity")
        for f in a.flags if f.element in a.data.elements.get(case_id, set())
        for p in f.preconditions)]
    cond = lacking[0] if lacking else "ctx.funding"
    setting = case.attributes.get("setting", "unknown")
    if ctx.lang == "zh":
        return (f"假设你是一个{_setting_zh(setting)}的负责人，所在地方“{ctx.label(cond)}”"
                f"与本案例不同。你会原样引入上述哪些做法，改造哪些做法，又需要先补齐哪些条件？"
                f"请说明理由。")
    return (f"You lead a {setting.replace('_', ' ')} site whose {cond} differs from this case. "
            f"Which of these practices would you copy, which adapt, and which conditions "
            f"would you build first? Give your reasons.")


def _setting_zh(setting: str) -> str:
    return {"urban_community": "城市社区", "rural": "农村地区", "industry": "行业单位",
            "cross_region": "地区"}.get(setting, "地方")


def teaching_note(ctx: Context, case_id: str, diagram_png: bytes | None) -> Document:
    """The teaching note of a case."""
    a = ctx.analysis
    case = a.data.cases[case_id]
    t = ctx.t
    flags = _flags(ctx)
    elements = sorted(a.data.elements.get(case_id, set()))
    mechs = [e for e in elements if node_layer(a.data.codebook, e) == "mechanism"
             and e.startswith("mech.")]
    doc = Document(title=f"{t('teaching_note')}：{case.title}" if ctx.lang == "zh"
                   else f"{t('teaching_note')}: {case.title}", lang=ctx.lang,
                   sources_heading=t("sources"))
    doc.h(1, t("purpose"))
    doc.p("本案例用于基层治理、党建引领与公共管理课程，帮助学员从具体做法中识别可复制的机制、"
          "其成立的前提条件与向其他地方迁移时的改造方式。" if ctx.lang == "zh" else
          "For courses on grassroots governance and public management: to learn to tell the "
          "replicable mechanism from the local practice, the conditions it needs, and how to "
          "adapt it elsewhere.")
    doc.h(1, t("questions"))
    qs = [[f"本案例中“{ctx.label(m)}”是通过哪些具体做法实现的？它解决了什么问题？"
           if ctx.lang == "zh" else
           f"Through which practices does {ctx.label(m)} work here, and on what problem?"]
          for m in mechs[:3]]
    qs.append(["如果目标地缺乏本案例的某项情境条件，哪些做法需要改造？" if ctx.lang == "zh" else
               "If a target site lacks one of this case's conditions, what must change?"])
    qs.append(["对照失败与迁移案例，照搬本案例会遇到什么风险？" if ctx.lang == "zh" else
               "Compared with the failure and transfer cases, what risks would copying carry?"])
    doc.ul(qs)
    doc.h(1, t("approach"))
    doc.ul([["实践层：梳理具体做法、步骤与工具。" if ctx.lang == "zh" else
             "Practice: list the concrete steps and tools."],
            ["机制层：归纳做法背后的机制链（情境—机制—成效）。" if ctx.lang == "zh" else
             "Mechanism: the context–mechanism–outcome chain behind them."],
            ["理论层：联系治理理论，形成可迁移框架。" if ctx.lang == "zh" else
             "Theory: connect to governance theory for a transferable frame."],
            ["条件层：检查前提条件与适配方式。" if ctx.lang == "zh" else
             "Conditions: check preconditions and adaptations."]])
    doc.h(1, t("theory"))
    doc.ul(_theory_items(ctx, case_id, mechs) + _link_items(ctx, case_id)[:5])
    doc.h(1, t("points"))
    pts: list[list[Inline]] = []
    for m in mechs:
        f = flags.get(m)
        if f is None:
            continue
        s = (f"{ctx.label(m)}：跨案例判定为“{t(f.flag)}”（{f.support}/{f.successes}个成功案例）。"
             if ctx.lang == "zh" else
             f"{ctx.label(m)}: {f.flag} ({f.support}/{f.successes} successful cases). ")
        pts.append([s, *_cites(first_cite(ctx, case_id, m))])
    # preconditions of every coded element of the case, practices included: a platform's
    # need for network infrastructure is a practice-level lesson
    pts += _precondition_items(ctx, [e for e in elements if e in flags])
    doc.ul(pts)
    doc.h(1, t("plan"))
    plan = ([["0–10分钟", "阅读案例正文，明确决策点"], ["10–35分钟", "小组讨论启发思考题"],
             ["35–60分钟", "绘制机制链，对照附件机制图"],
             ["60–80分钟", "比较失败与迁移案例，讨论适配方案"],
             ["80–90分钟", "总结关键要点"]] if ctx.lang == "zh" else
            [["0–10 min", "Read the case, state the decision"],
             ["10–35 min", "Groups discuss the questions"],
             ["35–60 min", "Draw the mechanism chain; compare with the annex"],
             ["60–80 min", "Compare failure and transfer cases; plan an adaptation"],
             ["80–90 min", "Wrap up the key points"]])
    doc.table(["时间" if ctx.lang == "zh" else "Time", "内容" if ctx.lang == "zh" else "Activity"],
              plan)
    doc.h(1, t("annex"))
    if diagram_png:
        doc.image(diagram_png, f"{case_id} mechanism diagram", f"{case_id}-mechanisms.png")
    return doc


def comparison_table(ctx: Context) -> Document:
    """A cross-case comparison table for a course."""
    a = ctx.analysis
    t = ctx.t
    flags = _flags(ctx)
    doc = Document(title=t("comparison"), lang=ctx.lang, sources_heading=t("sources"))
    rows = []
    first_metric: dict[str, dict[str, Any]] = {}
    for m in ctx.metrics:
        if m["case"]:
            first_metric.setdefault(m["case"], m)
    for cid, case in sorted(a.data.cases.items()):
        mechs = sorted(e for e in a.data.elements.get(cid, set())
                       if e.startswith("mech.") and e.count(".") == 1)
        cores = [m for m in mechs if flags.get(m) and flags[m].flag == "transferable core"]
        fm = first_metric.get(cid)
        rows.append([cid, case.title, str(case.attributes.get("region", "unknown")),
                     str(case.attributes.get("setting", "unknown")),
                     [str(case.outcome.get("result", "unknown")),
                      *_cites(front_matter_cite(ctx, cid, "result"))],
                     "、".join(frame_id(m).split(".")[1] for m in mechs) or "-",
                     "、".join(c.split(".")[1] for c in cores) or "-",
                     [_metric_sentence(ctx, fm), _metric_cite(ctx, fm)] if fm else "-"])
    doc.table([t("case"), "title", t("regions"), t("settings"), t("result"), t("mechanisms"),
               t("transferable core"), t("key_figure")], rows)
    return doc


def case_diagram(ctx: Context, case_id: str) -> bytes:
    from casecoder.pictures import draw_graph

    g = case_graph(ctx.analysis.data, case_id)
    return draw_graph(g, None, "png", f"{case_id} {ctx.analysis.data.cases[case_id].title}")
