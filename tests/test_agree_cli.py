"""Agreement between two passes of a real (temporary) project, and the ``agree`` and
``dict`` commands: statistics against scikit-learn and krippendorff on the same unit
vectors, disagreements with their text, exact exit codes and error codes."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
import typer
from conftest import manual_project
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from casecoder.agreement_io import compared_sources, pass_agreement
from casecoder.cli.agree_cmd import agree_command, dict_app
from casecoder.cli.common import CatalogueGroup
from casecoder.errors import CasecoderError
from casecoder.queries import frame_id
from casecoder.store import Store

ROOT = Path(__file__).resolve().parents[1]
GOVERNANCE = ROOT / "codebooks" / "governance.yaml"
DICTS = Path(__file__).resolve().parent / "data" / "dicts"

TEXTS = {
    "a.txt": "街道建立了联席会议制度。社区开通了微信小程序收集诉求。调解员上门化解邻里纠纷。"
             "居民满意度明显提高。\n志愿者队伍参与巡逻。平台数据实现共享。\n",
    "b.md": "---\ntitle: 试点\n---\n\n网格员每天入户走访。老人通过短信推送接收通知。"
            "矛盾纠纷就地化解。\n",
    "c.txt": "只有一个编码者读过这份材料。\n",
}


def _span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    return start, start + len(quote)


# Codings per pass as (source name, code, quote); a quote's span is its first occurrence.
PASS_A = [
    ("a.txt", "mech.coordination", "联席会议"),
    ("a.txt", "mech.digital.lightweight", "微信小程序"),
    ("a.txt", "mech.mediation", "调解员上门化解邻里纠纷"),
    ("a.txt", "out.satisfaction", "满意度明显提高"),
    ("a.txt", "mech.digital", "平台"),
    ("b.md", "mech.demand", "入户走访"),
    ("b.md", "mech.digital.lightweight", "短信推送"),
    ("c.txt", "out", "编码者"),
]
PASS_B = [
    ("a.txt", "mech.coordination", "联席会议制度"),
    ("a.txt", "mech.digital", "微信小程序收集诉求"),
    ("a.txt", "out", "满意度"),
    ("a.txt", "mech.participation", "志愿者队伍参与巡逻"),
    ("a.txt", "mech.digital", "数据实现共享"),
    ("b.md", "mech.mediation", "矛盾纠纷就地化解"),
    ("b.md", "mech.digital", "网格员每天"),
]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return manual_project(tmp_path, TEXTS, {"a": PASS_A, "b": PASS_B, "solo": PASS_A[-1:]})


def _vectors(store: Store, unit: str, level: str, passes: tuple[str, str] = ("a", "b"),
             ) -> tuple[list[str], dict[str, tuple[list[int], list[int]]], list[tuple]]:
    """Unit vectors per code, built independently of casecoder.agree."""
    shared = compared_sources(store, *passes).shared
    units: list[tuple] = []
    for src in shared:
        if unit == "sentence":
            units += [(src.id, g.start_char, g.end_char)
                      for g in store.segments(source_id=src.id, kind="sentence")]
        else:
            units += [(src.id, i, i + 1) for i in range(src.body_start, len(src.text))]
    coded = {p: [(c.source_id, frame_id(c.code) if level == "frame" else c.code,
                  c.start_char, c.end_char) for c in store.codings(p)] for p in passes}
    codes = sorted({c for p in passes for _, c, _, _ in coded[p]})
    out = {}
    for code in codes:
        vecs = []
        for p in passes:
            vecs.append([int(any(sid == u[0] and c == code and s < u[2] and u[1] < e
                                 for sid, c, s, e in coded[p])) for u in units])
        out[code] = (vecs[0], vecs[1])
    return codes, out, units


@pytest.mark.parametrize("unit", ["sentence", "character"])
@pytest.mark.parametrize("level", ["frame", "code"])
def test_statistics_match_reference_implementations(proj: Path, unit: str, level: str) -> None:
    with Store(proj) as store:
        report, _ = pass_agreement(store, "a", "b", unit=unit, level=level, bootstrap=0)
        codes, vectors, units = _vectors(store, unit, level)
    assert [e.code for e in report.codes] == codes
    assert report.n_units == len(units)
    checked = 0
    for code in codes:
        va, vb = vectors[code]
        entry = report.by_code(code)
        assert (entry.both, entry.only_a, entry.only_b) == (
            sum(x & y for x, y in zip(va, vb, strict=True)),
            sum(x & (1 - y) for x, y in zip(va, vb, strict=True)),
            sum((1 - x) & y for x, y in zip(va, vb, strict=True)))
        if entry.kappa is None:
            continue
        assert entry.kappa == pytest.approx(cohen_kappa_score(va, vb), abs=1e-12)
        expected_alpha = krippendorff.alpha(reliability_data=np.array([va, vb], dtype=float),
                                            level_of_measurement="nominal")
        assert entry.alpha == pytest.approx(expected_alpha, abs=1e-12)
        checked += 1
    assert checked >= 3  # the fixture has codes with agreement and disagreement


def test_frame_level_rolls_up_and_code_level_does_not(proj: Path) -> None:
    with Store(proj) as store:
        frame, _ = pass_agreement(store, "a", "b", bootstrap=0, sources="both")
        code, _ = pass_agreement(store, "a", "b", level="code", bootstrap=0, sources="both")
    assert [e.code for e in frame.codes] == ["mech.coordination", "mech.demand",
                                             "mech.digital", "mech.mediation",
                                             "mech.participation", "out"]
    assert "mech.digital.lightweight" in [e.code for e in code.codes]
    assert "out.satisfaction" in [e.code for e in code.codes]
    # 满意度 sentence: A coded out.satisfaction, B coded out -> agreement at frame level
    assert frame.by_code("out").both == 1 and frame.by_code("out").only_a == 0
    assert code.by_code("out").only_b == 1 and code.by_code("out.satisfaction").only_a == 1


def test_sentence_disagreements_carry_source_offsets_and_text(proj: Path) -> None:
    with Store(proj) as store:
        _, found = pass_agreement(store, "a", "b", bootstrap=0)
        texts = {s.name: s.text for s in store.sources()}
    assert [(d.source, d.code, d.coded_by) for d in found] == [
        ("a.txt", "mech.mediation", "A"),
        ("a.txt", "mech.participation", "B"),
        ("b.md", "mech.demand", "A"),
        ("b.md", "mech.digital", "B"),
        ("b.md", "mech.digital", "A"),
        ("b.md", "mech.mediation", "B"),
        ("c.txt", "out", "A"),
    ]
    for d in found:
        assert texts[d.source][d.start_char:d.end_char] == d.text
        assert d.pass_name == {"A": "a", "B": "b"}[d.coded_by]
    assert found[0].text == "调解员上门化解邻里纠纷。"
    assert found[2].text == found[3].text == "网格员每天入户走访。"
    assert found[4].text == "老人通过短信推送接收通知。"


def test_character_disagreements_are_joined_into_runs(proj: Path) -> None:
    with Store(proj) as store:
        _, found = pass_agreement(store, "a", "b", unit="character", level="code",
                                  codes=["mech.coordination"], bootstrap=0)
    # A coded 联席会议, B 联席会议制度: B alone coded the two characters 制度
    assert [(d.text, d.coded_by, d.end_char - d.start_char) for d in found] == [
        ("制度", "B", 2)]


def test_codes_option_restricts_and_orders(proj: Path) -> None:
    with Store(proj) as store:
        report, found = pass_agreement(store, "a", "b", codes=["out", "mech.digital"],
                                       bootstrap=0)
    assert [e.code for e in report.codes] == ["out", "mech.digital"]
    assert {d.code for d in found} <= {"out", "mech.digital"}


def test_sources_either_pass_coded_are_compared(proj: Path) -> None:
    # c.txt was coded by A only: by default B's silence there counts as "no code"
    with Store(proj) as store:
        sources = compared_sources(store, "a", "b")
        report, found = pass_agreement(store, "a", "b", bootstrap=0)
        n_sentences = sum(len(store.segments(source_id=s.id, kind="sentence"))
                          for s in sources.shared)
    assert [s.name for s in sources.shared] == ["a.txt", "b.md", "c.txt"]
    assert sources.only_a == ["c.txt"] and sources.only_b == []
    assert report.n_units == n_sentences == 10
    assert report.by_code("out").only_a == 1
    assert any(d.source == "c.txt" and d.coded_by == "A" for d in found)


def test_sources_both_compares_only_shared_sources(proj: Path) -> None:
    with Store(proj) as store:
        sources = compared_sources(store, "a", "b", "both")
        report, found = pass_agreement(store, "a", "b", bootstrap=0, sources="both")
        everything = compared_sources(store, "a", "b", "all")
    assert [s.name for s in sources.shared] == ["a.txt", "b.md"]
    assert report.n_units == 9 and report.by_code("out").only_a == 0
    assert all(d.source != "c.txt" for d in found)
    assert [s.name for s in everything.shared] == ["a.txt", "b.md", "c.txt"]


def test_skipping_a_source_lowers_agreement(proj: Path) -> None:
    # B = A minus every coding of a.txt: "either" must not report perfect agreement
    with Store(proj) as store:
        rows = [r for r in store.db.execute(
            "SELECT pass, source_id, code, start_char, end_char, evidence, rule, confidence,"
            " coder, polarity, segment_id FROM codings WHERE pass = 'a'")]
        a_txt = next(s.id for s in store.sources() if s.name == "a.txt")
        with store.transaction():
            store.replace_pass("skip", "human:skip", None, None, {}, None)
            store.add_codings([("skip", *r[1:]) for r in rows if r[1] != a_txt])
        either, _ = pass_agreement(store, "a", "skip", bootstrap=0)
        both, _ = pass_agreement(store, "a", "skip", bootstrap=0, sources="both")
    assert both.overall.kappa == 1.0
    assert either.overall.kappa < 1.0


def test_bootstrap_is_seeded(proj: Path) -> None:
    with Store(proj) as store:
        r1, _ = pass_agreement(store, "a", "b", bootstrap=200, seed=3)
        r2, _ = pass_agreement(store, "a", "b", bootstrap=200, seed=3)
    assert r1 == r2
    assert r1.overall.kappa_ci is not None


def test_errors(proj: Path) -> None:
    with Store(proj) as store:
        with pytest.raises(CasecoderError) as exc:
            pass_agreement(store, "a", "nope")
        assert exc.value.code == "CC006" and "'nope'" in exc.value.message
        with pytest.raises(CasecoderError) as exc:
            pass_agreement(store, "b", "solo", sources="both")
        assert exc.value.code == "CC701"
        with pytest.raises(CasecoderError) as exc:
            pass_agreement(store, "a", "b", sources="some")
        assert exc.value.code == "CC008" and "--sources" in exc.value.message
        with pytest.raises(CasecoderError) as exc:
            pass_agreement(store, "a", "b", unit="paragraph")
        assert exc.value.code == "CC008" and "--unit" in exc.value.message
        with pytest.raises(CasecoderError) as exc:
            pass_agreement(store, "a", "b", level="group")
        assert exc.value.code == "CC008" and "--level" in exc.value.message


# -- the commands ------------------------------------------------------------------------------

def _app() -> typer.Typer:
    app = typer.Typer(cls=CatalogueGroup, add_completion=False,
                      pretty_exceptions_show_locals=False, rich_markup_mode=None)
    app.command("agree")(agree_command)
    app.add_typer(dict_app, name="dict")
    return app


def _run(*args: object):  # noqa: ANN202
    return CliRunner().invoke(_app(), [str(a) for a in args], catch_exceptions=False)


def test_agree_command_prints_table_and_disagreements(proj: Path) -> None:
    r = _run("agree", "a", "b", "--project", proj, "--bootstrap", 100, "--disagreements", 2,
             "--sources", "both")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith("Agreement of A = 'a' and B = 'b': 9 sentence units in 2 sources "
                          "(level frame; 100 bootstrap resamples, seed 0)\n")
    assert "Coded by A only (left out): c.txt" in out
    header = next(line for line in out.splitlines() if line.startswith("code"))
    for column in ("kappa", "alpha", "agree %", "95% CI", "prevalence"):
        assert column in header
    assert "(all codes)" in out
    assert "Disagreements (2 of 6):" in out
    assert "调解员上门化解邻里纠纷。" in out
    assert "老人通过短信推送接收通知。" not in out  # the third and later are not shown


def test_agree_command_json(proj: Path) -> None:
    r = _run("agree", "a", "b", "--project", proj, "--bootstrap", 0, "--level", "code",
             "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["passes"] == {"A": "a", "B": "b"}
    assert data["sources"] == {"compared": ["a.txt", "b.md", "c.txt"], "only_a": ["c.txt"],
                               "only_b": [], "scope": "either", "stale_a": [], "stale_b": []}
    assert data["report"]["unit_kind"] == "sentence"
    assert {c["code"] for c in data["report"]["codes"]} >= {"mech.digital.lightweight"}
    assert all(set(d) == {"source", "source_id", "case", "start_char", "end_char", "code",
                          "coded_by", "pass", "text"} for d in data["disagreements"])


def test_agree_command_unknown_pass(proj: Path) -> None:
    r = _run("agree", "a", "nope", "--project", proj)
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: [CC006] No pass named 'nope' in the project. "
                               "Known passes: a, b, solo.")


def test_agree_command_no_shared_sources(proj: Path) -> None:
    r = _run("agree", "b", "solo", "--project", proj, "--sources", "both")
    assert r.exit_code == 1 and "Error: [CC701]" in r.stderr


def test_agree_command_bad_option_values(proj: Path) -> None:
    r = _run("agree", "a", "b", "--project", proj, "--unit", "turn")
    assert r.exit_code == 1 and "[CC008]" in r.stderr
    r = _run("agree", "a", "b", "--project", proj, "--disagreements", -1)
    assert r.exit_code == 1 and "[CC008]" in r.stderr
    r = _run("agree", "a", "--project", proj)
    assert r.exit_code == 2  # usage error: missing argument


def test_agree_command_without_project(tmp_path: Path) -> None:
    r = _run("agree", "a", "b", "--project", tmp_path / "none")
    assert r.exit_code == 1 and "[CC001]" in r.stderr


@pytest.mark.parametrize("fmt, suffix", [("quanteda", "yml"), ("liwc", "dic")])
def test_dict_export_then_import(tmp_path: Path, fmt: str, suffix: str) -> None:
    from casecoder.codebook import load_codebook

    out = tmp_path / f"governance.{suffix}"
    r = _run("dict", "export", "--format", fmt, "--codebook", GOVERNANCE, "--out", out)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {out}: ")
    assert "warning: " in r.stderr and "warning: " not in r.stdout
    back = tmp_path / "back.yaml"
    r = _run("dict", "import", out, "--out", back)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {back}: ")
    assert set(load_codebook(back).codes) == set(load_codebook(GOVERNANCE).codes)


def test_dict_command_errors(tmp_path: Path) -> None:
    r = _run("dict", "export", "--format", "wordstat", "--codebook", GOVERNANCE,
             "--out", tmp_path / "x.cat")
    assert r.exit_code == 1 and "Error: [CC501]" in r.stderr
    r = _run("dict", "import", DICTS / "undefined_category.dic", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1
    assert "Error: [CC605]" in r.stderr and "undefined_category.dic line 6" in r.stderr
    assert not (tmp_path / "x.yaml").exists()
    r = _run("dict", "import", tmp_path / "missing.dic", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1 and "Error: [CC608]" in r.stderr
    (tmp_path / "words.txt").write_text("调解\n", encoding="utf-8")
    r = _run("dict", "import", tmp_path / "words.txt", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1 and "Error: [CC607]" in r.stderr
    r = _run("dict", "export", "--codebook", GOVERNANCE)
    assert r.exit_code == 2


def test_codings_on_an_older_version_of_a_source_are_noted(proj: Path, tmp_path: Path) -> None:
    from casecoder.ingest import ingest

    with Store(proj) as store:
        src = next(s for s in store.sources() if s.name == "b.md")
        changed = tmp_path / "b.md"  # the same file, edited after pass a was coded
        changed.write_text(src.text.replace("。", "！", 1), encoding="utf-8")
        ingest(store, [changed])
    r = _run("agree", "a", "b", "--project", proj, "--bootstrap", 0, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)["sources"]
    assert data["stale_a"] == ["b.md"] and data["stale_b"] == ["b.md"]
    r = _run("agree", "a", "b", "--project", proj, "--bootstrap", 0)
    assert "Note: A (a) also has codings on older versions of b.md" in r.stderr
