from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from casecoder.cli.analyst_cmd import combine_command, suggest_command
from casecoder.cli.common import CatalogueGroup
from casecoder.codebook import load_codebook
from casecoder.coding import code
from casecoder.errors import CasecoderError
from casecoder.ingest import ingest
from casecoder.store import Store
from casecoder.suggest import (
    RULE,
    CodeSuggester,
    _splitter,
    combine,
    cross_validate,
    suggest,
    training_data,
)

CODEBOOK = """codebook: synth
codes:
  - id: mech
    label: 机制
    manual: true
  - id: mech.mediation
    label: 矛盾调解
    parent: mech
    manual: true
  - id: mech.mediation.people
    label: 人民调解
    parent: mech.mediation
    rules:
      keywords: [调解]
  - id: mech.digital
    label: 数字赋能
    parent: mech
    manual: true
  - id: mech.digital.app
    label: 平台应用
    parent: mech.digital
    rules:
      keywords: [平台]
  - id: prob
    label: 问题
    manual: true
  - id: prob.silo
    label: 条块分割
    parent: prob
    rules:
      keywords: [各自为政]
"""

MEDIATION = ["村里设立调解委员会，调解员上门化解纠纷", "通过人民调解把矛盾化解在基层",
             "调解室每周开放，调解邻里纠纷", "老党员参与调解，矛盾不出村",
             "调解员耐心劝说双方达成和解"]
DIGITAL = ["群众通过平台上报问题，平台自动分派", "开发手机平台，实现事项网上办理",
           "数字平台汇聚数据，提升效率", "平台上线后，办事不用跑腿", "依托信息平台实时监测风险"]
NEUTRAL = ["该县位于山区，人口约二十万", "当地经济以农业为主", "近年来道路条件有所改善",
           "干部队伍年龄偏大", "学校和医院数量较少", "春节期间外出务工人员返乡",
           "县里召开了工作会议"]


def write_corpus(folder: Path, n_cases: int = 6, seed: int = 0) -> list[Path]:
    """Synthetic case narratives: sentences about mediation (调解), platforms (平台) or
    neither; two sentences of the corpus say 各自为政 (too few to learn)."""
    rng = random.Random(seed)
    files = []
    for k in range(n_cases):
        sents = [rng.choice(rng.choice([MEDIATION, DIGITAL, NEUTRAL, NEUTRAL])) + "。"
                 for _ in range(12)]
        if k < 2:
            sents[0] = "各部门各自为政，协调困难。"
        body = "".join(sents[:6]) + "\n\n" + "".join(sents[6:]) + "\n"
        f = folder / f"C8{k}.md"
        f.write_text(f"---\nid: C8{k}\ntitle: 案例{k}\nsetting: rural\n---\n# 概况\n{body}",
                     encoding="utf-8")
        files.append(f)
    return files


@pytest.fixture
def coded(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cb_path = tmp_path / "cb.yaml"
    cb_path.write_text(CODEBOOK, encoding="utf-8")
    store = Store(tmp_path / "proj", create=True)
    ingest(store, write_corpus(corpus))
    code(store, load_codebook(cb_path), "rules", with_metrics=False)
    yield store
    store.close()


def _rows(store: Store, pass_name: str) -> list[tuple]:
    return [(c.source_id, c.code, c.start_char, c.end_char, c.evidence, c.rule, c.confidence,
             c.coder, c.polarity, c.segment_id) for c in store.codings(pass_name)]


# -- the estimator -------------------------------------------------------------------------

def _toy() -> tuple[list[str], list[set[str]]]:
    texts, labels = [], []
    for m, d, n in zip(MEDIATION * 2, DIGITAL * 2, NEUTRAL + NEUTRAL[:3], strict=True):
        texts += [m, d, n]
        labels += [{"mech.mediation.people"}, {"mech.digital.app"}, set()]
    return texts, labels


def test_estimator_conventions():
    est = CodeSuggester(ngram_range=(1, 2), C=2.0)
    assert vars(est) == {"ngram_range": (1, 2), "min_df": 2, "C": 2.0,
                         "max_features": 200000, "random_state": 0, "analyzer": "char_wb",
                         "level": "frame"}
    assert repr(est).startswith("CodeSuggester(ngram_range=(1, 2), min_df=2, C=2.0")
    texts, labels = _toy()
    assert est.fit(texts, labels) is est
    assert est.classes_ == ["mech.digital", "mech.mediation"]
    assert est.clone().get_params() == est.get_params()
    assert not hasattr(est.clone(), "classes_")


def test_fit_predict_separable():
    texts, labels = _toy()
    est = CodeSuggester().fit(texts, labels)
    proba = est.predict_proba(["镇里成立调解中心化解矛盾", "上线政务平台，数据共享",
                               "当地人口外流严重"])
    assert set(proba) == {"mech.digital", "mech.mediation"}
    med, dig = proba["mech.mediation"], proba["mech.digital"]
    assert med[0] > 0.5 > med[1] and dig[1] > 0.5 > dig[0]
    assert med[2] < 0.5 and dig[2] < 0.5
    (spans,) = est.evidence(["镇里成立调解中心化解矛盾"], "mech.mediation")
    assert any("镇里成立调解中心化解矛盾"[a:b].find("调解") >= 0 for a, b in spans)


def test_fit_level_code_keeps_sub_codes():
    texts, labels = _toy()
    est = CodeSuggester(level="code").fit(texts, labels)
    assert est.classes_ == ["mech.digital.app", "mech.mediation.people"]


def test_predict_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CodeSuggester().predict_proba(["调解"])


# -- training data and cross-validation ----------------------------------------------------

def test_training_data_rolls_up_and_groups_by_case(coded):
    data = training_data(coded, "rules")
    assert len(data.units) == 72
    assert set(data.positives) == {"mech.digital", "mech.mediation", "prob.silo"}
    assert data.positives["prob.silo"] == 2
    for text, ls in zip(data.texts, data.labels, strict=True):
        assert ("mech.mediation" in ls) == ("调解" in text)
        assert ("mech.digital" in ls) == ("平台" in text)
    assert sorted(set(data.groups)) == [f"case:C8{k}" for k in range(6)]
    groups = np.asarray(data.groups)
    for train, test in _splitter(5, 0).split(data.texts, groups=groups):
        assert not set(groups[train]) & set(groups[test])


def test_training_data_respects_speaker_scope(tmp_path):
    f = tmp_path / "i.txt"
    f.write_text("访谈编码：X1\n\n问：你们的调解平台怎么样？\n答：调解员很忙。平台用得少。\n",
                 encoding="utf-8")
    cb_path = tmp_path / "cb.yaml"
    cb_path.write_text(CODEBOOK, encoding="utf-8")
    with Store(tmp_path / "p", create=True) as store:
        ingest(store, [f])
        code(store, load_codebook(cb_path), "rules", with_metrics=False)
        data = training_data(store, "rules")
        assert data.speakers == ["respondent"]
        assert data.texts == ["调解员很忙。", "平台用得少。"]


def test_cross_validate_high_scores(coded):
    res = cross_validate(coded, "rules", folds=5, seed=0)
    assert (res["folds"], res["groups"], res["units"], res["group_by"]) == (5, 6, 72, "case")
    assert set(res["codes"]) == {"mech.digital", "mech.mediation"}
    for m in res["codes"].values():
        assert m["precision"] >= 0.9 and m["recall"] >= 0.9 and m["f1"] >= 0.9
        assert m["kappa"] is not None and m["kappa"] >= 0.85
        assert m["support"] > 5
    assert res["skipped"] == {"prob.silo": "2 coded sentences, fewer than 5"}
    assert cross_validate(coded, "rules", folds=5, seed=0) == res


def test_cross_validate_too_many_folds(coded):
    with pytest.raises(CasecoderError) as err:
        cross_validate(coded, "rules", folds=7)
    assert err.value.code == "CC008"
    assert "a number from 2 to 6 (the number of cases with sentences)" in str(err.value)


# -- the suggestion pass -------------------------------------------------------------------

def test_suggest_pass_is_deterministic(coded):
    r1 = suggest(coded, "rules", "suggest", threshold=0.5)
    rows1 = _rows(coded, "suggest")
    r2 = suggest(coded, "rules", "suggest", threshold=0.5)
    assert _rows(coded, "suggest") == rows1
    assert r1 == r2
    assert r1["coder"].startswith("model:rules@") and len(r1["coder"]) == len("model:rules@") + 12
    assert r1["skipped"] == {"prob.silo": "2 coded sentences, fewer than 5"}
    assert r1["codings"] == len(rows1) > 0
    texts = {s.id: s.text for s in coded.sources()}
    sentences = {(s.source_id, s.start_char, s.end_char): s.id
                 for s in coded.segments(kind="sentence")}
    for sid, code_id, s, e, ev, rule, conf, coder, pol, seg in rows1:
        assert rule == RULE and coder == r1["coder"] and pol == 1
        assert 0.5 <= conf <= 1.0
        assert sentences[(sid, s, e)] == seg
        assert all(s <= a < b <= e for a, b in ev)
        keyword = {"mech.mediation": "调解", "mech.digital": "平台"}[code_id]
        assert keyword in texts[sid][s:e]
    # a different model or training pass gives a different coder
    r3 = suggest(coded, "rules", "other", suggester=CodeSuggester(C=0.5))
    assert r3["coder"] != r1["coder"]
    meta = {p["name"]: p for p in coded.passes()}["suggest"]
    assert meta["options"]["probabilities"] is True
    assert meta["options"]["train_pass"] == "rules"


def test_suggest_threshold_filters(coded):
    low = suggest(coded, "rules", "low", threshold=0.3)
    high = suggest(coded, "rules", "high", threshold=0.9)
    assert low["codings"] >= high["codings"]
    assert all(c.confidence >= 0.9 for c in coded.codings("high"))


def _pass(store: Store, name: str, rows: list[tuple]) -> None:
    with store.transaction():
        store.replace_pass(name, "test", None, None, {}, None)
        store.add_codings(rows)


def test_too_few_codings(coded):
    c = coded.codings("rules")[0]
    row = (c.source_id, c.code, c.start_char, c.end_char, "[]", "x", 1.0, "t", 1, None)
    _pass(coded, "tiny", [("tiny", *row)] * 2)
    with pytest.raises(CasecoderError) as err:
        suggest(coded, "tiny", "s")
    assert err.value.code == "CC702"
    assert "no code has at least 5 coded sentences" in str(err.value)
    _pass(coded, "empty", [])
    with pytest.raises(CasecoderError) as err:
        cross_validate(coded, "empty")
    assert err.value.code == "CC702"
    assert "s" not in [p["name"] for p in coded.passes()]


def test_bad_threshold_and_same_pass(coded):
    with pytest.raises(CasecoderError) as err:
        suggest(coded, "rules", "s", threshold=1.5)
    assert err.value.code == "CC008"
    with pytest.raises(CasecoderError) as err:
        suggest(coded, "rules", "rules")
    assert err.value.code == "CC008"


# -- combining -----------------------------------------------------------------------------

def test_combine_union_with_threshold(coded):
    sents = [s for s in coded.segments(kind="sentence")][:3]
    a, b, c = sents

    def row(pass_name, seg, code_id, conf, rule, coder):
        return (pass_name, seg.source_id, code_id, seg.start_char, seg.end_char,
                json.dumps([[seg.start_char, seg.end_char]]), rule, conf, coder, 1, seg.id)

    _pass(coded, "r", [row("r", a, "mech.mediation.people", 0.9, "keyword:调解", "rules:x"),
                       row("r", b, "mech.digital.app", 0.9, "keyword:平台", "rules:x")])
    _pass(coded, "m", [row("m", a, "mech.mediation", 0.95, RULE, "model:r@1"),   # covered
                       row("m", a, "mech.digital", 0.9, RULE, "model:r@1"),      # added
                       row("m", b, "mech.digital", 0.99, RULE, "model:r@1"),     # covered
                       row("m", c, "mech.mediation", 0.85, RULE, "model:r@1"),   # added
                       row("m", c, "mech.digital", 0.6, RULE, "model:r@1")])     # below
    res = combine(coded, "r", "m", "both", high=0.8)
    assert res == {"pass": "both", "policy": "union-with-threshold", "high": 0.8, "rules": 2,
                   "added": 2, "covered": 2, "below": 1, "codings": 4}
    got = sorted((x.start_char, x.code, x.confidence, x.rule, x.coder)
                 for x in coded.codings("both"))
    assert got == sorted([
        (a.start_char, "mech.mediation.people", 0.9, "keyword:调解", "rules:x"),
        (a.start_char, "mech.digital", 0.9, RULE, "model:r@1"),
        (b.start_char, "mech.digital.app", 0.9, "keyword:平台", "rules:x"),
        (c.start_char, "mech.mediation", 0.85, RULE, "model:r@1"),
    ])
    meta = {p["name"]: p for p in coded.passes()}["both"]
    assert meta["coder"] == "combine:r+m"
    assert meta["options"] == {"policy": "union-with-threshold", "high": 0.8,
                               "rules_pass": "r", "model_pass": "m"}
    with pytest.raises(CasecoderError) as err:
        combine(coded, "r", "m", "both", policy="intersection")
    assert err.value.code == "CC008"


def test_combine_end_to_end(coded):
    suggest(coded, "rules", "suggest")
    res = combine(coded, "rules", "suggest", "combined")
    assert res["rules"] == len(coded.codings("rules"))
    assert res["codings"] == res["rules"] + res["added"]
    assert res["added"] + res["covered"] + res["below"] == len(coded.codings("suggest"))


# -- CLI -----------------------------------------------------------------------------------

def _app() -> typer.Typer:
    app = typer.Typer(cls=CatalogueGroup, add_completion=False, rich_markup_mode=None)
    app.command("suggest")(suggest_command)
    app.command("combine")(combine_command)
    return app


def test_cli_suggest_and_combine(coded):
    proj = str(coded.project)
    runner = CliRunner()
    r = runner.invoke(_app(), ["suggest", "--project", proj, "--no-cv", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"suggest"}
    assert data["suggest"]["pass"] == "suggest"
    r = runner.invoke(_app(), ["suggest", "--project", proj, "--folds", "3"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "cross-validation: 3 folds grouped by case (6 groups, 72 sentences)"
    assert lines[1].split() == ["code", "support", "precision", "recall", "f1", "kappa"]
    assert "skipped prob.silo: 2 coded sentences, fewer than 5" in lines
    assert lines[-1].startswith("pass suggest: ")
    r = runner.invoke(_app(), ["combine", "--project", proj, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pass"] == "combined"
    r = runner.invoke(_app(), ["suggest", "--project", proj, "--train-pass", "nope"])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: [CC006] No pass named 'nope'")
    r = runner.invoke(_app(), ["suggest", "--project", proj, "--min-positives", "50"])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: [CC702] Pass 'rules' has too few codings to train on")
