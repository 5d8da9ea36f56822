"""The array path of coding (``coding._Batch``) gives exactly the codings of the unit-by-unit
path (``coding._code_units_plain``, the reference: ``CompiledCodebook.code_unit`` per unit),
and its helpers keep the meaning of what they replace."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from casecoder import coding
from casecoder.codebook import load_codebook
from casecoder.coding import CompiledCodebook, code, required_literals
from casecoder.ingest import ingest
from casecoder.models import Source
from casecoder.readers import read_file
from casecoder.store import Store

ROOT = Path(__file__).resolve().parent.parent
GOVERNANCE = ROOT / "codebooks" / "governance.yaml"

# Every rule kind: keywords, synonyms, literal and regex exclusions, regexes with one leading
# literal (cased), with a choice of leading literals, needing further literals or none at
# all, proximity by characters and by tokens, negative keywords, the three negation modes,
# a speaker limit and the metric code.
FEATURES = """\
codebook: features
title: features
version: "0.1"
defaults:
  speaker_scope: [respondent, other]
  negation:
    cues: [未, 没有, 不, 无, 尚未]
    window: 3
    exceptions: [不断, 无论]
codes:
  - id: a.kw
    label: kw
    rules:
      keywords: [平台, APP, 调解]
      synonyms: [系统]
      exclusions: [平台经济, "re:没有.{0,3}系统"]
  - id: b.pat
    label: pat
    rules:
      patterns:
        - '(?:搭建|建设)[^，。]{0,6}?(?:平台|系统|APP)'
        - 'App[0-9]+'
        - '[^，。]{2}联动'
        - '化解[^，。]{0,4}?(?:纠纷|矛盾)'
        - '(?:已|并)在[^，。]{1,6}?推广'
      negation: polarity
  - id: c.prox
    label: prox
    rules:
      proximity:
        - {a: [平台, APP], b: [分流, 调度], within: 4}
        - {a: [志愿者], b: [服务], within: 1, unit: token}
      negation: ignore
  - id: d.neg
    label: neg
    rules:
      keywords: [经费]
      negative_keywords: [经费不足]
      negation: polarity
  - id: e.spk
    label: spk
    rules:
      keywords: [志愿者, 调解]
      speakers: [respondent]
  - id: out
    label: out
    rules:
      keywords: [满意度]
"""

PIECES = ["平台", "APP", "app", "App12", "调解", "系统", "平台经济", "搭建", "建设", "联动",
          "化解", "纠纷", "矛盾", "已在", "并在", "推广", "分流", "调度", "志愿者", "服务",
          "经费", "经费不足", "满意度", "未", "没有", "不", "无", "尚未", "不断", "无论",
          "社区", "群众", "，", "。", "！", "\n", "从60%提升至92%", "达96%", "累计服务3万人次"]


def _tokens(text: str) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(len(text))]


def _source(text: str, sid: int = 1) -> Source:
    return Source(name=f"s{sid}.md", kind="case", text=text,
                  sha256=hashlib.sha256(text.encode()).hexdigest(), encoding="utf-8", id=sid)


def _units(text: str, roles: list[str | None], keep: list[bool]) -> list[coding.Unit]:
    """Sentences of ``text`` (split after 。 and newlines), some left out, with roles."""
    units: list[coding.Unit] = []
    start = 0
    for i, m in enumerate(re.finditer(r"[。\n]|$", text)):
        end = m.end()
        if end > start and keep[i % len(keep)]:
            units.append((100 + i, start, end, roles[i % len(roles)]))
        start = end
    return units


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> CompiledCodebook:
    path = tmp_path_factory.mktemp("cb") / "features.yaml"
    path.write_text(FEATURES, encoding="utf-8")
    return CompiledCodebook.build(load_codebook(path))


@pytest.fixture(scope="module")
def governance() -> CompiledCodebook:
    return CompiledCodebook.build(load_codebook(GOVERNANCE))


def _both(cc: CompiledCodebook, items: list[tuple[Source, list[coding.Unit]]],
          tokens=_tokens) -> tuple[list, list]:
    """Rows of each source by the array path (one batch) and by the reference path."""
    fast = coding._Batch(cc, items, "p", True, tokens).rows()
    slow = [coding._code_units_plain(cc, src, units, "p", True, tokens)
            for src, units in items]
    return fast, slow


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.lists(st.sampled_from(PIECES), max_size=40), min_size=1, max_size=3),
       roles=st.lists(st.sampled_from([None, "respondent", "interviewer", "other"]),
                      min_size=1, max_size=4),
       keep=st.lists(st.booleans(), min_size=1, max_size=4))
def test_array_path_equals_unit_path_on_every_rule_kind(features, parts, roles, keep):
    items = []
    for j, pieces in enumerate(parts):
        text = "".join(pieces)
        units = _units(text, roles, keep)
        if units:
            items.append((_source(text, j + 1), units))
    if items:
        fast, slow = _both(features, items)
        assert fast == slow


def test_array_path_equals_unit_path_on_the_cases(governance):
    items = []
    for j, f in enumerate(sorted((ROOT / "cases").glob("C*.md"))):
        text = read_file(f).text
        units = _units(text, [None, "respondent", "interviewer"], [True, True, False])
        items.append((_source(text, j + 1), units))
    fast, slow = _both(governance, items)
    assert sum(len(rows) for rows, _ in slow) > 100
    assert fast == slow


def test_one_batch_equals_one_source_at_a_time(features):
    texts = ["搭建平台，群众用APP分流。没有系统。", "", "经费不足。满意度从60%提升至92%。",
             "志愿者服务。已在全省推广。"]
    items = [(_source(t, j + 1), _units(t, [None], [True])) for j, t in enumerate(texts)]
    items = [(s, u) for s, u in items if u]
    together = coding._Batch(features, items, "p", True, None).rows()
    alone = [coding._Batch(features, [item], "p", True, None).rows()[0] for item in items]
    assert together == alone
    assert any(rows for rows, _ in together) and any(m for _, m in together)


def test_overlapping_units_are_coded_unit_by_unit(features):
    text = "搭建平台。调解纠纷。"
    units = [(1, 0, 10, None), (2, 5, 10, None)]
    assert not coding._disjoint(units, len(text))
    src = _source(text)
    assert coding.code_source(features, src, units, "p") == coding._code_units_plain(
        features, src, units, "p", True, None)


def test_code_pass_matches_reference(tmp_path, project, governance):
    for f in sorted((ROOT / "cases").glob("C0*.md"))[:4]:
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    with Store(project) as store:
        ingest(store, [tmp_path / f for f in sorted(p.name for p in tmp_path.glob("C0*.md"))])
        report = code(store, governance.codebook)
        got = [tuple(r) for r in store.db.execute(
            "SELECT source_id, code, start_char, end_char, evidence, rule, confidence, polarity,"
            " segment_id FROM codings ORDER BY id")]
        want = []
        for src in store.sources():
            units = coding._units(store, src, "sentence", ("respondent",))
            rows, _ = coding._code_units_plain(governance, src, units, "rules", True, None)
            want += [(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[9], r[10]) for r in rows]
    assert got == want and report.codings == len(want) > 0


@pytest.mark.parametrize("pattern, expected", [
    ("(?:宣传|解读)[^，。]{0,8}?政策", [("宣传", "解读"), ("政策",)]),
    ("[已并]在.{1,4}推广", [("已", "并"), ("在",), ("推广",)]),
    ("有效(?:地)?(?:缓解|预防)", [("有效",), ("缓解", "预防")]),
    ("(?:平台|APP).{0,4}(?:到|至)?", []),  # cased alternative; optional group
    ("APP[0-9]+", []),
    ("(", []),
    (".{0,4}典型", [("典型",)]),
])
def test_required_literals(pattern, expected):
    assert required_literals(pattern) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="未来没有不断仅可或缺无论缝尚难以缺乏少，x", max_size=40),
       extra=st.lists(st.sampled_from(["不可", "没有人", "不", "来", "尚"]), max_size=2))
@example(text="尚未", extra=["尚"])
def test_cue_regex_equals_direct_form(text, extra):
    cues = coding.DEFAULT_CUES + ("尚未来",)
    exceptions = coding.DEFAULT_CUE_EXCEPTIONS + tuple(extra)
    exc = "|".join(re.escape(w) for w in sorted(exceptions, key=len, reverse=True))
    cue = "|".join(re.escape(c) for c in sorted(cues, key=len, reverse=True))
    direct = re.compile(f"(?!{exc})(?:{cue})")
    fast = coding._cue_regex(cues, exceptions)
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in direct.finditer(text)]


@given(groups=st.lists(st.lists(st.sampled_from(["keyword:调解", "pattern:a{2}", "x\0y", "}{"]),
                                min_size=1, max_size=6), max_size=8))
def test_rule_and_evidence_texts_equal_a_join_per_group(groups):
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    labels = sorted({x for g in groups for x in g})
    ranks = np.array([labels.index(x) for g in groups for x in g], dtype=np.int64)
    assert coding._rule_texts(labels, ranks, counts) == [" | ".join(g) for g in groups]
    starts = np.arange(len(ranks), dtype=np.int64) * 3
    spans = iter(zip(starts.tolist(), (starts + 2).tolist(), strict=True))
    expected = [json.dumps([list(next(spans)) for _ in g]) for g in groups]
    assert coding._evidence_texts(starts, starts + 2, counts) == expected
