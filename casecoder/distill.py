"""Distill: policy summaries, teaching cases and teaching notes from an analysis.

Every sentence that states a finding carries a :class:`~casecoder.document.Cite` to the
stored text it rests on (a coded passage, a link's sentence, a metric's sentence, or
the front-matter line of a case file that records a condition, an outcome or a
transfer). Every figure is computed from the store (counts, k/n, metric values), never
typed in. Method notes (codebook, hash, thresholds) and teaching prompts state no
findings. Chinese output (the default) localises enum values (settings, results,
transfer modes, directions); ``lang="en"`` keeps them in English.

Which figures are reported
    A case's *result figures* are its extracted metrics outside its background: a
    figure in the case file's ``## 背景`` section, or a plain level (no change, no
    direction) of a context quantity (population, density, users, staff, area,
    funding), describes the setting and is listed under the context profile instead.
    Result figures are ranked: changes (before → after, a change, or a level reached
    with a direction) first, then totals newly reached (累计, 新增), then plain levels;
    then the order of the case's recorded ``outcome.figures``; then the ``## 成效``
    section before interviews before ``## 主要做法``; then position. Key messages and
    the one-figure columns of the cross-case tables take the first. A bound written
    with a figure (不足, 超过, 约, …) is kept: "不足15%" never becomes "15%".

Which elements a case summary reads
    Preconditions (适用条件), implementation notes (实施要点) and the transferability
    table read every flagged element coded in the case, practices included
    (:func:`case_elements`): a platform's need for network infrastructure is a
    practice-level lesson. Implementation notes add the case's recorded transfers and
    the other transfers of the same experience (copied or adapted, and how it went).

Teaching cases
    The body is a neutral narrative: the case file's ``## 背景`` and ``## 主要做法``
    sentences, without analysis (a sentence whose clause reports the study's reading,
    e.g. 研究认为 / 研究指出 / 核心逻辑 / 表明 / 概括为, is dropped, keeping a factual
    lead-in before it; sentences coded at theory level are dropped). The title names
    place, setting and practices, not the result. The decision point names the
    condition that matters for the case: a blocking precondition of its elements whose
    state in the case is known, else another tested condition or a known condition of
    the case, and an unknown one only when no known one exists.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from casecoder import citations
from casecoder.document import Cite, Document, Inline
from casecoder.errors import CasecoderError
from casecoder.flags import BLOCKING, sensitivity
from casecoder.graph import Analysis, Evidence, case_graph, in_spans, node_layer
from casecoder.metrics import TIME_UNITS, extract
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
        "title": "案例名称", "mode": "迁移方式", "context_figures": "情境数据（不计入成效）：",
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
        "mechanisms": "Mechanisms", "key_figure": "Key figure", "title": "Title",
        "mode": "Mode", "context_figures": "Context figures (not results):",
    },
}
# enum values of the case records, in Chinese output (English output keeps them as stored)
VALUES_ZH = {
    "copied": "照搬", "adapted": "改造", "inspired": "借鉴",
    "success": "成功", "partial": "部分成功", "failure": "失败", "unknown": "未知",
    "urban_community": "城市社区", "rural": "农村", "industry": "行业",
    "cross_region": "跨区域", "present": "具备", "absent": "缺乏",
    "up": "上升", "down": "下降", "level": "水平值",
    "low": "低", "medium": "中", "high": "高",
}
ATTRIBUTES_ZH = {"region": "区域", "province": "省份", "city": "城市", "setting": "场景",
                 "industry": "行业", "period": "时期", "budget": "资源水平"}
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
    # stored metric records left out of ``metrics``: in a lessons section (they tell of
    # other places), and restatements of a figure already kept
    metrics_in_lessons: int = 0
    metrics_restated: int = 0
    sweep: dict[str, Any] | None = field(default=None, repr=False)  # computed on first use

    def t(self, key: str) -> str:
        return TEXT[self.lang].get(key, key)

    def v(self, value: Any) -> str:
        """An enum value of a case record, in the output language."""
        s = str(value)
        return VALUES_ZH.get(s, s) if self.lang == "zh" else s

    def label(self, code: str) -> str:
        c = self.analysis.data.codebook.codes.get(code)
        if c is None:
            return code.removeprefix("theory:")
        if self.lang == "en" and c.gloss:
            return f"{c.gloss} ({code})"
        return f"{c.label}（{code}）"

    def short_label(self, code: str) -> str:
        """The code's label without its id (Chinese), or its gloss or id (English)."""
        c = self.analysis.data.codebook.codes.get(code)
        if c is None:
            return code
        if self.lang == "en":
            return c.gloss or code
        return c.label

    def cite(self, ev: Evidence) -> Cite:
        return Cite(ev.source, ev.start_char, ev.end_char, ev.quote, ev.case)


def make_context(store: Any, analysis: Analysis, pass_name: str, lang: str = "zh") -> Context:
    """Gather what the writers need from the store."""
    from casecoder.exporting import metric_records

    if lang not in TEXT:
        raise CasecoderError("CC504", lang=lang)
    sources = {s.name: s for s in store.sources()}
    by_case = citations.case_files(sources.values())
    from casecoder.graph import lesson_spans

    lessons = {name: lesson_spans(s.text) for name, s in sources.items() if s.kind == "case"}
    metrics: list[dict[str, Any]] = []
    kept: dict[Any, list[tuple[tuple[Any, ...], str]]] = defaultdict(list)
    used: set[tuple[str, int, int]] = set()
    in_lessons = restated = 0
    for m in metric_records(store, pass_name):
        # figures in a case file's lessons section describe other places (see graph.py)
        if in_spans(m["start_char"], lessons.get(m["source"], ())):
            in_lessons += 1
            continue
        m = _describe_metric(m, sources[m["source"]], analysis, used)
        values = (m["before"], m["after"], m["change"], m["unit"], m["direction"],
                  _SAME_BOUND.get(m["qualifier"], m["qualifier"]))
        ind = m["indicator"].replace("的", "")
        # the same figure restated (in an interview of the same case, or a summary sentence)
        if any(v == values and _alike(i, ind) for v, i in kept[m["case"]]):
            restated += 1
            continue
        kept[m["case"]].append((values, ind))
        metrics.append(m)
    return Context(analysis=analysis, sources=sources, case_sources=dict(by_case),
                   metrics=metrics, lang=lang, pass_name=pass_name,
                   metrics_in_lessons=in_lessons, metrics_restated=restated)


# -- metrics: what a figure is, and which to report ---------------------------------------

_SECTION = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.M)
RESULT_SECTION = "成效"
BACKGROUND_SECTION = "背景"
_SECTION_RANK = {RESULT_SECTION: 0, "": 1, "主要做法": 2}
# a plain level of one of these describes the setting, not a result
_CONTEXT_QUANTITY = re.compile(r"人口|密度|平方公里|用户|员工|职工|面积|常住|户籍|经费|预算")
_CUMULATIVE_VERBS = ("累计", "新增", "新建", "共计", "合计")
_BOUNDS = ("不足", "不到", "低于", "超过", "超", "逾", "突破", "高于", "近", "约")
_QUALIFIER_EN = {"不足": "under ", "不到": "under ", "低于": "below ", "超过": "over ",
                 "超": "over ", "逾": "over ", "突破": "over ", "高于": "above ", "近": "nearly ",
                 "约": "about ", "仅": "only ", "仅为": "only "}


_SAME_BOUND = {"超": "超过", "逾": "超过", "突破": "超过", "达到": "达", "仅为": "仅"}
_FIGURE = re.compile(r"[0-9０-９]+(?:[.．][0-9０-９]+)?")


def _alike(a: str, b: str) -> bool:
    """Two indicators of the same figure: most characters of the shorter in the longer
    (矛盾化解平均耗时 / 平均化解耗时; 单场直播平均观看量 / 每场直播的平均观看量)."""
    short, long_ = sorted((a, b), key=len)
    return not short or sum(ch in long_ for ch in short) >= 0.75 * len(short)


def _listed(m: dict[str, Any], figures: list[str]) -> int:
    """The position of a metric among a case's recorded ``outcome.figures`` (their
    count when it is not among them): a figure that holds every number of the metric's
    words and most characters of its indicator."""
    numbers = _FIGURE.findall(m["hit"])
    ind = (m["indicator"] or "").replace("的", "")
    for i, f in enumerate(figures):
        if numbers and all(n in _FIGURE.findall(f) for n in numbers) and (
                not ind or sum(ch in f for ch in ind) >= 0.5 * len(ind)):
            return i
    return len(figures)


def _section_at(src: Source, pos: int) -> str:
    """The ``##`` section of a case file holding ``pos`` ("" outside case files)."""
    if src.kind != "case":
        return ""
    name = ""
    for h in _SECTION.finditer(src.text, 0, pos):
        name = h.group(1)
    return name


def _describe_metric(m: dict[str, Any], src: Source, analysis: Analysis,
                     used: set[tuple[str, int, int]]) -> dict[str, Any]:
    """A stored metric record with what the writers need besides: the words of the figure
    (re-read from the stored sentence by :func:`casecoder.metrics.extract`: the record
    keeps the sentence's span), its section, whether it is background, and its rank among
    the case's figures."""
    m = dict(m)
    m["hit"] = ""
    key = (m["before"], m["after"], m["change"], m["unit"], m["direction"], m["qualifier"],
           m["before_qualifier"])
    for i, h in enumerate(extract(src.text, m["start_char"], m["end_char"])):
        tag = (m["source"], m["start_char"], i)
        if tag not in used and (h.before, h.after, h.change, h.unit, h.direction, h.qualifier,
                                h.before_qualifier) == key:
            used.add(tag)
            m["hit"] = src.text[h.start:h.end]
            m["indicator"] = h.indicator or m["indicator"]
            break
    m["section"] = _section_at(src, m["start_char"])
    static = m["direction"] == "level" and m["change"] is None and m["before"] is None
    m["background"] = (m["section"] == BACKGROUND_SECTION
                       or (static and bool(_CONTEXT_QUANTITY.search(m["indicator"] or ""))))
    # changes first, then totals newly reached (累计, 新增), then plain levels
    count = m["hit"].startswith(_CUMULATIVE_VERBS) and m["before"] is None
    kind = 2 if static else 1 if count else 0
    case = analysis.data.cases.get(m["case"]) if m["case"] else None
    figures = [str(x) for x in (case.outcome.get("figures") or [])] if case else []
    m["rank"] = (kind, _listed(m, figures), _SECTION_RANK.get(m["section"], 3),
                 src.kind != "case", m["source"], m["start_char"])
    return m


def result_metrics(ctx: Context, case_id: str) -> list[dict[str, Any]]:
    """The case's result figures, best first (see the module notes)."""
    return sorted((m for m in ctx.metrics if m["case"] == case_id and not m["background"]),
                  key=lambda m: m["rank"])


def context_metrics(ctx: Context, case_id: str) -> list[dict[str, Any]]:
    """The case's background and context figures, in text order."""
    return [m for m in ctx.metrics if m["case"] == case_id and m["background"]]


def _num(v: Any) -> str:
    return "" if v is None else f"{v:.10g}"


def metric_phrase(ctx: Context, m: dict[str, Any]) -> str:
    """A figure in words, with its qualifier: 平台使用率不足15%, 矛盾化解平均耗时从7天缩短至2天."""
    zh = ctx.lang == "zh"
    ind = m["indicator"] or ("指标" if zh else "indicator")
    u, q, d = m["unit"], m.get("qualifier", ""), m["direction"]
    before, after, change = m["before"], m["after"], m["change"]
    lead = next((v for v in _CUMULATIVE_VERBS if m.get("hit", "").startswith(v)), "")
    # bounds stated with the figures of "from A to B" (由不足50%提高到95%)
    qa, qb = (x if x in _BOUNDS else "" for x in (m.get("before_qualifier", ""), q))
    down = "缩短至" if u in TIME_UNITS else "降至"
    if zh:
        if before is not None and after is not None:
            verb = {"up": "提升至", "down": down}.get(d, "变为")
            return f"{ind}从{qa}{_num(before)}{u}{verb}{qb}{_num(after)}{u}"
        if change is not None:
            verb = {"up": "增长" if u == "倍" else "提升", "down": "下降"}.get(d, "变化")
            return f"{ind}{verb}{q}{_num(abs(change) if d in ('up', 'down') else change)}{u}"
        if lead:
            return f"{lead}{ind}{q}{_num(after)}{u}"
        if d in ("up", "down"):
            return f"{ind}{'提升至' if d == 'up' else down}{_num(after)}{u}"
        return f"{ind}{q or '为'}{_num(after)}{u}"
    qe = _QUALIFIER_EN.get(q, "")
    if before is not None and after is not None:
        qa_en, qb_en = (_QUALIFIER_EN.get(x, "") for x in (qa, qb))
        return f"{ind}: from {qa_en}{_num(before)}{u} to {qb_en}{_num(after)}{u}"
    if change is not None:
        word = {"up": "up", "down": "down"}.get(d, "changed by")
        return f"{ind}: {word} {qe}{_num(abs(change) if d in ('up', 'down') else change)}{u}"
    if d in ("up", "down") and not lead:
        return f"{ind}: {'up' if d == 'up' else 'down'} to {_num(after)}{u}"
    return f"{ind}: {qe}{_num(after)}{u}"


def _metric_sentence(ctx: Context, m: dict[str, Any]) -> str:
    return metric_phrase(ctx, m) + ("。" if ctx.lang == "zh" else ". ")


def _metric_cite(ctx: Context, m: dict[str, Any]) -> Cite:
    return Cite(m["source"], m["start_char"], m["end_char"], m["quote"], m["case"])


def _metric_row(m: dict[str, Any], ctx: Context) -> list[Any]:
    def bound(q: str) -> str:
        return (q if ctx.lang == "zh" else _QUALIFIER_EN.get(q, "")) if q in _BOUNDS else ""

    before = (f"{bound(m.get('before_qualifier', ''))}{_num(m['before'])}"
              if m["before"] is not None else "")
    after = f"{bound(m.get('qualifier', ''))}{_num(m['after'])}" if m["after"] is not None else ""
    return [m["indicator"] or "-", before, after, _num(m["change"]),
            m["unit"], ctx.v(m["direction"]), [_metric_cite(ctx, m)]]


# -- evidence helpers ------------------------------------------------------------------------

def front_matter_cite(ctx: Context, case_id: str, key: str) -> Cite | None:
    """The line of a case file's front matter that records ``key`` (e.g. ``ctx.funding``)."""
    return citations.front_matter_cite(ctx.case_sources.get(case_id, []), case_id, key)


def transfer_cite(ctx: Context, case_id: str, origin: str) -> Cite | None:
    """The entry of a case file's front-matter ``transfers`` list recording a transfer
    from ``origin``."""
    return citations.transfer_cite(ctx.case_sources.get(case_id, []), case_id, origin)


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


def case_elements(ctx: Context, case_id: str) -> list[str]:
    """The flagged elements coded in a case: its mechanisms and their practices.

    Preconditions, implementation notes, the transferability table and the teaching
    note's key points all read these, so a practice-level precondition (a platform's
    need for network infrastructure) reaches every one of them.
    """
    flags = _flags(ctx)
    return sorted(e for e in ctx.analysis.data.elements.get(case_id, set()) if e in flags)


# -- policy summaries -------------------------------------------------------------------------

def case_summary(ctx: Context, case_id: str) -> Document:
    """The policy summary of one case."""
    a = ctx.analysis
    if case_id not in a.data.cases:
        raise CasecoderError("CC502", case_id=case_id, known=", ".join(sorted(a.data.cases)))
    case = a.data.cases[case_id]
    flags = _flags(ctx)
    t = ctx.t
    zh = ctx.lang == "zh"
    doc = Document(title=f"{case.title}：{t('summary')}" if zh
                   else f"{t('summary')}: {case.title} ({case_id})", lang=ctx.lang,
                   sources_heading=t("sources"))
    elements = sorted(a.data.elements.get(case_id, set()))
    mechs = sorted((e for e in elements if node_layer(a.data.codebook, e) == "mechanism"
                    and e.startswith("mech.")),
                   key=lambda e: (-len(evidence_of(ctx, case_id, e)), e))
    flagged = case_elements(ctx, case_id)
    if not elements:
        raise CasecoderError("CC506", name=ctx.pass_name, case_id=case_id)

    # key messages
    doc.h(1, t("key"))
    items: list[list[Inline]] = []
    for m in mechs[:3]:
        f = flags.get(m)
        n = len(evidence_of(ctx, case_id, m))
        if zh:
            s = (f"{ctx.label(m)}在本案例中有{n}处编码证据；跨案例判定为“{t(f.flag)}”，"
                 f"见于{f.support}/{f.successes}个成功案例。" if f else
                 f"{ctx.label(m)}在本案例中有{n}处编码证据。")
        else:
            s = (f"{ctx.label(m)} is coded in {n} passages here; across cases it is a "
                 f"{f.flag}, present in {f.support}/{f.successes} successful cases. " if f else
                 f"{ctx.label(m)} is coded in {n} passages here. ")
        items.append([s, *_cites(first_cite(ctx, case_id, m))])
    results = result_metrics(ctx, case_id)
    for m in results[:2]:
        items.append([_metric_sentence(ctx, m), _metric_cite(ctx, m)])
    result_cite = front_matter_cite(ctx, case_id, "result")
    result = case.outcome.get("result", "unknown")
    items.append([(f"研究报告的结果为“{ctx.v(result)}”。" if zh else
                   f"The studies report the result as {result}. "),
                  *_cites(result_cite)])
    doc.ul(items)

    # context profile
    doc.h(1, t("context"))
    rows: list[list[Any]] = []
    for key in ("region", "province", "city", "setting", "industry", "period", "budget"):
        if key in case.attributes:
            rows.append([ATTRIBUTES_ZH.get(key, key) if zh else key,
                         ctx.v(case.attributes[key]),
                         _cites(front_matter_cite(ctx, case_id, key))])
    for cond in CONTEXT_IDS:
        state = case.conditions.get(cond, "unknown")
        rows.append([_cond_label(ctx, cond), t(state),
                     _cites(front_matter_cite(ctx, case_id, cond),
                            first_cite(ctx, case_id, cond))])
    doc.table([t("attribute"), t("value"), t("evidence")], rows)
    background = context_metrics(ctx, case_id)
    if background:
        doc.p(t("context_figures"))
        doc.ul([[_metric_sentence(ctx, m), _metric_cite(ctx, m)] for m in background])

    # practice
    doc.h(1, t("practice"))
    practices = [e for e in elements if node_layer(a.data.codebook, e) == "practice"]
    items = []
    for p in practices[:10]:
        c = first_cite(ctx, case_id, p)
        if c is not None:
            items.append([f"{ctx.label(p)}：“{_excerpt(c.quote)}”" if zh
                          else f"{ctx.label(p)}: “{_excerpt(c.quote)}”", c])
    _ul_or_note(ctx, doc, items, "practice")

    # how it works
    doc.h(1, t("how"))
    _ul_or_note(ctx, doc, _link_items(ctx, case_id), "how")

    # why
    doc.h(1, t("why"))
    _ul_or_note(ctx, doc, _theory_items(ctx, case_id, mechs), "why")

    # results
    doc.h(1, t("results"))
    doc.table([t("indicator"), t("before"), t("after"), t("change"), t("unit"), t("direction"),
               t("evidence")], [_metric_row(m, ctx) for m in results])
    if not results:
        doc.p("本案例文本中没有可提取的量化成效。" if zh
              else "No quantified result could be extracted from this case's text.")

    # conditions
    doc.h(1, t("conditions"))
    _ul_or_note(ctx, doc, _precondition_items(ctx, flagged), "conditions")

    # transferability
    doc.h(1, t("transfer"))
    trows = [_flag_row(ctx, flags[e], first_cite(ctx, case_id, e)) for e in flagged]
    doc.table(_flag_header(ctx), trows)
    if not trows:
        doc.p(NO_FINDING[(ctx.lang, "transfer")])

    # risks
    doc.h(1, t("risks"))
    _ul_or_note(ctx, doc, _risk_items(ctx, case_id, set(flagged)), "risks")

    # implementation notes
    doc.h(1, t("notes"))
    _ul_or_note(ctx, doc, _implementation_items(ctx, flagged) + _transfer_items(ctx, case_id),
                "notes")

    _method(ctx, doc)
    return doc


def _flag_header(ctx: Context) -> list[str]:
    t = ctx.t
    return [t("element"), t("flag"), t("advice"), t("support"), t("regions"), t("settings"),
            t("industries"), t("budgets"), t("evidence")]


def _flag_row(ctx: Context, f: Any, cite: Cite | None) -> list[Any]:
    """One row of a transferability table: the flag, its support and the regions,
    settings, industries and resource levels of the successful cases with it."""
    by_id = {r.id: r for r in ctx.analysis.records}
    sep = "、" if ctx.lang == "zh" else ", "
    inds = sorted({by_id[c].industry for c in f.success_cases} - {"unknown"})
    buds = sorted({by_id[c].budget for c in f.success_cases} - {"unknown"})
    return [ctx.label(f.element), ctx.t(f.flag), ctx.t(ADVICE_OF_FLAG[f.flag]),
            f"{f.support}/{f.successes}", sep.join(f.regions) or "-",
            sep.join(ctx.v(s) for s in f.settings) or "-", sep.join(inds) or "-",
            sep.join(ctx.v(b) for b in buds) or "-", _cites(cite)]


def _sweep(ctx: Context) -> dict[str, Any]:
    """The threshold sweep of ``casecoder graph sensitivity`` (computed once)."""
    if ctx.sweep is None:
        ctx.sweep = sensitivity(ctx.analysis.records)
    return ctx.sweep


def _sweep_facts(ctx: Context) -> tuple[dict[str, Any], int, Any, list[str]]:
    """The sweep, how many of its settings yield a transferable core, the highest
    necessity threshold at which any element is one (``None`` if none ever is) and the
    elements that are one there."""
    sweep = _sweep(ctx)
    with_core = sum(1 for r in sweep["runs"] if r["cores"])
    tops = sweep["core_max_necessity"]
    top = max(tops.values()) if tops else None
    return sweep, with_core, top, [e for e, v in tops.items() if v == top]


def _thresholds_text(ctx: Context) -> str:
    th = ctx.analysis.thresholds
    return (f"min_support={th.min_support}, min_regions={th.min_regions}, "
            f"min_settings={th.min_settings}, necessity={th.necessity}, "
            f"relevance={th.relevance}, precondition={th.precondition}, "
            f"difference={th.difference}")


def _by_support(f: Any) -> tuple[int, str]:
    """Flags ordered by successful cases with the element (most first), then id."""
    return (-f.support, f.element)


def _no_core_item(ctx: Context) -> list[Inline]:
    """The statement that no element meets the transferable-core thresholds, with the
    best-supported element's counts and the threshold sweep."""
    a = ctx.analysis
    th = a.thresholds
    best = min(a.flags, key=_by_support)
    sweep, with_core, top, who = _sweep_facts(ctx)
    cites = [first_cite(ctx, c, best.element) for c in best.success_cases[:2]]
    if ctx.lang == "zh":
        s = (f"按当前阈值（{_thresholds_text(ctx)}），没有要素达到“可迁移内核”的标准。"
             f"成功案例支持最多的要素是{ctx.label(best.element)}：见于{best.support}/"
             f"{best.successes}个成功案例，必要性一致度{best.necessity:.2f}"
             + (f"，低于{th.necessity}" if best.necessity < th.necessity else "")
             + f"。阈值扫描（casecoder graph sensitivity）的{sweep['settings']}组设置中，"
             f"{with_core}组出现可迁移内核"
             + (f"，且只在必要性阈值不高于{top}时出现（{'、'.join(who)}）" if top is not None
                else "")
             + "；阈值与扫描见方法说明。")
    else:
        s = (f"At the thresholds used ({_thresholds_text(ctx)}) no element is a transferable "
             f"core. The best-supported element, {ctx.label(best.element)}, is present in "
             f"{best.support}/{best.successes} successful cases (necessity consistency "
             f"{best.necessity:.2f}"
             + (f" < {th.necessity}" if best.necessity < th.necessity else "")
             + f"). Of the {sweep['settings']} settings of the threshold sweep (casecoder "
             f"graph sensitivity), {with_core} yield a transferable core"
             + (f", at a necessity threshold of at most {top} ({', '.join(who)})"
                if top is not None else "")
             + "; see the method note. ")
    return [s, *_cites(*cites)]


def cross_case_summary(ctx: Context) -> Document:
    """The policy summary across all cases."""
    a = ctx.analysis
    t = ctx.t
    zh = ctx.lang == "zh"
    flags = _flags(ctx)
    doc = Document(title=t("cross"), lang=ctx.lang, sources_heading=t("sources"))
    cores = sorted((f for f in a.flags if f.flag == "transferable core"), key=_by_support)
    conditional = sorted((f for f in a.flags if f.flag == "conditional core"),
                         key=_by_support)
    doc.h(1, t("key"))
    items: list[list[Inline]] = []
    if not cores:
        items.append(_no_core_item(ctx))
    # the best-supported conditional cores at mechanism level, ties at the cut kept
    mech_conditional = [f for f in conditional
                        if node_layer(a.data.codebook, f.element) == "mechanism"]
    cut = mech_conditional[2].support if len(mech_conditional) > 3 else 0
    for f in cores + [f for f in mech_conditional if f.support >= cut]:
        cites = [first_cite(ctx, c, f.element) for c in f.success_cases[:2]]
        if zh:
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
                             == "practice" and f.support > 0), key=_by_support)
    doc.ul([[f"{ctx.label(f.element)}：{f.support}个成功案例（{'、'.join(f.success_cases)}）。"
             if zh else
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
    mrows = []
    for cid in sorted(a.data.cases):
        best = result_metrics(ctx, cid)[:1]
        mrows += [[cid, *_metric_row(m, ctx)] for m in best]
    doc.table([t("case"), t("indicator"), t("before"), t("after"), t("change"), t("unit"),
               t("direction"), t("evidence")], mrows)
    n_results = sum(not m["background"] for m in ctx.metrics)
    n_context = len(ctx.metrics) - n_results
    total = len(ctx.metrics) + ctx.metrics_in_lessons + ctx.metrics_restated
    doc.p(f"本编码轮次共提取{total}条量化记录（`casecoder export metrics`）："
          f"{ctx.metrics_in_lessons}条位于案例的“问题与教训”部分（讲述其他地方），{ctx.metrics_restated}条复述同一案例中已有的数字，"
          f"均不计入；其余{n_results}条为成效记录，来自{len(mrows)}个案例，每个案例列出排序最前的"
          f"一条（有前后对比或变化方向的优先）；另有{n_context}条背景或情境数据（如人口、规模），"
          f"不计入成效。" if zh else
          f"The pass extracted {total} quantified records (`casecoder export metrics`): "
          f"{ctx.metrics_in_lessons} stand in "
          f"a case's lessons section (they tell of other places) and {ctx.metrics_restated} "
          f"restate a figure of the same case; neither is counted. Of the rest, {n_results} are "
          f"results from {len(mrows)} cases (the first of each by rank is listed, changes "
          f"before plain levels) and {n_context} are background or context figures "
          f"(population, scale), not counted as results.")

    doc.h(1, t("conditions"))
    _ul_or_note(ctx, doc, _precondition_items(ctx, [f.element for f in cores + conditional]),
                "conditions")

    doc.h(1, t("transfer"))
    order = ["transferable core", "conditional core", "peripheral"]
    trows = [_flag_row(ctx, f, first_cite(ctx, f.success_cases[0], f.element))
             for f in sorted(a.flags, key=lambda f: (order.index(f.flag), f.element))
             if f.support > 0]
    doc.table(_flag_header(ctx), trows)
    from casecoder.flags import transfer_summary

    xrows = [[f"{ctx.v(r['from_setting'])} → {ctx.v(r['to_setting'])}", ctx.v(r["mode"]),
              f"{r['successes']}/{r['n']}", "、".join(r["cases"]),
              _cites(*(transfer_cite(ctx, c, o) for c, o in
                       list(zip(r["cases"], r["origins"], strict=True))[:3]))]
             for r in transfer_summary(a.records)]
    if xrows:
        doc.p("迁移记录（按经验来源场景与输入场景汇总）：" if zh else
              "Recorded transfers, by the settings they crossed:")
        doc.table([t("settings"), t("mode"), t("result"), t("case"), t("evidence")], xrows)

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
        pos = [e for e in evs if e.polarity > 0]
        neg = [e for e in evs if e.polarity < 0]
        # one sign when the evidence agrees; both, counted, when it does not
        sign = "+" if not neg else "−" if not pos else f"+{len(pos)}/−{len(neg)}"
        shown = evs[:2] if not (pos and neg) else [pos[0], neg[0]]
        k = support(key)
        s = (f"{ctx.label(key[0])} → {ctx.label(key[1])}（{sign}；跨案例{k}个案例支持，"
             f"{len(evs)}处引证）。" if ctx.lang == "zh" else
             f"{ctx.label(key[0])} → {ctx.label(key[1])} ({sign}; supported by {k} cases, "
             f"{len(evs)} citations). ")
        items.append([s, *[ctx.cite(e) for e in shown]])
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


def _transfer_clause(ctx: Context, tr: dict[str, Any]) -> str:
    """A case record's transfer entry in words (mode, origin, result), localised."""
    mode, origin, result = (str(tr.get("mode", "unknown")), str(tr.get("from", "unknown")),
                            str(tr.get("result", "unknown")))
    if ctx.lang == "zh":
        return f"迁移记录：{ctx.v(mode)}自{origin}，结果为“{ctx.v(result)}”。"
    return f"Transfer: {mode} from {origin}, {result}. "


def _risk_items(ctx: Context, case_id: str | None, elements: set[str]) -> list[list[Inline]]:
    a = ctx.analysis
    zh = ctx.lang == "zh"
    items = []
    for r in a.records:
        if r.success:
            continue
        own = r.id == case_id  # a failed or partial case states its own result
        if case_id is None:
            shared = sorted(r.elements)
        else:
            shared = [] if own else sorted(elements & set(r.elements))
            if not shared and not own:
                continue
        case = a.data.cases[r.id]
        probs = sorted(e for e in a.data.elements.get(r.id, set()) if e.startswith("prob."))
        cites = [first_cite(ctx, r.id, p) for p in probs[:2]]
        cites.append(front_matter_cite(ctx, r.id, "result"))
        result = case.outcome.get("result", "unknown")
        if zh:
            s = ((f"本案例（{r.id}）结果：{ctx.v(result)}" if own
                  else f"{case.title}（{r.id}，结果：{ctx.v(result)}）")
                 + (f"，与本案例共有要素：{'、'.join(ctx.label(e) for e in shared[:4])}"
                    if case_id is not None and shared else "")
                 + (f"；编码到的问题：{'、'.join(ctx.label(p) for p in probs)}" if probs else "")
                 + "。")
        else:
            s = ((f"This case ({r.id}), result: {result}" if own
                  else f"{case.title} ({r.id}, result: {result})")
                 + (f", sharing {', '.join(shared[:4])}" if case_id is not None and shared
                    else "")
                 + (f"; problems coded: {', '.join(probs)}" if probs else "") + ". ")
        for tr in case.transfers:
            s += _transfer_clause(ctx, tr)
            cites.append(transfer_cite(ctx, r.id, str(tr.get("from", ""))))
        items.append([s, *_cites(*cites)])
    return items


def _implementation_items(ctx: Context, elements: list[str]) -> list[list[Inline]]:
    """What to change where a condition is missing: the adaptation advice
    (:func:`casecoder.flags.adapt`) for targets lacking one condition each, kept where
    it asks for a change (adapt, or build the precondition first)."""
    from casecoder.flags import Target, adapt

    a = ctx.analysis
    flags = _flags(ctx)
    items = []
    for cond in CONTEXT_IDS:
        target = Target(conditions={c: ("absent" if c == cond else "present")
                                    for c in CONTEXT_IDS})
        for adv in adapt(a.records, target, a.thresholds, a.flags):
            if adv.element not in elements or adv.action not in (
                    "adapt", "build the precondition first"):
                continue
            # how much the corpus says about the condition for this element
            pre = next((p for p in flags[adv.element].preconditions if p.condition == cond),
                       None) if adv.element in flags else None
            basis = "" if pre is None else (
                f"；该条件：已知状况的{pre.necessity_n}个成功案例中{pre.necessity_k}个具备，"
                f"缺乏它的{pre.without_c_total}个案例中{pre.without_c_success}个成功"
                if ctx.lang == "zh" else
                f"; {pre.necessity_k} of {pre.necessity_n} successful cases with a known "
                f"state had it, {pre.without_c_success} of {pre.without_c_total} lacking it "
                f"succeeded")
            cites = [first_cite(ctx, c, s) for c in adv.cite_cases for s in adv.substitutes
                     if first_cite(ctx, c, s)][:2]
            cites += [front_matter_cite(ctx, c, cond) for c in adv.cite_cases[:2]]
            if ctx.lang == "zh":
                s = (f"目标地缺乏“{_cond_label(ctx, cond)}”时，{ctx.label(adv.element)}："
                     f"{_action_zh(adv.action)}"
                     + (f"（可采用{'、'.join(ctx.label(x) for x in adv.substitutes)}；"
                        f"依据：{'、'.join(adv.cite_cases)}{basis}）" if adv.substitutes else
                        f"（依据：{'、'.join(adv.cite_cases)}{basis}）") + "。")
            else:
                s = (f"Where {cond} is absent, {ctx.label(adv.element)}: {adv.action}"
                     + (f" (use {', '.join(adv.substitutes)}; evidence: "
                        f"{', '.join(adv.cite_cases)}{basis})" if adv.substitutes else
                        f" (evidence: {', '.join(adv.cite_cases)}{basis})") + ". ")
            items.append([s, *_cites(*cites)])
    return items


def _transfer_items(ctx: Context, case_id: str) -> list[list[Inline]]:
    """The case's recorded transfers, the other transfers of the same experience (from
    the same origin, or from this case), and how copying and adapting it went."""
    from casecoder.flags import transfers

    zh = ctx.lang == "zh"
    every = transfers(ctx.analysis.records)
    origins = {t.origin for t in every if t.case == case_id} | {case_id}
    related = sorted((t for t in every if t.case == case_id or t.origin in origins),
                     key=lambda t: (t.case != case_id, t.case, t.origin))
    items: list[list[Inline]] = []

    def where(cid: str, setting: str) -> str:
        if setting == "unknown":
            return cid
        return f"{cid}（{ctx.v(setting)}）" if zh else f"{cid} ({setting})"

    for tr in related:
        who = where("本案例" if zh else "this case", tr.setting) if tr.case == case_id \
            else where(tr.case, tr.setting)
        origin = ("本案例" if zh else "this case") if tr.origin == case_id else \
            where(tr.origin, tr.origin_setting) if tr.origin in ctx.analysis.data.cases \
            else tr.origin
        if zh:
            what = origin if origin.endswith("经验") else f"{origin}的经验"
            s = f"{who}{ctx.v(tr.mode)}了{what}，结果为“{ctx.v(tr.result)}”。"
        else:
            s = f"{who[0].upper()}{who[1:]} {tr.mode} the experience of {origin}: {tr.result}. "
        items.append([s, *_cites(transfer_cite(ctx, tr.case, tr.origin))])
    by_origin: dict[str, list[Any]] = defaultdict(list)
    for tr in related:
        by_origin[tr.origin].append(tr)
    for origin, ts in sorted(by_origin.items()):
        modes = sorted({tr.mode for tr in ts})
        if len(modes) < 2:
            continue
        parts = []
        for mode in modes:
            with_mode = [tr for tr in ts if tr.mode == mode]
            wins = [tr.case for tr in with_mode if tr.result == "success"]
            parts.append(f"{ctx.v(mode)}{len(with_mode)}次，其中{len(wins)}次成功"
                         f"（{'、'.join(tr.case for tr in with_mode)}）" if zh else
                         f"{mode} {len(with_mode)} times, {len(wins)} successful "
                         f"({', '.join(tr.case for tr in with_mode)})")
        s = (f"来自{origin}的经验：{'；'.join(parts)}。" if zh else
             f"The experience of {origin}: {'; '.join(parts)}. ")
        items.append([s, *_cites(*(transfer_cite(ctx, tr.case, tr.origin) for tr in ts))])
    return items


NO_FINDING = {
    ("zh", "conditions"): "语料中没有足够证据判定前提条件"
                          "（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "conditions"): "The corpus holds too little evidence to establish preconditions "
                          "(a note on missing evidence, not a finding).",
    ("zh", "notes"): "语料未显示需要改造的情形，也没有本案例经验的迁移记录"
                     "（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "notes"): "The corpus shows no situation that calls for adaptation and records no "
                     "transfer of this experience (a note on missing evidence, not a finding).",
    ("zh", "how"): "语料中没有本案例的因果链接，无法给出机制链"
                   "（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "how"): "The corpus holds no causal link for this case, so no mechanism chain can "
                   "be given (a note on missing evidence, not a finding).",
    ("zh", "why"): "本案例没有编码到带理论依据的机制（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "why"): "No mechanism with a theory reference is coded in this case (a note on "
                   "missing evidence, not a finding).",
    ("zh", "practice"): "本案例没有编码到具体做法（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "practice"): "No practice is coded in this case (a note on missing evidence, not "
                        "a finding).",
    ("zh", "transfer"): "本案例没有编码到可判定迁移性的要素"
                        "（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "transfer"): "No flagged element is coded in this case (a note on missing "
                        "evidence, not a finding).",
    ("zh", "risks"): "语料中没有与本案例共有要素的失败或部分成功案例"
                     "（这是一条关于证据缺失的说明，不是发现）。",
    ("en", "risks"): "No failed or partial case shares an element with this case (a note on "
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
    sweep, with_core, top, who = _sweep_facts(ctx)
    grid = ", ".join(f"{k} {min(v)}–{max(v)}" for k, v in sweep["grid"].items())
    if ctx.lang == "zh":
        line = (f"阈值扫描（casecoder graph sensitivity）：{sweep['settings']}组设置（{grid}）；"
                f"其中{with_core}组出现可迁移内核")
        if top is not None:
            line += f"；出现可迁移内核的最高必要性阈值：{top}（{'、'.join(who)}）"
        return [line + "。"]
    line = (f"threshold sweep (casecoder graph sensitivity): {sweep['settings']} settings "
            f"({grid}); transferable cores in {with_core} of them")
    if top is not None:
        line += (f"; the highest necessity threshold at which an element is one: {top} "
                 f"({', '.join(who)})")
    return [line + "."]


def _method(ctx: Context, doc: Document, sweep: bool = False) -> None:
    a = ctx.analysis
    cb = a.data.codebook
    doc.h(1, ctx.t("method"))
    if ctx.lang == "zh":
        lines = [
            [f"编码本：{cb.name} {cb.version}（{cb.path}），sha256 {cb.sha256}"],
            [f"编码轮次：{ctx.pass_name}（编码者 {cb.coder}）；案例数：{len(a.records)}；"
             f"因果链接数：{len(a.data.links)}"],
            [f"阈值：{_thresholds_text(ctx)}"],
            ["结果变量：案例结果为“成功”（部分成功与失败均计为未成功）；"
             "状态未知的条件不计入需要该条件的计数。"],
        ]
    else:
        lines = [
            [f"codebook: {cb.name} {cb.version} ({cb.path}), sha256 {cb.sha256}"],
            [f"pass: {ctx.pass_name} (coder {cb.coder}); cases: {len(a.records)}; "
             f"links: {len(a.data.links)}"],
            [f"thresholds: {_thresholds_text(ctx)}"],
            ["Outcome = case result 'success' (partial and failure count as not success); "
             "unknown conditions are left out of the counts that need them."],
        ]
    doc.ul(lines + ([_sweep_line(ctx)] if sweep else []))


# -- teaching ------------------------------------------------------------------------------

# a clause that reports the study's reading rather than what happened
_ANALYTIC = re.compile(
    r"研究[^，。；！？]{0,30}?(?:认为|指出|主张|强调|提醒|概括|提炼|归纳|列为|称为|采用|说明|论述|讨论)"
    r"|研究把|研究将|看来|核心逻辑|之所以|内涵|表明|说明|认为|概括为|提炼|归纳为|在分析"
    r"|分析[^，。；]{0,12}时|案例分析|所引文献")
_LEAD_IN_MIN = 8  # shortest factual lead-in kept before an analytic clause


def _narrative(ctx: Context, case_id: str, names: tuple[str, ...]) -> list[tuple[str, Cite]]:
    """The neutral sentences of the named ``##`` sections of the case file: each as the
    text to print and its citation. Sentences reporting the study's analysis are left
    out, keeping a factual lead-in before the analytic clause; so are sentences coded at
    theory level."""
    srcs = ctx.case_sources.get(case_id, [])
    if not srcs or srcs[0].kind != "case":
        return []
    src = srcs[0]
    cb = ctx.analysis.data.codebook
    theory = [(ev.start_char, ev.end_char)
              for (cid, code), evs in ctx.analysis.data.code_evidence.items()
              if cid == case_id and node_layer(cb, code) == "theory"
              for ev in evs if ev.source == src.name]
    heads = list(_SECTION.finditer(src.text))
    out = []
    for i, h in enumerate(heads):
        if h.group(1) not in names:
            continue
        end = heads[i + 1].start() if i + 1 < len(heads) else len(src.text)
        for a, b in ctx.analysis.data.sentences.get(src.name, []):
            if not (h.end() <= a and b <= end):
                continue
            if any(x < b and a < y for x, y in theory):
                continue
            text = src.text[a:b]
            m = _ANALYTIC.search(text)
            if m is None:
                out.append((text, Cite(src.name, a, b, text, case_id)))
                continue
            cut = max(text.rfind("，", 0, m.start()), text.rfind("；", 0, m.start()))
            lead = text[:cut] if cut > 0 else ""
            if len(lead) >= _LEAD_IN_MIN and "研究" not in lead:
                out.append((lead + "。", Cite(src.name, a, a + cut, lead, case_id)))
    return out


def _region(case: Any) -> str:
    region = str(case.attributes.get("region", "unknown"))
    return "" if region in ("unknown", "全国") else region


def _place(case: Any) -> str:
    """Province and city of a case where known, else its region."""
    a = case.attributes
    known = [str(a[k]) for k in ("province", "city") if str(a.get(k, "unknown")) != "unknown"]
    return "".join(dict.fromkeys(known)) or _region(case)


def neutral_title(ctx: Context, case_id: str) -> str:
    """A teaching case's title from its facts (place, setting, practices), not its result."""
    a = ctx.analysis
    case = a.data.cases[case_id]
    cb = a.data.codebook
    setting = str(case.attributes.get("setting", "unknown"))
    industry = str(case.attributes.get("industry", "unknown"))
    elements = a.data.elements.get(case_id, set())

    def most_evidence(es: list[str]) -> list[str]:
        return sorted(es, key=lambda e: (-len(evidence_of(ctx, case_id, e)), e))

    practices = most_evidence([e for e in elements if node_layer(cb, e) == "practice"])
    mechs = most_evidence([e for e in elements if node_layer(cb, e) == "mechanism"
                           and e.startswith("mech.")])
    # a failed or partial case is not named after practices it may never have run
    shown = [ctx.short_label(e) for e in (practices or mechs)[:2]] if case.succeeded else []
    if ctx.lang == "zh":
        if setting == "industry" and industry != "unknown":
            where = _place(case) + f"{industry}行业"
        elif setting == "cross_region":
            where = f"{_region(case)}地区" if _region(case) else ctx.v(setting)
        else:
            where = _place(case) + (ctx.v(setting) if setting != "unknown" else "")
        what = "、".join(shown) or "治理实践"
        return f"{where or '某地'}的{what}"
    where = ", ".join(x for x in (_place(case), setting.replace("_", " ")
                                  if setting != "unknown" else "") if x)
    return f"{' and '.join(shown) or 'Governance practice'}" + (f" ({where})" if where else "")


def teaching_case(ctx: Context, case_id: str) -> Document:
    """The case body: a neutral narrative from the case text, ending in a decision point."""
    t = ctx.t
    title = neutral_title(ctx, case_id)
    doc = Document(title=f"{t('teaching_case')}：{title}" if ctx.lang == "zh"
                   else f"{t('teaching_case')}: {title}", lang=ctx.lang,
                   sources_heading=t("sources"))
    for heading, section in (("background", "背景"), ("practice", "主要做法")):
        doc.h(1, t(heading))
        told = _narrative(ctx, case_id, (section,))
        for text, c in told:
            doc.p(text, c)
        if not told:
            doc.p("（案例材料的这一部分只有研究的分析，没有可供叙述的事实，故略去。）"
                  if ctx.lang == "zh" else
                  "(This part of the case material holds only the study's analysis and "
                  "is left out.)")
    doc.h(1, t("decision"))
    doc.p(*_decision_point(ctx, case_id))
    return doc


def decision_condition(ctx: Context, case_id: str) -> str | None:
    """The condition a case's decision point turns on.

    In order: a blocking precondition of the case's elements whose state in the case is
    known (absent before present); a condition tested for its elements (blocking or
    limited diversity) with a known state; any condition whose state the case records;
    a blocking precondition whose state is unknown; else none.
    """
    case = ctx.analysis.data.cases[case_id]
    flags = _flags(ctx)
    state = {c: case.conditions.get(c, "unknown") for c in CONTEXT_IDS}
    pre = [p for e in case_elements(ctx, case_id) for p in flags[e].preconditions]
    blocking = {p.condition for p in pre if p.status in BLOCKING}
    tested = blocking | {p.condition for p in pre if p.status == "untested: limited diversity"}
    tiers = [
        [c for c in CONTEXT_IDS if c in blocking and state[c] == "absent"],
        [c for c in CONTEXT_IDS if c in blocking and state[c] == "present"],
        [c for c in CONTEXT_IDS if c in tested and state[c] == "absent"],
        [c for c in CONTEXT_IDS if c in tested and state[c] == "present"],
        [c for c in CONTEXT_IDS if state[c] == "absent"],
        [c for c in CONTEXT_IDS if state[c] == "present"],
        [c for c in CONTEXT_IDS if c in blocking],
    ]
    return next((tier[0] for tier in tiers if tier), None)


def _decision_point(ctx: Context, case_id: str) -> list[Inline]:
    case = ctx.analysis.data.cases[case_id]
    cond = decision_condition(ctx, case_id)
    setting = str(case.attributes.get("setting", "unknown"))
    if ctx.lang == "zh":
        who = f"假设你是一个{_setting_zh(setting)}的负责人，正在考虑引入上述做法。"
        ask = "你会原样引入哪些做法，改造哪些做法，又需要先补齐哪些条件？请说明理由。"
        if cond is None:
            return [who + "如果你所在地方的场景与情境条件与本案例不同，" + ask]
        state = case.conditions.get(cond, "unknown")
        label = ctx.short_label(cond)  # students read labels, not code ids
        if state == "unknown":
            return [who + f"本案例材料没有说明“{label}”的状况。如果你所在地方缺乏这一条件，" + ask]
        fact = f"本案例中“{label}”的状况为“{ctx.t(state)}”。"
        what_if = ("如果你所在地方同样缺乏这一条件，" if state == "absent" else
                   "如果你所在地方缺乏这一条件，")
        return [who + fact, *_cites(front_matter_cite(ctx, case_id, cond)), what_if + ask]
    site = f"You lead a {setting.replace('_', ' ')} site" if setting != "unknown" else \
        "You lead a site"
    ask = ("Which of these practices would you copy, which adapt, and which conditions "
           "would you build first? Give your reasons.")
    if cond is None:
        return [f"{site} whose setting and conditions differ from this case. {ask}"]
    state = case.conditions.get(cond, "unknown")
    label = ctx.short_label(cond)
    if state == "unknown":
        return [f"{site} considering these practices. The case does not record its {label}. "
                f"If your site lacks it: {ask}"]
    return [f"{site} considering these practices. In this case {label} is {state}. ",
            *_cites(front_matter_cite(ctx, case_id, cond)),
            f"If your site {'also lacks' if state == 'absent' else 'lacks'} it: {ask}"]


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
    def question(m: str) -> str:
        # how a mechanism was carried out is asked of a case where it worked; of a failed
        # or partial case, what stood in its way
        if ctx.lang == "zh":
            return (f"本案例中“{ctx.label(m)}”是通过哪些具体做法实现的？它解决了什么问题？"
                    if case.succeeded else f"本案例中“{ctx.label(m)}”为什么没有（或没有完全）"
                    "落地？缺少哪些条件或做法？")
        return (f"Through which practices does {ctx.label(m)} work here, and on what problem?"
                if case.succeeded else f"Why did {ctx.label(m)} not take hold here (or only "
                "in part)? What conditions or practices were missing?")

    qs = [[question(m)] for m in mechs[:3]]
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
    # preconditions of every coded element of the case, practices included
    pts += _precondition_items(ctx, case_elements(ctx, case_id))
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
    zh = ctx.lang == "zh"
    flags = _flags(ctx)
    doc = Document(title=t("comparison"), lang=ctx.lang, sources_heading=t("sources"))
    rows = []
    sep = "、" if zh else ", "
    for cid, case in sorted(a.data.cases.items()):
        mechs = sorted(e for e in a.data.elements.get(cid, set())
                       if e.startswith("mech.") and e.count(".") == 1)
        cores = [m for m in mechs if flags.get(m) and flags[m].flag == "transferable core"]
        name = ctx.short_label if zh else (lambda m: frame_id(m).split(".")[1])
        best = result_metrics(ctx, cid)[:1]
        rows.append([cid, case.title, ctx.v(case.attributes.get("region", "unknown")),
                     ctx.v(case.attributes.get("setting", "unknown")),
                     [ctx.v(case.outcome.get("result", "unknown")),
                      *_cites(front_matter_cite(ctx, cid, "result"))],
                     sep.join(name(m) for m in mechs) or "-",
                     sep.join(name(c) for c in cores) or "-",
                     [_metric_sentence(ctx, best[0]), _metric_cite(ctx, best[0])]
                     if best else "-"])
    doc.table([t("case"), t("title"), t("regions"), t("settings"), t("result"),
               t("mechanisms"), t("transferable core"), t("key_figure")], rows)
    return doc


def case_diagram(ctx: Context, case_id: str) -> bytes:
    from casecoder.pictures import draw_graph

    g = case_graph(ctx.analysis.data, case_id)
    return draw_graph(g, None, "png", f"{case_id} {ctx.analysis.data.cases[case_id].title}")
