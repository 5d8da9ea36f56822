"""The `casecoder qca` command on the published fixtures and on bad tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED, invoke

FIXTURES = SHARED / "qca-fixtures"
EXPECTED_FILE = FIXTURES / "expected.json"

pytestmark = pytest.mark.skipif(not EXPECTED_FILE.exists(), reason="QCA fixtures missing")


def test_json_reproduces_the_reference_parsimonious_models(runner) -> None:
    expected = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))
    reference = expected["CVF_parsimonious_incl.cut0.8"]
    result = invoke(runner, "qca", FIXTURES / "CVF.tsv", "--outcome", "PROTEST",
                    "--incl-cut", "0.8", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    models = data["parsimonious"]["models"]
    assert [m["expression"] for m in models] == reference["models"]
    for model in models:
        fit = reference["model_fit"][model["name"]]
        got = [model["inclS"], model["PRI"], model["covS"]]
        assert got == pytest.approx(fit, abs=0.001)
    assert data["intermediate"] == []
    assert data["options"]["incl_cut"][0] == pytest.approx(0.8)


def test_report_prints_truth_table_and_three_solutions(runner) -> None:
    result = invoke(runner, "qca", FIXTURES / "LF.tsv", "--outcome", "SURV",
                    "--dir-exp", "DEV=1,URB=1,LIT=1,IND=1,STB=1")
    assert result.exit_code == 0, result.output
    out = result.output
    for heading in ("Truth table", "Complex (conservative) solution",
                    "Parsimonious solution", "Intermediate solution"):
        assert heading in out
    for column in ("inclS", "PRI", "covS", "covU"):
        assert column in out
    # the textbook intermediate solution of Lipset's data (Dusa 2019, ch. 8)
    assert "M1: DEV*URB*LIT*STB + DEV*LIT*~IND*STB -> SURV" in out


def test_bad_value_names_file_line_and_column(runner, tmp_path: Path) -> None:
    table = tmp_path / "bad.csv"
    table.write_text("case,A,Y\nx,1,1\ny,abc,0\n", encoding="utf-8")
    result = invoke(runner, "qca", table, "--outcome", "Y")
    assert result.exit_code == 1
    assert "CC402" in result.output
    assert "line 3" in result.output and "'A'" in result.output


def test_unknown_outcome_lists_columns(runner) -> None:
    result = invoke(runner, "qca", FIXTURES / "LF.tsv", "--outcome", "NOPE")
    assert result.exit_code == 1
    assert "CC403" in result.output and "SURV" in result.output


@pytest.mark.parametrize(("option", "value", "code"), [
    ("--incl-cut", "x", "CC008"),
    ("--incl-cut", "2", "CC407"),
    ("--dir-exp", "DEV", "CC008"),
])
def test_bad_options_are_catalogued(runner, option: str, value: str, code: str) -> None:
    result = invoke(runner, "qca", FIXTURES / "LF.tsv", "--outcome", "SURV", option, value)
    assert result.exit_code == 1
    assert code in result.output


def test_missing_table_is_catalogued(runner, tmp_path: Path) -> None:
    result = invoke(runner, "qca", tmp_path / "none.csv", "--outcome", "Y")
    assert result.exit_code == 1
    assert "none.csv" in result.output
