"""`casecoder terms` and casecoder.terms: word frequencies and candidate terms, cut once by
one tokenizer per process, the same on 1 and 2 processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import invoke

from casecoder import lang_zh
from casecoder.codebook import load_codebook
from casecoder.coding import code
from casecoder.ingest import ingest
from casecoder.store import Store
from casecoder.terms import candidate_terms, term_lists, word_frequencies

# Terms no other test uses, so that this process has no tokenizer for them yet.
CODEBOOK = """codebook: termtest
codes:
  - id: mech
    label: 机制
    layer: group
    manual: true
  - id: mech.participation
    label: 群众联动
    parent: mech
    rules:
      keywords: [志愿者队伍, 议事会]
  - id: mech.digital
    label: 数字赋能
    parent: mech
    rules:
      keywords: [小程序]
"""

TEXT = """## 做法
社区组建志愿者队伍，挨家挨户宣传垃圾分类。
志愿者队伍挨家挨户登记独居老人。
我们的志愿者队伍挨家挨户送药上门。
志愿者队伍每周清理楼道。
居民通过小程序报修。
老人用小程序报修水管。
小程序上线后，报修更方便。
街道召开会议，研究停车难题。
老旧小区的停车难题由来已久。
停车难题终于解决了。
物业公司更换了电梯和路灯。
物业公司修补了围墙和道路。
挨家挨户都装了新窗户。
"""


@pytest.fixture
def coded(tmp_path: Path, project: Path) -> tuple[Path, Path]:
    cb_path = tmp_path / "termtest.yaml"
    cb_path.write_text(CODEBOOK, encoding="utf-8")
    src = tmp_path / "n.md"
    src.write_text(TEXT, encoding="utf-8")
    with Store(project) as store:
        ingest(store, [src])
        code(store, load_codebook(cb_path))
    return project, cb_path


def test_word_frequencies(coded) -> None:
    project, cb_path = coded
    with Store(project) as store:
        freq = word_frequencies(store, ["志愿者队伍", "小程序"])
    assert freq["志愿者队伍"] == 4 and freq["小程序"] == 3 and freq["挨家挨户"] == 4
    assert freq["停车"] == 3 and freq["物业公司"] == 2
    assert "我们" not in freq  # a stopword
    assert all(len(w) >= 2 for w in freq)  # no single characters or punctuation


def test_candidate_terms_go_with_a_code_and_are_not_in_the_codebook(coded) -> None:
    project, cb_path = coded
    cb = load_codebook(cb_path)
    with Store(project) as store:
        cands = candidate_terms(store, "rules", cb, min_count=3)
    assert set(cands) == {"mech.participation", "mech.digital"}
    part = {r["term"]: r for r in cands["mech.participation"]}
    assert part["挨家挨户"]["count"] == 3 and part["挨家挨户"]["corpus"] == 4
    assert part["挨家挨户"]["lift"] > 1.5
    assert "志愿者队伍" not in part  # already a term of the codebook
    assert {r["term"] for r in cands["mech.digital"]} == {"报修"}
    assert all(r["count"] >= 3 for rows in cands.values() for r in rows)
    # frequencies and candidates from one cut of the corpus
    with Store(project) as store:
        both = term_lists(store, cb, "rules", top=3)
    assert both["candidates"] == cands
    assert both["frequencies"][0] == {"term": "志愿者队伍", "count": 4}
    assert len(both["frequencies"]) == 3


def test_two_processes_equal_one(coded) -> None:
    project, cb_path = coded
    cb = load_codebook(cb_path)
    with Store(project) as store:
        one = term_lists(store, cb, "rules", top=100, min_count=1, jobs=1)
        two = term_lists(store, cb, "rules", top=100, min_count=1, jobs=2)
    assert one == two and one["frequencies"] and one["candidates"]["mech.participation"]


def test_cli_terms_loads_the_dictionary_once(coded, runner, tmp_path: Path, monkeypatch) -> None:
    project, cb_path = coded
    # one more term, so that this process has no tokenizer for this term list yet
    cb_path.write_text(CODEBOOK.replace("[小程序]", "[小程序, 这个测试专用的词]"), encoding="utf-8")
    log = tmp_path / "loads.txt"

    def note(tok: lang_zh.ZhTokenizer) -> None:
        with log.open("a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")

    monkeypatch.setattr(lang_zh, "_note_load", note)
    r2 = invoke(runner, "terms", "--project", project, "--codebook", cb_path, "--jobs", "2",
                "--json")
    assert r2.exit_code == 0, r2.output
    # one load, in this process, before the workers were forked (they inherit it)
    assert log.read_text(encoding="utf-8").split() == [str(os.getpid())]
    r1 = invoke(runner, "terms", "--project", project, "--codebook", cb_path, "--json")
    assert r1.exit_code == 0
    assert log.read_text(encoding="utf-8").split() == [str(os.getpid())]  # reused
    assert json.loads(r1.output) == json.loads(r2.output)
    data = json.loads(r1.output)
    assert {"term": "挨家挨户", "count": 4} in data["frequencies"]
    assert any(r["term"] == "挨家挨户" for r in data["candidates"]["mech.participation"])


def test_cli_terms_text_output_and_errors(coded, runner) -> None:
    project, cb_path = coded
    r = invoke(runner, "terms", "--project", project, "--codebook", cb_path, "--top", "2")
    assert r.exit_code == 0
    assert "志愿者队伍" in r.output and "candidates for mech.participation: " in r.output
    # a pass asked for by name must exist, as in every other command
    r = invoke(runner, "terms", "--project", project, "--codebook", cb_path, "--pass", "nope")
    assert r.exit_code == 1 and "[CC006]" in r.output
    # without --pass, a project not coded yet still gets its word frequencies
    with Store(project) as store, store.transaction():
        store.db.execute("DELETE FROM codings")
        store.db.execute("DELETE FROM passes")
    r = invoke(runner, "terms", "--project", project, "--codebook", cb_path, "--top", "2")
    assert r.exit_code == 0
    assert "(no pass 'rules': run `casecoder code` for candidate terms)" in r.output
    r = invoke(runner, "terms", "--project", project, "--codebook", cb_path, "--jobs", "0")
    assert r.exit_code == 1 and "[CC312]" in r.output
