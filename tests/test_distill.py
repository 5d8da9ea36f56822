"""The distilled outputs of `casecoder run`: citations, determinism, Word, HTML rendering."""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import CASES, CODEBOOK, invoke

from casecoder.pipeline import run
from casecoder.store import Store


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("run1")
    summary = run(CASES, out, CODEBOOK)
    return out, summary


def _citation_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.citations.jsonl"))


def test_every_citation_stands_in_the_stored_text(outputs):
    out, _ = outputs
    with Store(out / "project") as store:
        texts = {s.name: s.text for s in store.sources()}
    files = _citation_files(out)
    docs = [p for p in out.rglob("*") if p.suffix in (".md", ".docx", ".html")]
    assert len(files) == len(docs) > 20
    n = 0
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            c = json.loads(line)
            assert texts[c["source"]][c["start_char"]:c["end_char"]] == c["quote"], (f, c)
            n += 1
    assert n > 200


def test_findings_carry_citations(outputs):
    out, _ = outputs
    md = (out / "summaries" / "cross-case.md").read_text(encoding="utf-8")
    body = md.split("## 方法说明")[0]
    for section in ("## 核心信息", "## 作用机制（机制链）", "## 适用条件", "## 风险与失败模式"):
        assert section in body
    # every bullet that states a finding (outside the method note) carries a [n] citation
    for line in body.splitlines():
        if line.startswith("- "):
            assert re.search(r"\[\d+\]", line), line
    n_cites = len(_citation_lines(out / "summaries" / "cross-case.md.citations.jsonl"))
    assert f"{n_cites}. " in md.split("## 来源与引文")[1]


def _citation_lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").splitlines()


def test_summary_sections_case(outputs):
    out, _ = outputs
    md = (out / "summaries" / "cases" / "C01.md").read_text(encoding="utf-8")
    for h in ("核心信息", "情境概况", "主要做法", "作用机制", "理论依据", "成效", "适用条件",
              "可迁移性", "风险与失败模式", "实施要点", "方法说明", "来源与引文"):
        assert f"## {h}" in md
    assert "sha256" in md


def test_teaching_pack(outputs):
    out, _ = outputs
    case = (out / "teaching" / "C01" / "case.md").read_text(encoding="utf-8")
    assert "## 决策点" in case and "## 成效" not in case
    note = (out / "teaching" / "C01" / "note.md").read_text(encoding="utf-8")
    for h in ("教学目的与用途", "启发思考题", "分析思路", "理论依据与分析", "关键要点",
              "建议课堂计划", "附件：机制图"):
        assert f"## {h}" in note
    assert (out / "teaching" / "C01" / "C01-mechanisms.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "teaching" / "course-comparison.docx").exists()


def test_docx_opens_with_fixed_properties(outputs):
    import docx

    out, _ = outputs
    d = docx.Document(str(out / "summaries" / "cross-case.docx"))
    assert d.core_properties.created.year == 2000
    assert d.core_properties.author == "casecoder"
    assert any(p.text == "核心信息" for p in d.paragraphs)
    assert len(d.tables) >= 3


def test_two_runs_byte_identical(outputs, tmp_path):
    out, _ = outputs
    out2 = tmp_path / "run2"
    run(CASES, out2, CODEBOOK)
    cmp = filecmp.dircmp(out, out2, ignore=["project"])
    diffs: list[str] = []

    def walk(c: filecmp.dircmp, prefix: str = "") -> None:
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        diffs.extend(prefix + m for m in mismatch + errors)
        diffs.extend(prefix + m for m in c.left_only + c.right_only)
        for name, sub in c.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(cmp)
    assert diffs == []
    # the project store differs only in when things ran (runs, migrations): its content
    # tables are the same row for row
    content = {}
    for root in (out, out2):
        db = sqlite3.connect(root / "project" / "casecoder.sqlite")
        content[root] = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                         for t in ("sources", "segments", "cases", "passes", "codings",
                                   "metrics", "links")}
        db.close()
    for t, rows in content[out].items():
        assert rows == content[out2][t], t


def test_english_headings(outputs, runner, tmp_path):
    out, _ = outputs
    target = tmp_path / "en.md"
    r = invoke(runner, "distill", "summary", "--project", out / "project", "--codebook",
               CODEBOOK, "--lang", "en", "--out", target)
    assert r.exit_code == 0, r.output
    md = target.read_text(encoding="utf-8")
    assert "## Key messages" in md and "## Sources and quotes" in md
    # English output keeps the record's enum values in English
    assert "Transfer: copied from" in md and "迁移记录" not in md
    r = invoke(runner, "distill", "summary", "--project", out / "project", "--codebook",
               CODEBOOK, "--lang", "fr", "--out", target)
    assert r.exit_code == 1 and "[CC504]" in r.output
    r = invoke(runner, "distill", "summary", "--project", out / "project", "--codebook",
               CODEBOOK, "--case", "C99", "--out", target)
    assert r.exit_code == 1 and "[CC502]" in r.output


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(html: Path, png: Path, profile: Path) -> None:
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
         "--window-size=1000,260", f"--screenshot={png}", html.as_uri()],
        check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(_chromium() is None and not os.environ.get("CI"),
                    reason="chromium not installed (scripts/setup.sh --dev installs it)")
def test_html_report_renders_chinese_in_chromium(outputs, tmp_path):
    """Screenshot the report; compare with the same page whose Chinese title characters are
    replaced by an unassigned code point (drawn as a missing-glyph box). Real glyphs must
    look different from boxes, and the page must have ink."""
    from PIL import Image, ImageChops

    assert _chromium() is not None, "chromium is required: bash scripts/setup.sh --dev"
    out, _ = outputs
    report = out / "summaries" / "cross-case.html"
    shot = tmp_path / "report.png"
    _screenshot(report, shot, tmp_path / "profile1")
    html = report.read_text(encoding="utf-8")
    title = re.search(r"<h1>(.*?)</h1>", html).group(1)
    tofu = re.sub(r"[\u4e00-\u9fff]", "\U000e0fff", title)
    boxed = tmp_path / "boxed.html"
    boxed.write_text(html.replace(f"<h1>{title}</h1>", f"<h1>{tofu}</h1>", 1), encoding="utf-8")
    shot2 = tmp_path / "boxed.png"
    _screenshot(boxed, shot2, tmp_path / "profile2")
    import numpy as np

    a = Image.open(shot).convert("L")
    b = Image.open(shot2).convert("L")
    ink = int((np.asarray(a) < 128).sum())
    assert ink > 500, "the page rendered no text"
    changed = int((np.asarray(ImageChops.difference(a, b)) > 40).sum())
    assert changed > 300, "Chinese title renders like missing-glyph boxes"


def test_method_note_states_the_computed_threshold_sweep(outputs):
    out, _summary = outputs
    sweep = json.loads((out / "data" / "sensitivity.json").read_text(encoding="utf-8"))
    text = (out / "summaries" / "cross-case.md").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("- 阈值扫描"))
    with_core = sum(1 for r in sweep["runs"] if r["cores"])
    assert f"{sweep['settings']}组设置" in line
    assert f"其中{with_core}组出现可迁移内核" in line
    if sweep["core_max_necessity"]:
        assert f"{max(sweep['core_max_necessity'].values())}（" in line


def test_teaching_notes_name_the_blocking_preconditions_of_their_elements(outputs):
    from casecoder.codebook import load_codebook
    from casecoder.flags import BLOCKING
    from casecoder.graph import analyse

    out, _summary = outputs
    with Store(out / "project") as store:
        a = analyse(store, "rules", load_codebook(CODEBOOK))
    flags = {f.element: f for f in a.flags}
    checked = 0
    for case_id, elements in sorted(a.data.elements.items()):
        note = (out / "teaching" / case_id / "note.md").read_text(encoding="utf-8")
        points = note.split("## 关键要点", 1)[1].split("\n## ", 1)[0]
        for e in sorted(elements & flags.keys()):
            for p in flags[e].preconditions:
                if p.status in BLOCKING:
                    line = next((x for x in points.splitlines()
                                 if f"（{e}）" in x and f"（{p.condition}）" in x), None)
                    assert line is not None, (case_id, e, p.condition)
                    assert f"{p.without_c_success}个成功" in line
                    checked += 1
    assert checked > 0


# -- what the summaries and teaching packs say, checked against the computation ----------

@pytest.fixture(scope="module")
def computed(outputs):
    """The analysis and writer context of the run's project, as the writers saw them."""
    from casecoder.codebook import load_codebook
    from casecoder.distill import make_context
    from casecoder.graph import analyse

    out, _summary = outputs
    with Store(out / "project") as store:
        a = analyse(store, "rules", load_codebook(CODEBOOK), extract_links=False)
        ctx = make_context(store, a, "rules")
    return a, ctx


def _section(md: str, heading: str) -> str:
    return md.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def _summaries(out: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8")
            for p in sorted((out / "summaries" / "cases").glob("C*.md"))}


def test_case_conditions_include_practice_level_preconditions(outputs, computed):
    from casecoder.distill import case_elements
    from casecoder.flags import BLOCKING
    from casecoder.graph import node_layer

    out, _ = outputs
    a, ctx = computed
    flags = {f.element: f for f in a.flags}
    checked, practices = 0, 0
    for case_id, md in _summaries(out).items():
        conditions = _section(md, "适用条件").splitlines()
        for e in case_elements(ctx, case_id):
            for p in flags[e].preconditions:
                if p.status not in BLOCKING:
                    continue
                line = next((x for x in conditions
                             if f"（{e}）" in x and f"（{p.condition}）" in x), None)
                assert line is not None, (case_id, e, p.condition)
                assert f"{p.without_c_success}个成功" in line
                checked += 1
                practices += node_layer(a.data.codebook, e) == "practice"
    assert checked and practices


def test_key_messages_and_result_tables_report_results_not_background(outputs, computed):
    from casecoder.distill import (
        _metric_sentence,
        context_metrics,
        metric_phrase,
        result_metrics,
    )

    out, _ = outputs
    a, ctx = computed
    summaries = _summaries(out)
    cross = _section((out / "summaries" / "cross-case.md").read_text(encoding="utf-8"), "成效")
    course = (out / "teaching" / "course-comparison.md").read_text(encoding="utf-8")
    with_background = 0
    for case_id, md in summaries.items():
        key = _section(md, "核心信息")
        results = result_metrics(ctx, case_id)
        for m in results[:2]:
            assert metric_phrase(ctx, m) in key, (case_id, m)
            assert m["section"] != "背景" and not m["background"]
        changes = [m for m in results if m["before"] is not None or m["change"] is not None
                   or m["direction"] != "level"]
        if changes:  # a result with a change or direction comes before a static value
            assert results[0]["direction"] != "level" or results[0]["change"] is not None
        for m in context_metrics(ctx, case_id):
            with_background += 1
            assert _metric_sentence(ctx, m) not in key, (case_id, m)
            assert _metric_sentence(ctx, m) in _section(md, "情境概况")
        # the one-figure columns show each case's first result figure
        if results:
            assert f"| {case_id} | {results[0]['indicator']} |" in cross
            row = next(x for x in course.splitlines() if x.startswith(f"| {case_id} |"))
            assert _metric_sentence(ctx, results[0]) in row
    assert with_background  # baselines and context figures exist and were kept out


def test_the_count_of_figures_accounts_for_every_stored_record(outputs, computed):
    out, _ = outputs
    _a, ctx = computed
    with Store(out / "project") as store:
        stored = store.count("metrics")
    cross = (out / "summaries" / "cross-case.md").read_text(encoding="utf-8")
    m = re.search(r"共提取(\d+)条量化记录.*?(\d+)条位于.*?(\d+)条复述.*?其余(\d+)条为成效记录.*?"
                  r"另有(\d+)条背景", cross)
    assert m is not None
    total, lessons, restated, results, background = map(int, m.groups())
    assert total == stored == lessons + restated + results + background
    assert results + background == len(ctx.metrics)


def test_figures_keep_their_bounds(outputs, computed):
    from casecoder.distill import _BOUNDS, metric_phrase, result_metrics

    out, _ = outputs
    a, ctx = computed
    bounded = [m for m in ctx.metrics if m["qualifier"] in _BOUNDS and m["after"] is not None]
    assert bounded
    for m in bounded:
        assert f"{m['qualifier']}{m['after']:g}{m['unit']}" in metric_phrase(ctx, m)
    for case_id, md in _summaries(out).items():
        top = result_metrics(ctx, case_id)[:1]
        if top and top[0]["qualifier"] in _BOUNDS:
            key = _section(md, "核心信息")
            assert f"{top[0]['qualifier']}{top[0]['after']:g}" in key, case_id


def test_cross_case_key_messages_order_cores_by_support_and_say_when_none(outputs, computed):
    from casecoder.graph import node_layer

    out, _ = outputs
    a, _ctx = computed
    key = _section((out / "summaries" / "cross-case.md").read_text(encoding="utf-8"), "核心信息")
    flags = {f.element: f for f in a.flags}
    listed = [re.search(r"（(mech\.[a-z_.]+)）为“条件性内核”", x).group(1)
              for x in key.splitlines() if "为“条件性内核”" in x]
    assert listed == sorted(listed, key=lambda e: (-flags[e].support, e))
    mech_level = sorted((f for f in a.flags if f.flag == "conditional core"
                         and node_layer(a.data.codebook, f.element) == "mechanism"),
                        key=lambda f: (-f.support, f.element))
    cut = mech_level[2].support if len(mech_level) > 3 else 0
    assert set(listed) == {f.element for f in mech_level if f.support >= cut}
    no_core = [x for x in key.splitlines() if "没有要素达到“可迁移内核”的标准" in x]
    cores = [f for f in a.flags if f.flag == "transferable core"]
    assert bool(no_core) == (not cores)
    if no_core:
        sweep = json.loads((out / "data" / "sensitivity.json").read_text(encoding="utf-8"))
        with_core = sum(1 for r in sweep["runs"] if r["cores"])
        assert f"{sweep['settings']}组设置中，{with_core}组出现可迁移内核" in no_core[0]
        assert f"necessity={a.thresholds.necessity}" in no_core[0]
        assert re.search(r"\[\d+\]$", no_core[0])


def test_case_transferability_tables_show_industries_and_resource_levels(outputs, computed):
    from casecoder.distill import case_elements

    out, _ = outputs
    a, ctx = computed
    by_id = {r.id: r for r in a.records}
    flags = {f.element: f for f in a.flags}
    rows = 0
    for case_id, md in _summaries(out).items():
        table = _section(md, "可迁移性")
        if not case_elements(ctx, case_id):
            assert "证据缺失的说明" in table
            continue
        assert "| 行业 | 资源水平 |" in table.splitlines()[2]
        for e in case_elements(ctx, case_id):
            f = flags[e]
            row = next(x for x in table.splitlines() if f"（{e}）" in x)
            cells = [c.strip() for c in row.strip("|").split("|")]
            inds = sorted({by_id[c].industry for c in f.success_cases} - {"unknown"})
            buds = sorted({ctx.v(by_id[c].budget) for c in f.success_cases} - {"未知"})
            assert cells[6] == ("、".join(inds) or "-") and cells[7] == ("、".join(buds) or "-")
            rows += 1
    assert rows


def test_implementation_notes_use_the_transfer_records(outputs, computed):
    from casecoder.flags import transfers

    out, _ = outputs
    a, ctx = computed
    every = transfers(a.records)
    checked = 0
    for case_id, md in _summaries(out).items():
        notes = _section(md, "实施要点")
        origins = {t.origin for t in every if t.case == case_id} | {case_id}
        related = [t for t in every if t.case == case_id or t.origin in origins]
        for t in related:
            who = "本案例" if t.case == case_id else t.case
            line = next((x for x in notes.splitlines() if x.startswith(f"- {who}")
                         and f"{ctx.v(t.mode)}了" in x and f"“{ctx.v(t.result)}”" in x), None)
            assert line is not None, (case_id, t)
            assert re.search(r"\[\d+\]$", line)
            checked += 1
        if related:
            assert "语料未显示需要改造的情形" not in notes
    assert checked
    # a copy that failed beside an adaptation that succeeded, from the same origin
    pairs = {(t.origin, t.mode, t.result) for t in every}
    for origin, _m, _r in pairs:
        if {(origin, "copied", "failure"), (origin, "adapted", "success")} <= pairs:
            failed = next(t.case for t in every if t.origin == origin and t.mode == "copied")
            notes = _section(_summaries(out)[failed], "实施要点")
            assert f"来自{origin}的经验：" in notes


def test_every_case_summary_section_has_content_or_a_note(outputs):
    out, _ = outputs
    for case_id, md in _summaries(out).items():
        for h in ("主要做法", "作用机制（机制链）", "理论依据", "适用条件", "可迁移性",
                  "风险与失败模式", "实施要点"):
            body = _section(md, h).strip()
            assert body, (case_id, h)
            assert re.search(r"\[\d+\]", body) or "证据缺失的说明" in body, (case_id, h)


def test_teaching_case_bodies_are_neutral_with_a_relevant_decision_point(outputs, computed):
    from casecoder.distill import _ANALYTIC, case_elements, decision_condition
    from casecoder.flags import BLOCKING
    from casecoder.models import CONTEXT_IDS

    out, _ = outputs
    a, ctx = computed
    flags = {f.element: f for f in a.flags}
    figure = re.compile(r"[0-9]+(?:\.[0-9]+)?%")
    named_blocking = 0
    for case_id, case in sorted(a.data.cases.items()):
        path = out / "teaching" / case_id / "case.md"
        if not path.exists():
            continue
        md = path.read_text(encoding="utf-8")
        title = md.splitlines()[0]
        assert case.title not in title
        text = md.split("## 来源与引文", 1)[0]  # the quotes below may show front matter
        assert not re.search(r"\b(?:mech|ctx|prob|out)\.[a-z_]+", text), case_id  # no ids
        if case.outcome.get("result") != "success":  # not named after what it may not have run
            assert title.endswith("治理实践"), (case_id, title)
            note = (out / "teaching" / case_id / "note.md").read_text(encoding="utf-8")
            assert "是通过哪些具体做法实现的" not in note, case_id
        for f in case.outcome.get("figures") or []:
            for n in figure.findall(str(f)):
                assert n not in title, (case_id, title)
        body = md.split("## 背景", 1)[1].split("## 决策点", 1)[0]
        for line in body.splitlines():
            assert not _ANALYTIC.search(re.sub(r"\[\d+\]", "", line)), (case_id, line)
        decision = _section(md, "决策点")
        cond = decision_condition(ctx, case_id)
        known = [c for c in CONTEXT_IDS if case.conditions.get(c, "unknown") != "unknown"]
        if cond is None or case.conditions.get(cond, "unknown") == "unknown":
            assert not known, (case_id, cond)
        if cond is not None:  # named by its label: students read no code ids
            assert f"“{ctx.short_label(cond)}”" in decision and cond not in decision
        at_stake = [p.condition for e in case_elements(ctx, case_id)
                    for p in flags[e].preconditions
                    if p.status in BLOCKING and case.conditions.get(p.condition) == "absent"]
        if at_stake:
            assert cond in at_stake, (case_id, cond, at_stake)
            named_blocking += 1
    assert named_blocking  # e.g. the western copy of a platform without a network
    course = (out / "teaching" / "course-comparison.md").read_text(encoding="utf-8")
    assert "| 案例 | 案例名称 |" in course and "title" not in course.split("## 来源与引文")[0]


ENUMS = {"copied", "adapted", "inspired", "success", "partial", "failure", "urban_community",
         "rural", "industry", "cross_region", "unknown", "up", "down", "level", "low", "high",
         "present", "absent"}


def test_chinese_documents_use_no_english_enum_values(outputs):
    out, _ = outputs
    docs = sorted((out / "summaries").rglob("*.md")) + sorted((out / "teaching").rglob("*.md"))
    assert docs
    for p in docs:
        text = p.read_text(encoding="utf-8").split("## 来源与引文")[0]
        text = re.sub(r"[（(](?:mech|ctx|out|prob)[a-z_.]*[）)]", "", text)  # code ids
        words = set(re.findall(r"[A-Za-z_]+", text))
        assert not words & ENUMS, (p.name, sorted(words & ENUMS))


def test_adaptation_advice_states_how_much_the_corpus_says(outputs):
    out, _ = outputs
    advice = [line for md in _summaries(out).values() for line in md.splitlines()
              if line.startswith("- 目标地缺乏")]
    assert advice
    basis = re.compile(r"该条件：已知状况的\d+个成功案例中\d+个具备，缺乏它的\d+个案例中\d+个成功")
    for line in advice:
        assert basis.search(line), line
