"""Tests of the codebook loader, the frame check and the governance codebook itself.

The governance codebook's examples and counter-examples are run through the real tagger
(:class:`casecoder.coding.CompiledCodebook`) and the real metric extractor, exactly as a
coding pass applies them to one sentence: every example must be coded with its code (or a
sub-code), no counter-example may be.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import invoke

from casecoder import metrics
from casecoder.codebook import (
    FRAME_IDS,
    GOVERNANCE_FRAME,
    REGEX_PREFIX,
    check_frame,
    codebook_stats,
    descendants,
    frame_root,
    load_codebook,
    read_frame,
    render_tree,
    token_needs,
)
from casecoder.coding import CompiledCodebook
from casecoder.errors import CasecoderError
from casecoder.models import Codebook

ROOT = Path(__file__).resolve().parents[1]
GOVERNANCE = ROOT / "codebooks" / "governance.yaml"
FRAME = ROOT.parent / "shared" / "codebook-frame.md"
FIXTURES = Path(__file__).resolve().parent / "data" / "codebooks"

needs_frame = pytest.mark.skipif(not FRAME.is_file(), reason="shared/codebook-frame.md absent")

# Loaded at import so that every example and counter-example becomes its own test case.
CB = load_codebook(GOVERNANCE)


@pytest.fixture(scope="module")
def cb() -> Codebook:
    return CB


@pytest.fixture(scope="module")
def cc() -> CompiledCodebook:
    return CompiledCodebook.build(CB)


def coded(cc: CompiledCodebook, text: str) -> dict[str, int]:
    """Code id -> polarity for one sentence, as a coding pass codes it (role None =
    narrative); a sentence in which the metric extractor finds a figure is coded `out`."""
    hits = cc.find(text)
    found = cc.code_unit(text, 0, len(text), hits, None)
    out = {cid: -1 if any(h.kind == "negative" or h.negated for h in hs) else 1
           for cid, hs in found.items()}
    if cc.out_code and metrics.extract(text):
        out.setdefault(cc.out_code, 1)
    return out


def family(cid: str) -> set[str]:
    return {cid} | descendants(CB, cid)


# -- the frame -------------------------------------------------------------------------------

def _frame_rows(path: Path) -> dict[str, dict[str, str]]:
    """Every row of the frame's markdown tables, by id, as column name -> cell text."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "id":
            header = cells
        elif header and not set(cells[0]) <= set("-: "):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()


@needs_frame
def test_shipped_frame_matches_frame_file() -> None:
    # the package's copy of the frame (ids and labels, in order) is the frame file's
    assert list(read_frame(FRAME).items()) == list(GOVERNANCE_FRAME.items())
    assert tuple(read_frame(FRAME)) == FRAME_IDS


@needs_frame
def test_governance_passes_the_frame_check(cb: Codebook) -> None:
    check_frame(cb, FRAME)  # raises CC307 when an id is missing


def test_governance_declares_and_passes_the_shipped_frame(cb: Codebook) -> None:
    assert re.search(r"^frame: governance-v1$", GOVERNANCE.read_text(encoding="utf-8"),
                     re.MULTILINE)
    check_frame(cb)  # the shipped governance frame
    for cid, label in GOVERNANCE_FRAME.items():
        assert cb.codes[cid].label == label, cid


@needs_frame
def test_every_frame_id_has_the_frame_label(cb: Codebook) -> None:
    for cid, label in read_frame(FRAME).items():
        assert cid in cb.codes, cid
        assert cb.codes[cid].label == label, cid


@needs_frame
def test_frame_definitions_include_and_exclude_are_carried_over(cb: Codebook) -> None:
    rows = _frame_rows(FRAME)
    assert set(rows) == set(FRAME_IDS) - {"mech", "prob", "ctx"}
    for cid, row in rows.items():
        code = cb.codes[cid]
        assert _norm(code.definition) == _norm(row["definition"]), cid
        for col in ("include", "exclude"):
            if col in row:
                assert _norm(getattr(code, col)) == _norm(row[col]), (cid, col)


def test_frame_ids_keep_their_place_in_the_hierarchy(cb: Codebook) -> None:
    for cid in FRAME_IDS:
        code = cb.codes[cid]
        if "." not in cid and cid != "out":
            assert code.layer == "group" and code.manual and code.parent is None, cid
        elif cid == "out":
            assert code.parent is None and code.layer == "outcome"
        else:
            assert code.parent == cid.split(".")[0], cid
    layers = {"mech": "mechanism", "prob": "problem", "ctx": "context"}
    for cid, code in cb.codes.items():
        if cid in FRAME_IDS and "." in cid:
            assert code.layer == layers[cid.split(".")[0]], cid


# -- the governance codebook: shape ------------------------------------------------------------

def test_defaults(cb: Codebook) -> None:
    assert cb.name == "governance" and cb.version == "1.0"
    d = cb.defaults
    assert d["unit"] == "sentence"
    assert d["speaker_scope"] == ["respondent"]
    assert d["negation"]["cues"] == ["未", "没有", "缺乏", "缺少", "不", "无", "尚未", "难以"]
    assert d["negation"]["window"] == 3
    assert d["metric_code"] == "out"


PRACTICES = {
    "mech.guidance": {"policy_explain", "exemplar"},
    "mech.coordination": {"joint_meeting", "pairing", "resource_integration"},
    "mech.participation": {"deliberation", "points", "volunteers"},
    "mech.mediation": {"tiered", "early_warning"},
    "mech.digital": {"platform", "lightweight"},
    "mech.frontload": {"sink", "process"},
    "mech.demand": {"survey", "feedback", "targeted"},
}
OUTCOMES = {"satisfaction", "efficiency", "resolution", "participation", "safety", "coverage"}


def test_practice_and_outcome_sub_codes(cb: Codebook) -> None:
    for mech, names in PRACTICES.items():
        kids = {c.id for c in cb.codes.values() if c.parent == mech}
        assert {f"{mech}.{n}" for n in names} <= kids, mech
        for kid in kids:
            assert cb.codes[kid].layer == "practice", kid
    assert {c.id for c in cb.codes.values() if c.parent == "out"} == {
        f"out.{n}" for n in OUTCOMES}
    assert all(cb.codes[f"out.{n}"].layer == "outcome" for n in OUTCOMES)


def test_every_code_is_documented(cb: Codebook) -> None:
    for cid, code in cb.codes.items():
        assert code.label and code.gloss and code.definition, cid
        # every code, the groups mech, prob and ctx included, carries examples
        assert len(code.examples) >= 3, cid
        assert len(code.counter_examples) >= 1, cid
        if code.layer == "group":
            assert code.manual, cid
            continue
        assert code.include and code.exclude, cid
        if code.layer == "mechanism":
            assert code.theory, cid


def test_negation_modes(cb: Codebook) -> None:
    for cid, code in cb.codes.items():
        if cid.startswith("prob."):
            assert code.rules.negation == "ignore", cid
        elif cid.startswith("ctx."):
            assert code.rules.negation == "polarity", cid
            assert code.rules.negative_keywords and code.rules.keywords, cid
        else:
            assert code.rules.negation == "veto", cid


GENERIC = {"党建", "治理", "服务", "群众", "社区", "政工", "机制", "工作", "参与", "平台", "数字化"}


def test_literal_terms_are_specific(cb: Codebook) -> None:
    for cid, code in cb.codes.items():
        r = code.rules
        literal = r.keywords + r.synonyms + r.negative_keywords + [
            e for e in r.exclusions if not e.startswith(REGEX_PREFIX)]
        for term in literal:
            assert term not in GENERIC, (cid, term)
            assert len(term) >= 2, (cid, term)
        assert len(set(r.keywords)) == len(r.keywords), cid


def test_content_hash_is_stable(cb: Codebook) -> None:
    again = load_codebook(GOVERNANCE)
    assert again.sha256 == cb.sha256 == hashlib.sha256(GOVERNANCE.read_bytes()).hexdigest()
    assert again.coder == cb.coder == f"rules:governance@{cb.sha256[:12]}"
    assert list(again.codes) == list(cb.codes)


def test_stats_and_tree(cb: Codebook) -> None:
    stats = codebook_stats(cb)
    assert stats["codes"] == len(cb.codes) >= 44
    assert stats["manual"] == 3
    assert stats["depth"] == 3
    assert stats["by_group"]["mech"] == 1 + 7 + sum(len(v) for v in PRACTICES.values())
    assert stats["by_layer"]["context"] == 5 and stats["by_layer"]["problem"] == 5
    assert stats["examples"] >= 3 * (len(cb.codes) - 3)
    tree = render_tree(cb)
    assert tree.startswith("governance v1.0: ")
    assert "\n      mech.digital.lightweight  轻量化数字工具  [practice]\n" in tree
    for cid in cb.codes:
        assert f" {cid}  " in tree


def test_hierarchy_helpers(cb: Codebook) -> None:
    assert descendants(cb, "mech.digital") == {"mech.digital.platform", "mech.digital.lightweight"}
    assert "mech.digital.lightweight" in descendants(cb, "mech")
    assert descendants(cb, "out.safety") == set()
    assert frame_root("mech.digital.lightweight") == "mech.digital"
    assert frame_root("out.safety") == "out"
    assert frame_root("mech") == "mech"
    with pytest.raises(KeyError):
        descendants(cb, "mech.nothing")


# -- the governance codebook through the real tagger --------------------------------------------

EXAMPLES = [(cid, i, text) for cid, c in CB.codes.items() for i, text in enumerate(c.examples)]
COUNTERS = [(cid, i, text) for cid, c in CB.codes.items()
            for i, text in enumerate(c.counter_examples)]


@pytest.mark.parametrize("cid, i, text", EXAMPLES, ids=[f"{c}-{i}" for c, i, _ in EXAMPLES])
def test_example_is_coded(cc: CompiledCodebook, cid: str, i: int, text: str) -> None:
    got = coded(cc, text)
    assert family(cid) & set(got), f"{cid} example {i} not coded: {text} -> {sorted(got)}"


@pytest.mark.parametrize("cid, i, text", COUNTERS, ids=[f"{c}-{i}" for c, i, _ in COUNTERS])
def test_counter_example_is_not_coded(cc: CompiledCodebook, cid: str, i: int, text: str) -> None:
    got = coded(cc, text)
    assert not family(cid) & set(got), (
        f"{cid} counter-example {i} coded: {text} -> {sorted(family(cid) & set(got))}")


# Each decision rule of the frame, as sentences the tagger must code (or not) that way.
RULES = [
    # 1. results, not inputs; goals are not results
    ("1", "朝阳区成功创建全国社区治理示范区。", {"out"}, set()),
    ("1", "街道共划分网格120个，每个网格配备1名网格员。", set(), {"out"}),
    ("1", "社区力争推动议事协商取得实效。", set(), {"out"}),
    # 2. a quantified change is coded `out` through its metric record
    ("2", "矛盾化解平均耗时从7天缩短至2天。", {"out", "out.efficiency"}, set()),
    # 3. risk counts as mediation
    ("3", "运维人员负责设备巡查。", {"mech.mediation.early_warning"}, set()),
    ("3", "协同团队参与台风抢险。", {"mech.mediation"}, set()),
    # 4. targeted service and visits to learn needs are mech.demand
    ("4", "街道为一老一小提供上门照护。", {"mech.demand.targeted"}, set()),
    ("4", "政工干部每月入户走访，了解老人的生活需求。", {"mech.demand.survey"},
     {"mech.mediation"}),
    # 5. frontload needs something moved; a visit carrying other work takes that code
    ("5", "A机关组织30多名党员轮班下沉B社区。", {"mech.frontload.sink"}, set()),
    ("5", "网格员上门调解了一起邻里纠纷。", {"mech.mediation"}, {"mech.frontload"}),
    # 6. vanguards count when they set an example to the public
    ("6", "社区党员在小区门口亮身份，带头清理楼道杂物。", {"mech.guidance.exemplar"}, set()),
    ("6", "党员先锋岗只负责支部内部的会议记录和党费收缴。", set(), {"mech.guidance"}),
    # 7. digital needs the system itself
    ("7", "群众用APP提交矛盾以后，平台自动匹配调解团队。", {"mech.digital.platform"}, set()),
    ("7", "安全生产短视频放在企业APP和班组微信群里传播。", {"mech.guidance"}, {"mech.digital"}),
    # 8. levels joined are coordination
    ("8", "县、乡、村、网格四级联动，一贯到底处置群众诉求。", {"mech.coordination"}, set()),
    # 9. a brand name is not a mechanism
    ("9", "Z市以“筑体系强堡垒争先锋”工程为总抓手。", set(), {"mech.guidance"}),
    # 10. problems voiced by anyone, even when named to be prevented
    ("10", "居民多次反映，街道始终不予理睬。", {"prob.formalism"}, set()),
    ("10", "各部门不再推诿。", {"prob.silo"}, set()),
    ("10", "老人说有意见也投诉无门，怕得罪人不敢发言。", {"prob.participation"}, set()),
    # 11. context is a stated condition; roads and water are not the digital base
    ("11", "当地道路和饮水设施薄弱。", set(), {"ctx.infrastructure"}),
    ("11", "社区将增强居民凝聚力作为今年的目标。", set(), {"ctx.selfgov"}),
    ("11", "社区老年人口多，外来务工人员集中。", {"ctx.population"}, set()),
]


@pytest.mark.parametrize("rule, text, must, must_not", RULES,
                         ids=[f"rule{r}-{n}" for n, (r, *_) in enumerate(RULES)])
def test_decision_rules(cc: CompiledCodebook, rule: str, text: str, must: set[str],
                        must_not: set[str]) -> None:
    got = set(coded(cc, text))
    for cid in must:
        assert family(cid) & got, (rule, text, sorted(got))
    for cid in must_not:
        assert not family(cid) & got, (rule, text, sorted(got))


@pytest.mark.parametrize("text, cid, polarity", [
    ("西部农村网络薄弱。", "ctx.infrastructure", -1),
    ("当地网络基础设施也比较薄弱。", "ctx.infrastructure", -1),
    ("长三角数字基础好。", "ctx.infrastructure", 1),
    ("中西部地区经济基础薄弱。", "ctx.economy", -1),
    ("长三角地区经济发达。", "ctx.economy", 1),
    ("西部某县的年度治理经费仅100万。", "ctx.funding", -1),
    ("某地产企业投入200万元改造社区停车设施。", "ctx.funding", 1),
    ("当地人口流动大。", "ctx.population", -1),
    ("社区人口密度高。", "ctx.population", 1),
    ("小区尚未成立业委会。", "ctx.selfgov", -1),  # negated keyword: polarity mode
    ("中西部农村仍具有熟人社会的特征。", "ctx.selfgov", 1),
])
def test_context_polarity(cc: CompiledCodebook, text: str, cid: str, polarity: int) -> None:
    assert coded(cc, text).get(cid) == polarity


def test_negation_veto_and_exceptions(cc: CompiledCodebook) -> None:
    assert "mech.mediation.tiered" not in coded(cc, "该村尚未建立调解机制。")
    # 不断 is an exception word, not a negation cue
    assert "mech.mediation.tiered" in coded(cc, "社区不断完善调解机制。")
    # a clause mark ends the reach of a cue
    assert "mech.participation.volunteers" in coded(cc, "经费没有，志愿者却很多。")


def test_exclusion_vetoes_only_its_own_code(cc: CompiledCodebook) -> None:
    got = coded(cc, "当地开发了离线政工APP和短信推送平台。")
    assert "mech.digital.platform" not in got
    assert "mech.digital.lightweight" in got


# -- errors: broken codebooks name the file and the line ----------------------------------------

BROKEN = [
    ("bad_yaml.yaml", "CC302", 8, "not valid YAML"),
    ("unclosed_at_end.yaml", "CC302", 7, "end of stream"),
    ("duplicate_id.yaml", "CC303", 8, "'mech.mediation' is defined twice (first at line 4)"),
    ("unknown_parent.yaml", "CC304", 11, "has parent 'mech.digtal'"),
    ("invalid_regex.yaml", "CC305", 9, "'(提升至[0-9]+'"),
    ("nested_repeat.yaml", "CC305", 8, "backtrack catastrophically"),
    ("lookaround_only.yaml", "CC305", 11, "can only match empty text"),
    ("own_exclusion.yaml", "CC313", 7, "keyword '人民调解' of code 'mech.mediation' contains"),
    ("no_rules.yaml", "CC306", 7, "code 'mech.guidance' has no way to match"),
    ("unknown_key.yaml", "CC308", 7, "unknown key 'keywrods' (did you mean 'keywords'?)"),
    ("unknown_reference.yaml", "CC301", 10, "Code 'mech.digtal'"),
    ("unknown_metric_code.yaml", "CC301", 4, "Code 'outcome'"),
    ("parent_cycle.yaml", "CC311", 6, "a -> b -> a"),
]


@pytest.mark.parametrize("name, code, line, detail", BROKEN)
def test_broken_codebook(name: str, code: str, line: int, detail: str) -> None:
    path = FIXTURES / name
    with pytest.raises(CasecoderError) as info:
        load_codebook(path)
    err = info.value
    assert err.code == code
    assert f"{path} line {line}" in err.message
    assert name in str(err)
    assert detail in err.message


@needs_frame
def test_missing_frame_ids() -> None:
    path = FIXTURES / "missing_frame_ids.yaml"
    cb = load_codebook(path)  # a valid codebook: it declares no frame
    with pytest.raises(CasecoderError) as info:
        check_frame(cb, FRAME)
    err = info.value
    assert err.code == "CC307"
    # the line where the group of the first missing id (mech) is defined
    assert err.message.startswith(
        f"{path} line 4: the frame ids mech.guidance, mech.coordination, ")
    assert "mech.digital," not in err.message and " out " not in err.message
    assert "ctx.selfgov are missing" in err.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CasecoderError) as info:
        load_codebook(tmp_path / "nothing.yaml")
    assert info.value.code == "CC309"
    assert "nothing.yaml does not exist" in info.value.message


def test_every_error_fixture_is_tested() -> None:
    names = {p.name for p in FIXTURES.glob("*.yaml")}
    assert names == {name for name, *_ in BROKEN} | {"missing_frame_ids.yaml"}


# -- a declared frame is checked whenever the codebook is loaded --------------------------------

def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_relabelled_frame_id_is_reported_with_file_and_line(tmp_path: Path, runner,
                                                            project: Path) -> None:
    text = GOVERNANCE.read_text(encoding="utf-8")
    assert text.count("label: 经济水平\n") == 1
    bad = tmp_path / "relabelled.yaml"
    bad.write_text(text.replace("label: 经济水平\n", "label: 经济状况\n"), encoding="utf-8")
    line = _line_of(bad.read_text(encoding="utf-8"), "label: 经济状况")
    with pytest.raises(CasecoderError) as info:
        load_codebook(bad)
    err = info.value
    assert err.code == "CC308"
    assert err.message.startswith(
        f"{bad} line {line}: code 'ctx.economy' is labelled '经济状况', but the frame "
        "governance-v1 labels it '经济水平'.")
    # the CLI: `codebook validate` (no --frame needed) and `code` both refuse it
    r = invoke(runner, "codebook", "validate", bad)
    assert r.exit_code == 1 and "[CC308]" in r.output and f"line {line}" in r.output
    src = tmp_path / "n.md"
    src.write_text("## 做法\n社区搭建矛盾调解平台。\n", encoding="utf-8")
    invoke(runner, "ingest", src, "--project", project)
    r = invoke(runner, "code", "--project", project, "--codebook", bad)
    assert r.exit_code == 1 and "[CC308]" in r.output and "经济状况" in r.output
    # the same codebook checked after loading, without the declaration
    undeclared = tmp_path / "undeclared.yaml"
    undeclared.write_text(bad.read_text(encoding="utf-8").replace("frame: governance-v1\n", ""),
                          encoding="utf-8")
    cb = load_codebook(undeclared)
    with pytest.raises(CasecoderError) as info:
        check_frame(cb)
    assert info.value.code == "CC308"
    assert f"{undeclared} line {line - 1}: code 'ctx.economy'" in info.value.message


def test_missing_frame_id_of_a_declared_frame(tmp_path: Path, runner) -> None:
    text = GOVERNANCE.read_text(encoding="utf-8")
    start = text.index("  - id: prob.resource\n")
    end = text.index("\n  - id: ", start + 1) + 1
    bad = tmp_path / "missing.yaml"
    bad.write_text(text[:start] + text[end:], encoding="utf-8")
    prob_line = _line_of(text, "  - id: prob\n")
    with pytest.raises(CasecoderError) as info:
        load_codebook(bad)
    assert info.value.code == "CC307"
    assert info.value.message.startswith(
        f"{bad} line {prob_line}: the frame ids prob.resource are missing.")
    r = invoke(runner, "codebook", "validate", bad)
    assert r.exit_code == 1 and "[CC307]" in r.output and f"line {prob_line}" in r.output


def test_missing_group_points_at_the_codes_key(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text("codebook: tiny\nframe: governance-v1\n\ncodes:\n  - id: out\n"
                    "    label: 成效\n    rules:\n      keywords: [满意度]\n", encoding="utf-8")
    with pytest.raises(CasecoderError) as info:
        load_codebook(path)
    assert info.value.code == "CC307"
    assert info.value.message.startswith(f"{path} line 4: the frame ids mech, mech.guidance, ")


def test_unknown_frame_name(tmp_path: Path) -> None:
    path = tmp_path / "v2.yaml"
    path.write_text("codebook: v2\nframe: governance-v2\ncodes:\n  - id: out\n"
                    "    label: 成效\n    manual: true\n", encoding="utf-8")
    with pytest.raises(CasecoderError) as info:
        load_codebook(path)
    assert info.value.code == "CC308"
    assert f"{path} line 2: frame 'governance-v2' is unknown (did you mean " \
        "'governance-v1'?)" in info.value.message


def test_validate_cli_checks_the_declared_frame_by_default(runner) -> None:
    r = invoke(runner, "codebook", "validate", GOVERNANCE)
    assert r.exit_code == 0 and "valid" in r.output
    if FRAME.is_file():
        r = invoke(runner, "codebook", "validate", GOVERNANCE, "--frame", FRAME)
        assert r.exit_code == 0, r.output


# -- token patterns ---------------------------------------------------------------------------

TOKEN_CB = """codebook: t
codes:
  - id: a
    label: a
    rules:
      token_patterns:
        - {pattern}
"""


@pytest.mark.parametrize("pattern, line, detail", [
    ('[{ORTH: 调解, OP: "++"}]', 7, "OP of token 1 of token pattern 1 of code 'a' is '++'"),
    ("[{POS: NOUN, ORTH: 调解}]", 7, "token 1 of token pattern 1 of code 'a' uses POS, which "
     "needs a trained pipeline"),
    ("[{ORHT: 调解}]", 7, "unknown key 'ORHT' (did you mean 'ORTH'?)"),
    ('[{IS_PUNCT: true}, {ORTH: 调解, OP: "?"}]', 7, "token pattern 1 of code 'a' has no "
     "token that must occur with a given text"),
    ('[{ORTH: {REGEX: "(调解"}}]', 7, "REGEX of ORTH of token 1 of token pattern 1 of code "
     "'a' '(调解' is not a valid regular expression"),
    ("调解", 7, "token pattern 1 of code 'a' is a string"),
    ("[]", 7, "token pattern 1 of code 'a' is empty"),
    ("[{ORTH: 1}]", 7, "ORTH of token 1 of token pattern 1 of code 'a' is a number"),
    ("[{ORTH: {IN: []}}]", 7, "IN of ORTH of token 1 of token pattern 1 of code 'a' is empty"),
    ('[{ORTH: 调解},\n           {LOWER: app, OP: "+x"}]', 8, "OP of token 2"),
])
def test_invalid_token_pattern(tmp_path: Path, pattern: str, line: int, detail: str) -> None:
    path = tmp_path / "bad_tokens.yaml"
    path.write_text(TOKEN_CB.format(pattern=pattern), encoding="utf-8")
    with pytest.raises(CasecoderError) as info:
        load_codebook(path)
    assert info.value.code == "CC308"
    assert info.value.message.startswith(f"{path} line {line}: ")
    assert detail in info.value.message


def test_token_patterns_load_as_spacy_accepts_them(tmp_path: Path) -> None:
    from casecoder.lang_zh import spacy_pattern_errors as validate_token_pattern

    good = ['[{ORTH: 重}, {IS_PUNCT: false, OP: "{1,2}"}, {ORTH: 轻}]',
            '[{LOWER: {IN: [app, 小程序]}}, {LENGTH: {">=": 2}, OP: "*"}]',
            '[{TEXT: {REGEX: 调解}, OP: "+"}, {}, {NORM: a, IS_DIGIT: false, LIKE_NUM: false}]',
            '[{ORTH: 调解, OP: "{2,}"}]']
    for pattern in good:
        path = tmp_path / "good.yaml"
        path.write_text(TOKEN_CB.format(pattern=pattern), encoding="utf-8")
        loaded = load_codebook(path).codes["a"].rules.token_patterns
        assert len(loaded) == 1 and validate_token_pattern(loaded[0]) == [], pattern
    # what the loader refuses as malformed, spaCy's Matcher refuses too
    for bad in ([{"ORTH": "调解", "OP": "++"}], [{"ORHT": "调解"}], [{"ORTH": 1}],
                [{"IS_PUNCT": "yes", "ORTH": "调解"}]):
        assert validate_token_pattern(bad), bad


def test_token_needs() -> None:
    assert token_needs([{"ORTH": "重"}, {"IS_PUNCT": False, "OP": "{1,2}"},
                        {"ORTH": {"IN": ["、", "，"]}, "OP": "?"}, {"ORTH": "轻"}]) == [
        ("重",), ("轻",)]
    assert token_needs([{"TEXT": {"REGEX": "调解"}, "OP": "+"}]) == [("调解",)]
    assert token_needs([{"TEXT": {"REGEX": "^调解"}}]) == []  # not plain text
    assert token_needs([{"LOWER": {"IN": ["App", "小程序"]}}]) == [("app", "小程序")]
    assert token_needs([{"ORTH": "Ärger"}]) == []  # cased letters beyond ASCII
    assert token_needs([{"ORTH": "调解", "OP": "{0,2}"}, {"ORTH": "!"}]) == [("!",)]


def test_governance_token_pattern_codes_whole_words(cc: CompiledCodebook, cb: Codebook) -> None:
    assert codebook_stats(cb)["token_patterns"] >= 1
    text = "考核重数量轻质量，干部忙着填表。"
    found = cc.code_unit(text, 0, len(text), cc.find(text), None)
    hits = found["prob.formalism"]
    assert [(h.kind, text[h.start:h.end]) for h in hits] == [("token", "重数量轻质量")]
    # 重 and 轻 inside the words 注重 and 减轻: a pattern on characters would match
    text = "街道注重减轻基层负担，精简了报表。"
    assert re.search("重.{1,4}轻", text)
    assert text in cb.codes["prob.formalism"].counter_examples
    assert "prob.formalism" not in coded(cc, text)


def test_default_codebook_found_outside_the_repository_root(tmp_path, monkeypatch):
    from casecoder.cli.common import _default_codebook

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)
    assert _default_codebook() == Path("codebooks/governance.yaml")
    monkeypatch.chdir(tmp_path)
    assert _default_codebook() == root / "codebooks" / "governance.yaml"
    (tmp_path / "codebooks").mkdir()
    (tmp_path / "codebooks" / "governance.yaml").write_text("x", encoding="utf-8")
    assert _default_codebook() == Path("codebooks/governance.yaml")  # the local one wins
