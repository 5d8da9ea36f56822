"""Connective matching: words that merely contain a connective's character join nothing,
and a sentence with several connectives links through the preferred one."""

from __future__ import annotations

from pathlib import Path

import pytest

from casecoder.codebook import load_codebook
from casecoder.coding import code
from casecoder.ingest import ingest
from casecoder.links import claims, extract
from casecoder.store import Store

MINI = Path(__file__).parent / "data" / "mini_codebook.yaml"

# one sentence per paragraph, so no two sentences are adjacent in a paragraph
SENTENCES = {
    "shiyong": "大数据平台使用率低，调解积压。",
    "jishi": "大数据平台即使建成，群众参与仍然不足。",
    "daozhi": "把大数据平台照搬到农村，曾导致平台使用率和满意度不足15%。",
    "gaizaocheng": "把平台改造成适合农村的离线APP。",
    "zhuanrang": "大数据平台转让给志愿者。",
    "shi": "大数据平台使调解更快。",
}

CASE = """---
id: L1
title: 连接词
region: 中西部
setting: rural
conditions:
  ctx.infrastructure: absent
outcome:
  result: failure
---
## 主要做法
""" + "\n\n".join(SENTENCES.values()) + "\n"


@pytest.fixture
def links_by_sentence(tmp_path, project):
    (tmp_path / "l1.md").write_text(CASE, encoding="utf-8")
    with Store(project) as store:
        ingest(store, [tmp_path / "l1.md"])
        code(store, load_codebook(MINI))
        links = extract(store, "rules")
        text = store.sources()[0].text
    out: dict[str, list] = {k: [] for k in SENTENCES}
    for lk in links:
        quote = text[lk.start_char:lk.end_char]
        key = next(k for k, s in SENTENCES.items() if s == quote)
        out[key].append(lk)
    return out


def test_shi_inside_shiyong_is_not_a_connective(links_by_sentence):
    # 平台 (mech.digital) before 使用率, 调解 (mech.mediation) after: no claim joins them
    assert links_by_sentence["shiyong"] == []
    assert claims("把经济发达地区的数字政工治理复制到网络薄弱的西部农村，平台使用率不足15%。") == []


def test_jishi_is_not_a_connective(links_by_sentence):
    # 即使 means "even if"
    assert links_by_sentence["jishi"] == []
    assert claims("即使网络薄弱，群众也愿意参与。") == []


def test_daozhi_sentence_gives_the_daozhi_link(links_by_sentence):
    links = links_by_sentence["daozhi"]
    assert {(lk.from_code, lk.to_code) for lk in links} == {("mech.digital", "out")}
    (lk,) = links
    assert lk.connective == "导致" and lk.polarity == -1
    assert lk.evidence_type == "connective" and lk.case_id == "L1"


def test_words_holding_zaocheng_or_rang_are_not_connectives(links_by_sentence):
    assert links_by_sentence["gaizaocheng"] == []
    assert links_by_sentence["zhuanrang"] == []
    # the C06 sentence that once became a harm link through 改造成
    assert claims("把东部的数字政工治理改造成适合西部的轻量化方案，用离线APP、纸质问卷。") == []


def test_shi_as_a_verb_still_links(links_by_sentence):
    links = links_by_sentence["shi"]
    assert [(lk.from_code, lk.to_code, lk.connective, lk.polarity) for lk in links] == [
        ("mech.digital", "mech.mediation", "使", 1)]


def test_tongguo_lv_is_a_pass_rate():
    cl = claims("通过议事厅协商，物业费调整的通过率从50%提升至90%。")
    assert [c.connective for c in cl] == ["通过…"]
    assert claims("物业费调整的通过率从50%提升至90%。") == []


def test_claims_order_and_spans():
    s = "由于网络差，导致平台使用率低。"
    cl = claims(s, offset=100)
    # the frame that delimits its cause first; 导致 next; no 致使 across 导致+使用
    assert [(c.connective, c.rank) for c in cl] == [("由于…导致", 0), ("导致", 1)]
    first = cl[0]
    assert s[first.cause[0] - 100:first.cause[1] - 100] == "网络差"
    assert s[first.effect[0] - 100:first.effect[1] - 100] == "平台使用率低。"
    # a harm connective is preferred to a later clause connective, and to 使
    s = "条线部门把机制前置，可能造成行政力量过度延伸，进而削弱自治能力。"
    assert claims(s)[0].connective == "造成"
    assert [c.connective for c in claims("数字平台使群众参与下降，导致满意度降低。")] == [
        "导致", "使"]
