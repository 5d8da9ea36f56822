from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from casecoder import coding, lang_zh
from casecoder.codebook import load_codebook
from casecoder.coding import CompiledCodebook, code, leading_literal
from casecoder.errors import CasecoderError
from casecoder.ingest import ingest
from casecoder.models import Source
from casecoder.store import Store

MINI = Path(__file__).parent / "data" / "mini_codebook.yaml"

NARRATIVE = """## 背景
当地网络薄弱，群众参与不足。
## 主要做法
搭建矛盾调解平台，群众通过APP提交纠纷。
该地区尚未建立调解机制。
不断完善大数据平台。
## 成效
化解成功率从80%提升至95%，满意度达96%。
"""

INTERVIEW = """问：你们有调解平台吗？
答：有，我们用平台调解纠纷。
问：志愿者参与多吗？
答：志愿者很多。
"""


@pytest.fixture
def coded(tmp_path, project):
    (tmp_path / "n.md").write_text(NARRATIVE, encoding="utf-8")
    (tmp_path / "i.txt").write_text(INTERVIEW, encoding="utf-8")
    with Store(project) as store:
        ingest(store, [tmp_path / "n.md", tmp_path / "i.txt"])
        report = code(store, load_codebook(MINI))
    return project, report


def _codings(project, pass_name="rules"):
    with Store(project) as store:
        srcs = {s.id: s for s in store.sources()}
        return [(srcs[c.source_id].name, c.code, srcs[c.source_id].text[c.start_char:c.end_char],
                 c) for c in store.codings(pass_name)]


def test_codes_with_evidence_and_negation(coded):
    project, report = coded
    rows = _codings(project)
    by_text: dict[str, set[str]] = {}
    for _name, code_id, text, _c in rows:
        by_text.setdefault(text, set()).add(code_id)
    assert by_text["搭建矛盾调解平台，群众通过APP提交纠纷。"] == {"mech.digital", "mech.mediation"}
    # 尚未 negates 调解 (veto); the unit is not coded mech.mediation
    assert "mech.mediation" not in by_text.get("该地区尚未建立调解机制。", set())
    # 不断 is an exception, not a negation
    assert "mech.digital" in by_text["不断完善大数据平台。"]
    # negative keyword: the condition coded with polarity -1
    ctx = [c for _n, code_id, _t, c in rows if code_id == "ctx.infrastructure"]
    assert len(ctx) == 1 and ctx[0].polarity == -1
    # the metric sentence is coded out, with a metric record
    assert "out" in by_text["化解成功率从80%提升至95%，满意度达96%。"]
    assert report.metrics == 2


def test_evidence_spans_inside_unit_and_quote_raw(coded):
    project, _ = coded
    with Store(project) as store:
        srcs = {s.id: s for s in store.sources()}
        for c in store.codings("rules"):
            text = srcs[c.source_id].text
            for s, e in c.evidence:
                assert c.start_char <= s < e <= c.end_char
                assert text[s:e]


def test_only_respondents_coded_in_interviews(coded):
    project, _ = coded
    with Store(project) as store:
        segs = {s.id: s for s in store.segments()}
        for c in store.codings("rules"):
            if c.segment_id in segs and segs[c.segment_id].role is not None:
                assert segs[c.segment_id].role == "respondent"
    texts = {t for name, _c, t, _ in _codings(project) if name == "i.txt"}
    assert texts == {"有，我们用平台调解纠纷。", "志愿者很多。"}


def test_rerun_replaces_pass_and_keeps_others(coded):
    project, report = coded
    with Store(project) as store:
        code(store, load_codebook(MINI), pass_name="second")
        n_first = len(store.codings("rules"))
        code(store, load_codebook(MINI), pass_name="rules")
        assert len(store.codings("rules")) == n_first == report.codings
        assert len(store.codings("second")) == n_first


def test_parallel_equals_serial(coded):
    project, _ = coded
    with Store(project) as store:
        code(store, load_codebook(MINI), pass_name="par", jobs=2)
        a = [(c.source_id, c.code, c.start_char, c.end_char, c.evidence, c.confidence)
             for c in store.codings("rules")]
        b = [(c.source_id, c.code, c.start_char, c.end_char, c.evidence, c.confidence)
             for c in store.codings("par")]
    assert a == b


def test_coder_and_hash_recorded(coded):
    project, report = coded
    with Store(project) as store:
        cb = load_codebook(MINI)
        p = store.passes()[0]
        assert p["coder"] == cb.coder and p["codebook_sha256"] == cb.sha256
        assert all(c.coder == cb.coder for c in store.codings("rules"))
        runs = [r for r in store.runs() if r["stage"] == "code"]
        assert runs[-1]["options"]["codebook_sha256"] == cb.sha256


def test_empty_project_says_so(project):
    with Store(project) as store, pytest.raises(CasecoderError) as exc:
        code(store, load_codebook(MINI))
    assert exc.value.code == "CC310"


def test_codebook_error_leaves_pass_untouched(coded, tmp_path, runner):
    project, report = coded
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINI.read_text(encoding="utf-8").replace("parent: mech\n", "parent: mek\n", 1),
                   encoding="utf-8")
    r = invoke(runner, "code", "--project", project, "--codebook", bad)
    assert r.exit_code == 1 and "[CC304]" in r.output and "bad.yaml" in r.output
    assert len(_codings(project)) == report.codings


def test_cli_code_and_exports(tmp_path, project, runner):
    (tmp_path / "n.md").write_text(NARRATIVE, encoding="utf-8")
    invoke(runner, "ingest", tmp_path / "n.md", "--project", project)
    r = invoke(runner, "code", "--project", project, "--codebook", MINI, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["codings"] > 0
    out = tmp_path / "codings.jsonl"
    r = invoke(runner, "export", "codings", "--project", project, "--out", out)
    assert r.exit_code == 0
    raw = (tmp_path / "n.md").read_text(encoding="utf-8")
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert {"source", "code", "start_char", "end_char", "quote", "evidence", "pass", "coder",
            "confidence"} <= set(recs[0])
    for rec in recs:
        assert raw[rec["start_char"]:rec["end_char"]] == rec["quote"]
        for s, e in rec["evidence"]:
            assert rec["start_char"] <= s < e <= rec["end_char"]
    out = tmp_path / "metrics.csv"
    r = invoke(runner, "export", "metrics", "--project", project, "--format", "csv", "--out", out)
    assert r.exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("source,case,start_char,end_char,indicator,before")
    assert "化解成功率,80.0,95.0,15.0,%,up" in text
    r = invoke(runner, "export", "codings", "--project", project, "--pass", "nope", "--out", out)
    assert r.exit_code == 1 and "[CC006]" in r.output


def test_codes_stats_and_quotes(tmp_path, project, runner):
    (tmp_path / "n.md").write_text("---\nid: X1\nregion: 中西部\nsetting: rural\n---\n"
                                   + NARRATIVE, encoding="utf-8")
    invoke(runner, "ingest", tmp_path / "n.md", "--project", project)
    invoke(runner, "code", "--project", project, "--codebook", MINI)
    out = tmp_path / "stats.csv"
    r = invoke(runner, "codes", "stats", "--project", project, "--by", "region", "--out", out)
    assert r.exit_code == 0 and "中西部" in r.output
    assert "mech.mediation,1,1" in out.read_text(encoding="utf-8")
    r = invoke(runner, "quotes", "--code", "mech.digital", "--where", "region=中西部",
               "--project", project, "--json")
    rows = json.loads(r.output)
    assert r.exit_code == 0 and len(rows) == 2 and all(x["case"] == "X1" for x in rows)
    r = invoke(runner, "quotes", "--code", "mech.digital", "--where", "region=东部",
               "--project", project, "--json")
    assert json.loads(r.output) == []
    r = invoke(runner, "kwic", "调解", "--project", project, "--json")
    assert r.exit_code == 0 and len(json.loads(r.output)) == 2
    r = invoke(runner, "kwic", "不存在的词", "--project", project)
    assert r.exit_code == 1 and "[CC203]" in r.output


def test_leading_literal():
    assert leading_literal("智能(分流|调度)") == "智能"
    assert leading_literal("(分流|调度)") == ""
    assert leading_literal("选树.{0,4}典型") == "选树"


def test_compiled_is_case_insensitive_for_ascii():
    cc = CompiledCodebook.build(load_codebook(MINI))
    text = "群众通过app提交。"
    hits = cc.find(text)
    coded = cc.code_unit(text, 0, len(text), hits, None)
    assert "mech.digital" in coded


# -- token patterns and token proximity (spaCy Matcher over jieba tokens) ------------------

TOKENS = """\
codebook: tokens
codes:
  - id: prob.formalism
    label: 形式化
    rules:
      token_patterns:
        - [{ORTH: 重}, {IS_PUNCT: false, OP: "{1,2}"}, {ORTH: {IN: ["、", "，"]}, OP: "?"},
           {ORTH: 轻}, {IS_PUNCT: false}]
      negation: ignore
  - id: mech.mediation
    label: 调解
    rules:
      token_patterns:
        - [{ORTH: {REGEX: 调解}}]
      exclusions: [调解失败]
  - id: mech.demand
    label: 需求
    rules:
      proximity:
        - {a: [志愿者], b: [服务], within: 1, unit: token}
  - id: mech.digital
    label: 数字
    rules:
      keywords: [平台]
"""

TOKEN_TEXT = """## 做法
有的街道重台账、轻服务。
街道协调解决了停车难题。
调解员上门调解纠纷。
社区尚未设立调解室。
调解失败后转交法院。
志愿者为老人服务。
志愿者上门服务。
社区重视形式多样的活动，减轻负担。
"""


@pytest.fixture(scope="module")
def tokens_cb(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokens.yaml"
    path.write_text(TOKENS, encoding="utf-8")
    return load_codebook(path)


def test_token_patterns_code_whole_words(tmp_path, project, tokens_cb):
    (tmp_path / "t.md").write_text(TOKEN_TEXT, encoding="utf-8")
    with Store(project) as store:
        ingest(store, [tmp_path / "t.md"])
        code(store, tokens_cb)
    got: dict[str, dict[str, list[str]]] = {}
    for _name, code_id, unit, c in _codings(project):
        raw = TOKEN_TEXT
        got.setdefault(unit, {})[code_id] = [raw[s:e] for s, e in c.evidence]
        assert raw[c.start_char:c.end_char] == unit
        if code_id in ("prob.formalism", "mech.mediation"):
            assert c.rule.startswith("token:[{") and c.confidence >= 0.8
    assert got == {
        "有的街道重台账、轻服务。": {"prob.formalism": ["重台账、轻服务"]},
        # 调解 across the words 协调|解决 is not the word 调解; 尚未 vetoes 调解室;
        # the exclusion vetoes the code
        "调解员上门调解纠纷。": {"mech.mediation": ["调解员", "调解纠纷"]},  # whole words
        # 志愿者|上门|服务: one token between; 志愿者|为|老人|服务: two
        "志愿者上门服务。": {"mech.demand": ["志愿者", "服务"]},
    }


def test_token_rules_share_one_tokenizer(tokens_cb):
    cc = CompiledCodebook.build(tokens_cb)
    spans = coding._token_fn(cc)
    assert spans.__self__ is cc.token_matcher().tokenizer is coding._tokenizer(tokens_cb)
    assert "重" in spans.__self__.terms and "调解" in spans.__self__.terms


TOKEN_PIECES = ["重", "轻", "台账", "服务", "、", "，", "。", "\n", "调解", "协调解决", "调解员",
                "尚未", "设立", "调解失败", "志愿者", "上门", "为老人", "平台", "重视", "减轻"]


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.lists(st.sampled_from(TOKEN_PIECES), max_size=30), min_size=1,
                      max_size=3))
def test_token_rules_array_path_equals_unit_path(tokens_cb, parts):
    cc = CompiledCodebook.build(tokens_cb)
    tokens = coding._token_fn(cc)
    items = []
    for j, pieces in enumerate(parts):
        text = "".join(pieces)
        units, start = [], 0
        for i, m in enumerate(re.finditer(r"[。\n]|$", text)):
            if m.end() > start:
                units.append((100 + i, start, m.end(), None))
            start = m.end()
        if units:
            items.append((Source(name=f"s{j}.md", kind="case", text=text, sha256="-",
                                 encoding="utf-8", id=j + 1), units))
    if items:
        fast = coding._Batch(cc, items, "p", True, tokens).rows()
        slow = [coding._code_units_plain(cc, src, units, "p", True, tokens)
                for src, units in items]
        assert fast == slow


def test_token_patterns_cost_nothing_where_their_words_are_absent(tmp_path, project):
    # a term list no other test uses, so this process has no tokenizer for it yet
    cb_path = tmp_path / "rare.yaml"
    cb_path.write_text(TOKENS.replace("{ORTH: {REGEX: 调解}}", "{ORTH: 罕见词甲乙}"),
                       encoding="utf-8")
    cb = load_codebook(cb_path)
    (tmp_path / "n.md").write_text(NARRATIVE, encoding="utf-8")
    before = lang_zh.dictionary_loads()
    with Store(project) as store:
        ingest(store, [tmp_path / "n.md"])
        report = code(store, cb)
    assert report.codings > 0
    assert lang_zh.dictionary_loads() == before
    assert coding._tokenizer(cb)._jieba is None


def test_parallel_token_rules_load_the_dictionary_once_per_process(tmp_path, project,
                                                                   monkeypatch):
    cb_path = tmp_path / "par.yaml"
    cb_path.write_text(TOKENS.replace("[志愿者]", "[志愿者, 并行专用词]"), encoding="utf-8")
    cb = load_codebook(cb_path)
    for i in range(6):
        (tmp_path / f"t{i}.md").write_text(TOKEN_TEXT, encoding="utf-8")
    log = tmp_path / "loads.txt"

    def note(tok):
        with log.open("a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")

    monkeypatch.setattr(lang_zh, "_note_load", note)
    with Store(project) as store:
        ingest(store, sorted(tmp_path.glob("t*.md")))
        code(store, cb, pass_name="one", jobs=1)
        assert log.read_text(encoding="utf-8").split() == [str(os.getpid())]
        code(store, cb, pass_name="again", jobs=1)
        code(store, cb, pass_name="par", jobs=2)
        # no second load: not in this process, not in the two workers
        assert log.read_text(encoding="utf-8").split() == [str(os.getpid())]
        rows = {p: [(c.source_id, c.code, c.start_char, c.evidence, c.rule)
                    for c in store.codings(p)] for p in ("par", "one", "again")}
    assert rows["par"] == rows["one"] == rows["again"] and len(rows["one"]) == 6 * 3
    # a fresh process's first parallel pass: one load, before the fork
    log.unlink()
    cb_path.write_text(TOKENS.replace("[志愿者]", "[志愿者, 并行专用词乙]"), encoding="utf-8")
    with Store(project) as store:
        code(store, load_codebook(cb_path), pass_name="par2", jobs=2)
        assert log.read_text(encoding="utf-8").split() == [str(os.getpid())]
        assert [(c.source_id, c.code, c.start_char, c.evidence) for c in
                store.codings("par2")] == [r[:4] for r in rows["one"]]


def test_parallel_pass_without_token_words_loads_nothing(tmp_path, project, monkeypatch):
    cb_path = tmp_path / "none.yaml"
    cb_path.write_text(TOKENS.replace("[志愿者]", "[志愿者, 并行专用词丙]").replace(
        "{ORTH: {REGEX: 调解}}", "{ORTH: 罕见词丙丁}"), encoding="utf-8")
    for i in range(4):
        (tmp_path / f"n{i}.md").write_text(NARRATIVE, encoding="utf-8")
    loads = []
    monkeypatch.setattr(lang_zh, "_note_load", loads.append)
    with Store(project) as store:
        ingest(store, sorted(tmp_path.glob("n*.md")))
        report = code(store, load_codebook(cb_path), jobs=2)
    assert report.codings > 0 and loads == []


def test_every_unit_codes_narratives_and_interviews(coded):
    project, _report = coded
    with Store(project) as store:
        for unit in ("turn", "paragraph"):
            report = code(store, load_codebook(MINI), pass_name=unit, unit=unit)
            assert report.codings > 0
            coded_sources = {c.source_id for c in store.codings(unit)}
            names = {s.id: s.name for s in store.sources()}
            assert {names[i] for i in coded_sources} == {"n.md", "i.txt"}, unit
            kinds = {s.kind for s in store.segments() if s.id in
                     {c.segment_id for c in store.codings(unit)}}
            assert kinds <= {"turn", "paragraph"}
