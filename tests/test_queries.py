"""Co-occurrence, code x attribute crosstabs (CSV, XLSX, heatmap) and coding queries."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import manual_project
from openpyxl import load_workbook
from typer.testing import CliRunner

from casecoder.cli.main import app
from casecoder.errors import CasecoderError
from casecoder.queries import code_frequencies, cooccurrence, quotes
from casecoder.store import Store

CASES = {
    "k1.md": "---\nid: K1\ntitle: 甲\nregion: 长三角\nsetting: rural\n---\n\n"
             "调解员上门化解纠纷，居民满意。平台上线运行。\n",
    "k2.md": "---\nid: K2\ntitle: 乙\nregion: 中西部\nsetting: rural\n---\n\n"
             "网格员入户走访。志愿者参与调解。\n",
}
# (source, code, quote): spans are the quote's first occurrence
CODINGS = [
    ("k1.md", "mech.mediation", "调解员上门化解纠纷"),      # overlaps out below
    ("k1.md", "out", "化解纠纷，居民满意"),
    ("k1.md", "mech.digital.platform", "平台上线运行"),   # alone
    ("k2.md", "mech.demand", "网格员入户走访"),
    ("k2.md", "mech.mediation", "志愿者参与调解"),
    ("k2.md", "mech.participation", "志愿者参与调解"),   # same span as the one above
]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return manual_project(tmp_path, CASES, {"p": CODINGS})


def test_cooccurrence_overlap_counts_segments_sharing_text(proj: Path) -> None:
    with Store(proj) as store:
        codes, m = cooccurrence(store, "p", scope="overlap")
    assert m[("mech.mediation", "out")] == m[("out", "mech.mediation")] == 1
    assert m[("mech.mediation", "mech.participation")] == 1
    assert ("mech.digital", "out") not in m  # the platform sentence touches nothing
    assert m[("mech.mediation", "mech.mediation")] == 2  # diagonal: its segments
    assert "mech.digital" in codes  # rolled up to the frame id


def test_cooccurrence_unit_needs_the_same_span(proj: Path) -> None:
    with Store(proj) as store:
        _, m = cooccurrence(store, "p", scope="unit")
    assert ("mech.mediation", "out") not in m
    assert m[("mech.mediation", "mech.participation")] == 1


def test_cooccurrence_case_and_source_scopes(proj: Path) -> None:
    with Store(proj) as store:
        _, by_case = cooccurrence(store, "p", scope="case")
        _, by_source = cooccurrence(store, "p", scope="source")
        _, codes_level = cooccurrence(store, "p", scope="case", level="code")
    assert by_case[("mech.mediation", "mech.mediation")] == 2  # both cases
    assert by_case[("mech.digital", "mech.mediation")] == 1
    assert ("mech.demand", "out") not in by_case  # never in one case
    assert by_source == by_case  # one source per case here
    assert ("mech.digital.platform", "out") in codes_level


def test_cooccurrence_unknown_scope(proj: Path) -> None:
    with Store(proj) as store, pytest.raises(CasecoderError) as exc:
        cooccurrence(store, "p", scope="paragraph")
    assert exc.value.code == "CC008" and "--scope" in exc.value.message


def test_crosstab_by_attribute_and_typo(proj: Path) -> None:
    with Store(proj) as store:
        codes, cols, counts = code_frequencies(store, "p", by="region")
        assert cols == ["中西部", "长三角"]
        assert counts[("mech.mediation", "中西部")] == 1
        assert counts[("mech.mediation", "长三角")] == 1
        with pytest.raises(CasecoderError) as exc:
            code_frequencies(store, "p", by="regoin")
        with pytest.raises(CasecoderError) as by_kind:  # a source's, not a case's
            code_frequencies(store, "p", by="kind")
    assert exc.value.code == "CC010" and "'regoin'" in exc.value.message
    assert "region" in exc.value.message
    assert by_kind.value.code == "CC010"


def _cli(*args: object):  # noqa: ANN202
    return CliRunner().invoke(app, [str(a) for a in args])


def test_codes_stats_writes_xlsx_csv_and_heatmap(proj: Path, tmp_path: Path) -> None:
    xlsx, csv_path, png = tmp_path / "t.xlsx", tmp_path / "t.csv", tmp_path / "h.png"
    r = _cli("codes", "stats", "--project", proj, "--pass", "p", "--by", "setting",
             "--out", xlsx, "--heatmap", png)
    assert r.exit_code == 0, r.output
    ws = load_workbook(xlsx).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["code", "rural", "total"]
    assert ["mech.mediation", 2, 2] in rows  # numbers stay numbers
    assert png.read_bytes().startswith(b"\x89PNG")
    r = _cli("codes", "stats", "--project", proj, "--pass", "p", "--by", "setting",
             "--out", csv_path)
    assert r.exit_code == 0, r.output
    table = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert [row[1:] for row in table[1:]] == [[str(v) for v in row[1:]] for row in rows[1:]]


def test_xlsx_is_byte_identical_across_runs(proj: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    for out in (a, b):
        r = _cli("codes", "cooccur", "--project", proj, "--pass", "p", "--out", out)
        assert r.exit_code == 0, r.output
    assert a.read_bytes() == b.read_bytes()


def test_codes_cooccur_cli(proj: Path, tmp_path: Path) -> None:
    svg = tmp_path / "co.svg"
    r = _cli("codes", "cooccur", "--project", proj, "--pass", "p", "--scope", "case",
             "--json", "--heatmap", svg)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    i, j = data["codes"].index("mech.mediation"), data["codes"].index("mech.digital")
    assert data["scope"] == "case" and data["matrix"][i][i] == 2 and data["matrix"][i][j] == 1
    assert data["matrix"] == [list(row) for row in zip(*data["matrix"], strict=True)]
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_table_and_heatmap_suffixes_are_checked_before_work(proj: Path, tmp_path: Path
                                                            ) -> None:
    r = _cli("codes", "cooccur", "--project", proj, "--pass", "p", "--out", tmp_path / "x.txt")
    assert r.exit_code == 1 and "[CC607]" in r.stderr
    r = _cli("codes", "stats", "--project", proj, "--pass", "p", "--heatmap",
             tmp_path / "x.jpg")
    assert r.exit_code == 1 and "[CC607]" in r.stderr
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "x.jpg").exists()


def test_quotes_where_typo_and_context_stays_in_the_body(proj: Path) -> None:
    with Store(proj) as store:
        found = quotes(store, "mech.mediation", ["region=长三角"], "p", context=200)
        assert [p.case for p in found] == ["K1"]
        assert "---" not in found[0].before and "region" not in found[0].before
        with pytest.raises(CasecoderError) as exc:
            quotes(store, "mech.mediation", ["regoin=长三角"], "p")
    assert exc.value.code == "CC010"


def test_a_typo_in_a_code_id_or_level_is_refused_not_counted_as_zero(proj: Path) -> None:
    with Store(proj) as store:
        with pytest.raises(CasecoderError) as exc:
            quotes(store, "mech.mediaton")
        assert exc.value.code == "CC008" and "mech.mediation" in str(exc.value)
        assert quotes(store, "mech") != []  # a parent of coded codes is known
        for call in (lambda: code_frequencies(store, "p", level="fram"),
                     lambda: cooccurrence(store, "p", level="xx")):
            with pytest.raises(CasecoderError) as exc:
                call()
            assert exc.value.code == "CC008"
    r = CliRunner().invoke(app, ["quotes", "--code", "mech.mediaton", "--project", str(proj)])
    assert r.exit_code == 1 and "[CC008]" in r.output


def test_kwic_with_an_invalid_regex_is_a_catalogued_error(proj: Path) -> None:
    r = CliRunner().invoke(app, ["kwic", "(", "--regex", "--project", str(proj)])
    assert r.exit_code == 1 and "[CC008]" in r.output and "Traceback" not in r.output
