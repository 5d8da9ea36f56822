"""quanteda and LIWC dictionaries: round trips of the governance codebook, the warnings
about what a format loses, hand-written dictionaries, and malformed ones (CC605 + line)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from casecoder.codebook import load_codebook
from casecoder.dictformats import (
    export_dictionary,
    export_liwc,
    export_quanteda,
    glob_rule,
    import_dictionary,
    import_liwc,
    import_quanteda,
    regex_to_glob,
    write_codebook_yaml,
)
from casecoder.errors import CasecoderError
from casecoder.models import Codebook

ROOT = Path(__file__).resolve().parents[1]
GOVERNANCE = ROOT / "codebooks" / "governance.yaml"
DICTS = Path(__file__).resolve().parent / "data" / "dicts"
FEATURES = DICTS / "features.yaml"


@pytest.fixture(scope="module")
def governance() -> Codebook:
    return load_codebook(GOVERNANCE)


def _literal_terms(code) -> set[str]:  # noqa: ANN001
    r = code.rules
    return set(r.keywords) | set(r.synonyms) | set(r.negative_keywords)


def _lost_features(cb: Codebook, glob_ok) -> list[str]:  # noqa: ANN001
    """The warning prefixes every regex, exclusion and proximity rule must produce."""
    out = []
    for cid, code in cb.codes.items():
        out += [f"{cid}: regular expression {p!r} cannot be expressed"
                for p in code.rules.patterns if not glob_ok(p)]
        out += [f"{cid}: exclusion {e!r} cannot be expressed" for e in code.rules.exclusions]
        out += [f"{cid}: proximity rule [{', '.join(r['a'])}]" for r in code.rules.proximity]
    return out


def _quanteda_ok(p: str) -> bool:
    return regex_to_glob(p) is not None


def _liwc_ok(p: str) -> bool:
    g = regex_to_glob(p)
    return g is not None and "?" not in g and "*" not in g.rstrip("*")


# -- round trips of the governance codebook ---------------------------------------------------

@pytest.mark.parametrize("fmt, suffix", [("quanteda", "yml"), ("liwc", "dic")])
def test_governance_round_trip(governance: Codebook, tmp_path: Path, fmt: str,
                               suffix: str) -> None:
    path = tmp_path / f"governance.{suffix}"
    warnings = export_dictionary(governance, path, fmt)
    back = import_dictionary(path)
    # the hierarchy survives: same ids, same parents
    assert set(back.codes) == set(governance.codes)
    for cid, code in governance.codes.items():
        assert back.codes[cid].parent == code.parent, cid
        # every literal term survives as a keyword; extra keywords come from glob patterns
        got = set(back.codes[cid].rules.keywords)
        literal = {t for t in _literal_terms(code) if not re.search(r"[*?]", t)}
        assert literal <= got, (cid, literal - got)
        for extra in got - literal:
            assert any(extra in p for p in code.rules.patterns), (cid, extra)
    # every lost regex, exclusion and proximity rule is named in a warning with its code
    lost = _lost_features(governance, _quanteda_ok if fmt == "quanteda" else _liwc_ok)
    assert lost, "the governance codebook uses rules no dictionary format can express"
    for prefix in lost:
        assert any(w.startswith(prefix) for w in warnings), prefix
    # the imported codebook is written as YAML that load_codebook reads back
    out = tmp_path / "imported.yaml"
    write_codebook_yaml(back, out)
    again = load_codebook(out)
    assert [(c.id, c.parent, c.rules.keywords, c.rules.patterns, c.manual)
            for c in again.codes.values()] == [
        (c.id, c.parent, c.rules.keywords, c.rules.patterns, c.manual)
        for c in back.codes.values()]


@pytest.mark.parametrize("fmt, suffix", [("quanteda", "yml"), ("liwc", "dic")])
def test_export_is_deterministic(governance: Codebook, tmp_path: Path, fmt: str,
                                 suffix: str) -> None:
    one, two = tmp_path / f"1.{suffix}", tmp_path / f"2.{suffix}"
    w1 = export_dictionary(governance, one, fmt)
    w2 = export_dictionary(governance, two, fmt)
    assert w1 == w2
    assert one.read_bytes() == two.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_liwc_export_is_sorted(governance: Codebook, tmp_path: Path) -> None:
    path = tmp_path / "g.dic"
    export_liwc(governance, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    close = lines.index("%", 1)
    header = [line.split("\t") for line in lines[1:close]]
    assert [int(n) for n, _ in header] == list(range(1, len(governance.codes) + 1))
    assert [name for _, name in header] == sorted(governance.codes)
    words = [line.split("\t")[0] for line in lines[close + 1:]]
    assert words == sorted(words) and len(words) == len(set(words))


def test_codebook_yaml_round_trip(governance: Codebook, tmp_path: Path) -> None:
    out = tmp_path / "copy.yaml"
    write_codebook_yaml(governance, out)
    copy = load_codebook(out)
    assert (copy.name, copy.title, copy.version, copy.defaults) == (
        governance.name, governance.title, governance.version, governance.defaults)
    assert list(copy.codes) == list(governance.codes)
    for cid, code in governance.codes.items():
        c = copy.codes[cid]
        c.line = code.line
        assert c == code, cid


# -- what the formats lose, on a codebook with every rule kind ---------------------------------

QUANTEDA_FEATURES = """\
# quanteda dictionary exported by casecoder from codebook 'features' (sha256 {sha}).
# Read it in R with quanteda::dictionary(file = <this file>).
mech:
  digital:
    __:
      - 信息化
      - 大数据
      - 小程序*
      - 平台
      - 数字?*平台
    lightweight:
      - 短信推送
  frontload:
    - 5*
    - 下沉
  mediation:
    - 矛盾上交
    - 调解
out:
  - 满意度
prob:
  silo:
    - 各?为政
"""

LIWC_FEATURES = """\
%
1\tfrontload
2\tmech
3\tmech.digital
4\tmech.digital.lightweight
5\tmech.mediation
6\tout
7\tprob
8\tprob.silo
%
5*\t1
下沉\t1
信息化\t3
大数据\t3
小程序*\t3
平台\t3
满意度\t6
矛盾上交\t5
短信推送\t4
调解\t5
"""


def _common_warnings(fmt: str) -> list[str]:
    return [
        f"mech.digital: exclusion '数字货币' cannot be expressed in {fmt}; the units it would "
        "veto are counted",
        f"mech.digital: exclusion 're:数字人民币' cannot be expressed in {fmt}; the units it "
        "would veto are counted",
        f"mech.digital: negation mode 'polarity' cannot be expressed in {fmt}; negated "
        "matches count as positive",
        f"mech.digital: speaker scope respondent cannot be expressed in {fmt}; every "
        "speaker's text counts",
        f"mech.digital.lightweight: proximity rule [离线] within 4 char of [APP, 应用] cannot "
        f"be expressed in {fmt}; left out",
        "mech.mediation: negative keywords '矛盾上交' are written as plain entries; an import "
        "reads them as keywords",
    ]


def _tail(fmt: str, veto: str) -> list[str]:
    return [
        f"{veto}: negation mode 'veto' cannot be expressed in {fmt}; negated matches are "
        "counted",
        f"defaults: speaker scope respondent cannot be expressed in {fmt}; every speaker's "
        "text counts",
        f"defaults: negation cues and exceptions cannot be expressed in {fmt}",
        "labels, definitions, examples and the keyword/synonym distinction are not part of "
        f"the {fmt} format and are left out",
    ]


def test_quanteda_export_of_every_feature(tmp_path: Path) -> None:
    cb = load_codebook(FEATURES)
    path = tmp_path / "features.yml"
    warnings = export_quanteda(cb, path)
    assert path.read_text(encoding="utf-8") == QUANTEDA_FEATURES.format(sha=cb.sha256[:12])
    c = _common_warnings("quanteda")
    assert warnings == [
        "frontload: term '5*' holds a glob wildcard (* or ?), which quanteda reads as a "
        "wildcard",
        "frontload: its id does not extend its parent's id 'mech', so it is keyed "
        "'frontload' under 'mech' and imports back as 'mech.frontload'",
        "mech.digital: regular expression '(?:线上|网上)办理' cannot be expressed in "
        "quanteda; left out",
        *c,
        *_tail("quanteda", "frontload, mech.digital.lightweight, mech.mediation, prob.silo"),
    ]


def test_liwc_export_of_every_feature(tmp_path: Path) -> None:
    cb = load_codebook(FEATURES)
    path = tmp_path / "features.dic"
    warnings = export_liwc(cb, path)
    assert path.read_text(encoding="utf-8") == LIWC_FEATURES
    c = _common_warnings("LIWC")
    assert warnings == [
        "frontload: term '5*' ends in *, which LIWC reads as a wildcard",
        "frontload: its parent 'mech' is not the longest dotted prefix of its id that is a "
        "code, so the import restores parent None",
        "mech.digital: regular expression '数字\\\\w+平台' cannot be expressed in LIWC; left out",
        "mech.digital: regular expression '(?:线上|网上)办理' cannot be expressed in LIWC; "
        "left out",
        *c,
        "prob.silo: regular expression '各\\\\w为政' cannot be expressed in LIWC; left out",
        *_tail("LIWC", "frontload, mech.digital.lightweight, mech.mediation"),
    ]


def test_features_come_back_as_documented(tmp_path: Path) -> None:
    cb = load_codebook(FEATURES)
    export_quanteda(cb, tmp_path / "f.yml")
    back = import_quanteda(tmp_path / "f.yml")
    digital = back.codes["mech.digital"].rules
    assert digital.keywords == ["信息化", "大数据", "小程序", "平台"]
    assert digital.patterns == [r"数字\w\w*?平台"]
    assert back.codes["mech.frontload"].parent == "mech"  # as the warning said
    assert back.codes["prob.silo"].rules.patterns == [r"各\w为政"]
    export_liwc(cb, tmp_path / "f.dic")
    back = import_liwc(tmp_path / "f.dic")
    assert back.codes["frontload"].parent is None  # as the warning said
    assert back.codes["prob.silo"].manual  # its only rule was a regex LIWC cannot hold


# -- hand-written dictionaries -------------------------------------------------------------------

def _summary(cb: Codebook) -> list[tuple]:
    return [(c.id, c.label, c.parent, c.layer, c.manual, c.rules.keywords, c.rules.patterns)
            for c in cb.codes.values()]


def test_import_quanteda_fixture(tmp_path: Path) -> None:
    cb = import_quanteda(DICTS / "small.yml")
    assert cb.name == "small" and cb.path == str(DICTS / "small.yml")
    assert _summary(cb) == [
        ("mech", "mech", None, "group", False, [], []),
        ("mech.mediation", "mediation", "mech", "mechanism", False, ["调解", "人民调解"],
         [r"矛盾\w化解", r"调\w*?解"]),
        ("mech.digital", "digital", "mech", "mechanism", False, ["平台", "小程序"], []),
        ("mech.digital.lightweight", "lightweight", "mech.digital", "mechanism", False,
         ["短信推送", "离线 APP"], []),
        ("mech.frontload", "frontload", "mech", "mechanism", True, [], []),
        ("out", "out", None, "outcome", False, ["满意度", "2024", "yes"], []),
        ("prob.silo", "prob.silo", None, "problem", False, ["各自为政"], []),
    ]
    out = tmp_path / "small.yaml"
    write_codebook_yaml(cb, out)
    assert _summary(load_codebook(out)) == _summary(cb)


def test_import_liwc_fixture(tmp_path: Path) -> None:
    cb = import_liwc(DICTS / "small.dic")
    assert _summary(cb) == [
        ("mech", "mech", None, "group", False, [], []),
        ("mech.mediation", "mech.mediation", "mech", "mechanism", False, ["调解", "人民调解"],
         []),
        ("mech.digital", "mech.digital", "mech", "mechanism", False, ["平台", "短信推送"], []),
        ("mech.digital.lightweight", "mech.digital.lightweight", "mech.digital", "mechanism",
         False, ["短信推送", "离线 APP"], []),
        ("prob", "prob", None, "problem", False, ["各自为政"], []),
        ("out", "out", None, "outcome", False, ["满意度"], []),
    ]
    out = tmp_path / "small.yaml"
    write_codebook_yaml(cb, out)
    assert _summary(load_codebook(out)) == _summary(cb)


def test_imported_patterns_match_like_the_globs() -> None:
    kind, rx = glob_rule("调*解")
    assert kind == "pattern"
    assert re.search(rx, "开展调停和解工作") and not re.search(rx, "调。解")
    kind, rx = glob_rule("矛盾?化解")
    assert re.search(rx, "矛盾纠化解") and not re.search(rx, "矛盾化解")


@pytest.mark.parametrize("regex, glob", [
    ("调解", "调解"),
    (r"调解\w*", "调解*"),
    (r"调解\w*?", "调解*"),
    (r"\w*调解", "*调解"),
    (r"数字\w+平台", "数字?*平台"),
    (r"各\w为政", "各?为政"),
    (r"a\.b", "a.b"),
    ("离线 APP", "离线 APP"),
    (r"(?:线上|网上)办理", None),
    (r"数字.平台", None),
    (r"\d+%", None),
    (r"^调解", None),
    (r"调解?", None),
    (r"\*", None),
    ("[调协]解", None),
])
def test_regex_to_glob(regex: str, glob: str | None) -> None:
    assert regex_to_glob(regex) == glob


@pytest.mark.parametrize("entry, rule", [
    ("调解", ("keyword", "调解")),
    ("调解*", ("keyword", "调解")),
    ("*调解*", ("keyword", "调解")),
    ("调*解", ("pattern", r"调\w*?解")),
    ("?调解", ("pattern", r"\w调解")),
    ("a.b*", ("keyword", "a.b")),
    ("a.b?", ("pattern", r"a\.b\w")),
])
def test_glob_rule(entry: str, rule: tuple[str, str]) -> None:
    assert glob_rule(entry) == rule


# -- malformed dictionaries ------------------------------------------------------------------------

MALFORMED = [
    ("undefined_category.dic", 6, "the word '平台' refers to category 7, which the header does "
     "not define (defined: 1-2)"),
    ("unclosed_header.dic", 1, "the category header opened at line 1 is never closed by a line "
     "holding only %"),
    ("no_header.dic", 1, "the file opens with '调解\\t2'; expected a line holding only % to "
     "open the category header"),
    ("bad_header_line.dic", 3, "the header line 'mediation' is not a category number and a "
     "name, such as `1<TAB>mech`"),
    ("bad_category_name.dic", 3, "category name 'mech mediation' is not a valid code id "
     "(dot-separated parts without spaces, such as mech.digital); rename it"),
    ("duplicate_number.dic", 3, "category number 1 is defined twice (also 'mech')"),
    ("category_not_number.dic", 5, "the word '调解' has the category 'x', which is not a "
     "number"),
    ("word_without_category.dic", 4, "the word '调解' has no category numbers; expected "
     "`word<TAB>1 2`"),
    ("bad_yaml.yml", 5, "not valid YAML: while parsing a flow sequence at line 4: expected "
     "',' or ']', but got ':'"),
    ("entry_mapping.yml", 4, "an entry of category 'mech.mediation' is a list or mapping; "
     "expected a term such as 调解 or 调解*"),
    ("bad_key.yml", 2, "the category name 'dispute mediation' is not a valid code id part "
     "(no spaces; dots only between parts); rename it"),
    ("duplicate_id.yml", 4, "the category 'mech.digital' gives the code id 'mech.digital', "
     "which is already defined at line 2"),
    ("star_only.yml", 3, "the entry '*' would match every word (category 'out')"),
    ("top_list.yml", 1, "the top level is not a mapping of category names to entries, such as "
     "`mech: [引导, 宣讲]`"),
    ("top_terms.yml", 1, "`__` holds the terms of a category that has sub-categories, but here "
     "it is at the top level"),
]


@pytest.mark.parametrize("name, line, reason", MALFORMED)
def test_malformed_dictionaries(name: str, line: int, reason: str) -> None:
    path = DICTS / name
    with pytest.raises(CasecoderError) as exc:
        import_dictionary(path)
    assert exc.value.code == "CC605"
    assert exc.value.fields == {"path": str(path), "line": line, "reason": reason}
    assert str(exc.value) == f"[CC605] {path} line {line}: the dictionary is not valid: {reason}."


def test_encoding_and_empty_files(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.dic"
    gbk.write_bytes("%\n1\tmech\n%\n调解\t1\n".encode("gbk"))
    with pytest.raises(CasecoderError) as exc:
        import_liwc(gbk)
    assert exc.value.code == "CC605" and exc.value.fields["line"] == 4
    assert "not UTF-8" in exc.value.message
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(CasecoderError) as exc:
        import_quanteda(empty)
    assert exc.value.code == "CC605" and exc.value.fields["line"] == 1


def test_format_errors(tmp_path: Path) -> None:
    cb = load_codebook(FEATURES)
    with pytest.raises(CasecoderError) as exc:
        export_dictionary(cb, tmp_path / "x.cat", "wordstat")
    assert exc.value.code == "CC501"
    with pytest.raises(CasecoderError) as exc:
        import_dictionary(tmp_path / "x.cat")
    assert exc.value.code == "CC607"
    with pytest.raises(CasecoderError) as exc:
        import_dictionary(tmp_path / "missing.yml")
    assert exc.value.code == "CC608"
