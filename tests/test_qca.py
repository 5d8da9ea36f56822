"""Tests of casecoder.qca.

The reference values come from /work/shared/qca-fixtures/expected.json (R package QCA 3.23):
every entry of that file is turned into one check below by walking the file, so no number
of it is copied here. Property tests (hypothesis) cover the invariants of the parameters of
fit, of calibration and of Boolean minimisation (against brute force on small truth tables).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from casecoder import qca

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "qca-fixtures"
EXPECTED_FILE = FIXTURES / "expected.json"
TOLERANCE = 0.001  # README: values are rounded to 3 decimals as R prints them
OUTCOMES = {"CVF": "PROTEST", "CVR": "PROTEST", "LC": "SURV", "LF": "SURV"}  # README

needs_fixtures = pytest.mark.skipif(not EXPECTED_FILE.exists(), reason="QCA fixtures missing")


# ---------------------------------------------------------------------------------------
# expected.json, entry by entry
# ---------------------------------------------------------------------------------------


@functools.cache
def table(name: str, membership: bool = True) -> qca.QcaTable:
    return qca.load_table(FIXTURES / f"{name}.tsv", membership=membership)


@functools.cache
def tt_for(name: str, incl_cut: float, neg_out: bool = False) -> qca.TruthTable:
    return qca.truth_table(table(name), OUTCOMES[name], incl_cut=incl_cut, neg_out=neg_out)


@functools.cache
def solution(name: str, kind: str, incl_cut: float, neg_out: bool = False) -> qca.Solution:
    tt = tt_for(name, incl_cut, neg_out)
    return qca.complex_solution(tt) if kind == "complex" else qca.parsimonious_solution(tt)


def _cut(key: str, default: float = 1.0) -> float:
    """incl.cut as written in an expected.json key (R's default is 1)."""
    match = re.search(r"incl\.cut([0-9.]*[0-9])", key)
    return float(match.group(1)) if match else default


def _dataset(key: str) -> str:
    return key.split("_", 1)[0]


def _single(sol: qca.Solution) -> qca.Model:
    assert len(sol.models) == 1, [m.expression for m in sol.models]
    return sol.models[0]


def _term(model: qca.Model, expression: str) -> qca.TermFit:
    terms = {t.expression: t for t in model.terms}
    assert expression in terms, f"{expression} not in {model.expression}"
    return terms[expression]


Check = tuple[str, Any, Callable[[], Any], float]


def _fit_checks(key: str, section: dict[str, Any]) -> list[Check]:
    name = _dataset(key)
    relation = "sufficiency" if "suf" in key else "necessity"
    out: list[Check] = []
    for expression, fits in section.items():
        for measure, value in fits.items():
            fn = qca.sufficiency if relation == "sufficiency" else qca.necessity

            def actual(fn=fn, expression=expression, measure=measure, name=name) -> float:
                return getattr(fn(table(name), expression, OUTCOMES[name]), measure)

            out.append((f"{key}/{expression}/{measure}", value, actual, TOLERANCE))
    return out


def _calibration_checks(key: str, section: dict[str, Any]) -> list[Check]:
    idm = float(re.search(r"idm([0-9.]+)", key).group(1))
    tol = float(section["tolerance"])
    raw = table("CVR", membership=False)
    calibrated = table(_dataset(key))
    out: list[Check] = []
    for column, thresholds in section["thresholds_e_c_i"].items():
        for case, value in zip(calibrated.cases, calibrated.column(column), strict=True):

            def actual(column=column, thresholds=thresholds, case=case) -> float:
                scores = qca.calibrate(raw.column(column), thresholds, idm=idm)
                return float(scores[raw.cases.index(case)])

            out.append((f"{key}/thresholds_e_c_i/{column}/{case}", float(value), actual, tol))
    return out


def _parsimonious_checks(key: str, section: dict[str, Any]) -> list[Check]:
    name, cut = _dataset(key), _cut(key)
    out: list[Check] = []

    def models() -> list[str]:
        return [m.expression for m in solution(name, "parsimonious", cut).models]

    out.append((f"{key}/models", section["models"], models, 0.0))
    order = [s.strip() for s in section["_fit_order"].split(",")]
    for label, values in section["model_fit"].items():
        for measure, value in zip(order, values, strict=True):

            def actual(label=label, measure=measure) -> float:
                found = {m.name: m for m in solution(name, "parsimonious", cut).models}
                return getattr(found[label], measure)

            out.append((f"{key}/model_fit/{label}/{measure}", value, actual, TOLERANCE))
    return out


def _truth_table_checks(key: str, sub: str, section: dict[str, Any]) -> list[Check]:
    name, cut = _dataset(key), _cut(sub)
    out: list[Check] = []
    out.append(
        (
            f"{key}/{sub}/observed_rows",
            section["observed_rows"],
            lambda: len(tt_for(name, cut).rows),
            0.0,
        )
    )

    def positives() -> list[str]:
        tt = tt_for(name, cut)
        return [
            f"{''.join(map(str, r.values))} n={r.n} ({','.join(r.cases)})"
            for r in tt.rows
            if r.out == "1"
        ]

    out.append((f"{key}/{sub}/positive_rows", section["positive_rows"], positives, 0.0))
    return out


def _solution_checks(
    key: str, sub: str, section: dict[str, Any] | str, kind: str, neg_out: bool
) -> list[Check]:
    name, cut = _dataset(key), _cut(key)
    prefix = f"{key}/{sub}"

    def model() -> qca.Model:
        return _single(solution(name, kind, cut, neg_out))

    if isinstance(section, str):
        return [(f"{prefix}/formula", section, lambda: model().expression, 0.0)]
    out: list[Check] = [(f"{prefix}/formula", section["formula"], lambda: model().expression, 0.0)]
    for expression, fits in section.get("terms", {}).items():
        for measure, value in fits.items():

            def actual(expression=expression, measure=measure) -> float:
                return getattr(_term(model(), expression), measure)

            out.append((f"{prefix}/terms/{expression}/{measure}", value, actual, TOLERANCE))
    for measure, value in section.get("solution", {}).items():
        out.append(
            (
                f"{prefix}/solution/{measure}",
                value,
                lambda measure=measure: getattr(model(), measure),
                TOLERANCE,
            )
        )
    for measure in ("inclS", "PRI", "covS"):
        if measure in section:
            out.append(
                (
                    f"{prefix}/{measure}",
                    section[measure],
                    lambda measure=measure: getattr(model(), measure),
                    TOLERANCE,
                )
            )
    if "simplifying_assumption_rows" in section:

        def assumptions() -> list[int]:
            sol = solution(name, kind, cut, neg_out)
            assert len(sol.simplifying_assumptions) == 1
            return list(sol.simplifying_assumptions[0])

        out.append(
            (
                f"{prefix}/simplifying_assumption_rows",
                section["simplifying_assumption_rows"],
                assumptions,
                0.0,
            )
        )
    return out


def _crisp_checks(key: str, section: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    for sub, value in section.items():
        if sub.startswith("truth_table"):
            out += _truth_table_checks(key, sub, value)
        else:
            kind = "parsimonious" if "parsimonious" in sub else "complex"
            if kind == "complex":
                assert "conservative" in sub, sub
            out += _solution_checks(key, sub, value, kind, neg_out=sub.startswith("negated"))
    return out


def expected_checks() -> list[Check]:
    if not EXPECTED_FILE.exists():
        return []
    data = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))
    checks: list[Check] = []
    for key, section in data.items():
        if key.startswith("_"):
            continue
        if "_necessity_" in key or "_sufficiency_" in key:
            checks += _fit_checks(key, section)
        elif "_calibration_" in key:
            checks += _calibration_checks(key, section)
        elif "_parsimonious_" in key:
            checks += _parsimonious_checks(key, section)
        elif key.endswith("_crisp"):
            checks += _crisp_checks(key, section)
        else:  # a new kind of entry must get a checker, not be skipped silently
            checks.append((key, "a checker for this entry", lambda: None, 0.0))
    return checks


CHECKS = expected_checks()


@needs_fixtures
@pytest.mark.parametrize(
    ("expected", "compute", "tol"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS]
)
def test_expected_value(expected: Any, compute: Callable[[], Any], tol: float) -> None:
    actual = compute()
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        assert actual is not None and not math.isnan(actual)
        assert abs(actual - expected) <= tol + 1e-9, (actual, expected)
    else:
        assert actual == expected


@needs_fixtures
def test_every_expected_entry_is_checked() -> None:
    """Every value of expected.json (lists count as one value) has at least one check."""
    data = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))
    not_values = {"tolerance", "ref"}  # a comparison setting and a bibliographic note

    def leaves(node: Any, path: str) -> list[str]:
        if isinstance(node, dict):
            return [
                leaf
                for k, v in node.items()
                if not k.startswith("_") and k not in not_values
                for leaf in leaves(v, f"{path}/{k}" if path else k)
            ]
        return [path]

    ids = [c[0] for c in CHECKS]
    missing = [
        leaf
        for leaf in leaves(data, "")
        if not any(i == leaf or i.startswith(leaf + "/") for i in ids)
    ]
    assert not missing
    assert all(c[1] != "a checker for this entry" for c in CHECKS)


# ---------------------------------------------------------------------------------------
# Other published R results (minimize() documentation, Lipset fuzzy data, QCA 3.x)
# ---------------------------------------------------------------------------------------


@needs_fixtures
def test_lipset_fuzzy_solutions_match_r_documentation() -> None:
    result = qca.run(FIXTURES / "LF.tsv", "SURV", incl_cut=0.8, dir_exp="DEV, URB, LIT, IND, STB")
    assert [m.expression for m in result.complex.models] == [
        "DEV*URB*LIT*IND*STB + DEV*~URB*LIT*~IND*STB"
    ]
    assert [m.expression for m in result.parsimonious.models] == ["DEV*~IND + URB*STB"]
    assert [s.label for s in result.intermediate] == ["C1P1"]
    model = _single(result.intermediate[0])
    assert model.expression == "DEV*URB*LIT*STB + DEV*LIT*~IND*STB"
    fits = [(t.inclS, t.PRI, t.covS, t.covU) for t in model.terms]
    assert np.allclose(
        fits, [(0.901, 0.879, 0.468, 0.378), (0.814, 0.721, 0.282, 0.191)], atol=TOLERANCE
    )
    assert np.allclose([model.inclS, model.PRI, model.covS], [0.866, 0.839, 0.660], atol=TOLERANCE)
    # the same expectations given per condition
    again = qca.intermediate_solutions(result.truth_table, {c: 1 for c in result.conditions})
    assert again[0].models[0].expression == model.expression


@needs_fixtures
def test_cvf_unique_coverage_within_each_model() -> None:
    sol = solution("CVF", "parsimonious", 0.8)
    # R prints per-model unique coverage in the (M1) ... (M4) columns
    m1 = sol.models[0]
    assert [round(t.covU, 3) for t in m1.terms] == [0.132, 0.065, 0.040, 0.085]
    assert sol.essential == ("~NATPRIDE", "DEMOC*GEOCON*POLDIS")
    assert sol.prime_implicants[0] == "~NATPRIDE"
    assert len(sol.prime_implicants) == 6


# ---------------------------------------------------------------------------------------
# run(), report and dictionary
# ---------------------------------------------------------------------------------------


@needs_fixtures
def test_run_report_and_dict() -> None:
    result = qca.run(FIXTURES / "CVF.tsv", "PROTEST", incl_cut=0.8, dir_exp={"NATPRIDE": 0})
    report = qca.format_report(result)
    for name in ("M1", "M2", "M3", "M4"):
        assert f"{name}: ~NATPRIDE + DEMOC*GEOCON*POLDIS" in report
    assert report.index("Truth table") < report.index("Complex") < report.index("Parsimonious")
    assert report.index("Parsimonious") < report.index("Intermediate")
    assert "From C1P1:" in report and "NATPRIDE=0" in report
    data = qca.result_to_dict(result)
    text = json.dumps(data)
    again = json.dumps(
        qca.result_to_dict(
            qca.run(FIXTURES / "CVF.tsv", "PROTEST", incl_cut=0.8, dir_exp={"NATPRIDE": 0})
        )
    )
    assert text == again
    assert list(data) == [
        "source",
        "outcome",
        "conditions",
        "options",
        "truth_table",
        "necessity",
        "sufficiency",
        "complex",
        "parsimonious",
        "intermediate",
    ]
    assert [m["name"] for m in data["parsimonious"]["models"]] == ["M1", "M2", "M3", "M4"]
    assert data["options"]["dir_exp"]["NATPRIDE"] == "0"
    assert data["options"]["dir_exp"]["DEMOC"] == "-"


@needs_fixtures
def test_run_without_expectations_has_no_intermediate() -> None:
    result = qca.run(FIXTURES / "LC.tsv", "SURV", incl_cut=1)
    assert result.intermediate == ()
    assert "Not computed" in qca.format_report(result)
    assert qca.result_to_dict(result)["intermediate"] == []


@needs_fixtures
def test_negated_outcome_spellings_agree() -> None:
    a = qca.run(FIXTURES / "LC.tsv", "SURV", neg_out=True)
    b = qca.run(FIXTURES / "LC.tsv", "~SURV")
    assert a.outcome == b.outcome == "~SURV"
    assert [m.expression for m in a.parsimonious.models] == [
        m.expression for m in b.parsimonious.models
    ]


def test_contradictions_and_frequency_cut() -> None:
    # two cases in configuration A=1,B=1 disagree; one case in A=0,B=1
    t = qca.QcaTable.from_columns(
        {"A": [1, 1, 0, 0, 1], "B": [1, 1, 1, 0, 0], "Y": [1, 0, 1, 0, 1]},
        cases=["a", "b", "c", "d", "e"],
    )
    tt = qca.truth_table(t, "Y", incl_cut=(0.8, 0.5))
    outs = {r.number: r.out for r in tt.rows}
    assert outs == {4: "C", 2: "1", 1: "0", 3: "1"}
    assert qca.truth_table(t, "Y", incl_cut=0.8).rows[-1].out == "0"  # no incl.cut0, no C
    tt2 = qca.truth_table(t, "Y", incl_cut=0.8, n_cut=2)
    assert {r.number: r.out for r in tt2.rows} == {4: "0", 2: "?", 1: "?", 3: "?"}
    assert tt2.remainder_rows == (1, 2, 3)
    with pytest.raises(qca.QcaSpecError):
        qca.truth_table(t, "Y", incl_cut=(0.5, 0.8))
    # contradictions are not remainders: the parsimonious solution must avoid row 4
    sol = qca.parsimonious_solution(tt)
    assert len(sol.models) == 1
    assert {t.expression for t in sol.models[0].terms} == {"~A*B", "A*~B"}


def test_half_membership_is_reported() -> None:
    t = qca.QcaTable.from_columns({"A": [0.5, 0.9, 0.1], "Y": [0.2, 0.8, 0.1]})
    tt = qca.truth_table(t, "Y")
    assert tt.warnings and "0.5" in tt.warnings[0]
    assert sum(r.n for r in tt.rows) == 2


def test_unknown_names_and_bad_options() -> None:
    t = qca.QcaTable.from_columns({"A": [0, 1], "Y": [0, 1]})
    with pytest.raises(qca.QcaColumnError) as err:
        qca.truth_table(t, "Z")
    assert err.value.column == "Z" and err.value.known == ("A", "Y")
    with pytest.raises(qca.QcaSpecError):
        qca.sufficiency(t, "A*Q", "Y")
    with pytest.raises(qca.QcaSpecError):
        qca.intermediate_solutions(qca.truth_table(t, "Y"), {"A": 2})
    assert isinstance(qca.QcaSpecError("x"), ValueError)


# ---------------------------------------------------------------------------------------
# Data loading and its errors
# ---------------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "line", "column", "field", "reason"),
    [
        ("c1\t0.2\t0.4\nc2\tabc\t0.1\n", 3, "A", 2, "not a number"),
        ("c1\t0.2\t0.4\nc2\t0.3\t1.5\n", 3, "Y", 3, "outside [0, 1]"),
        ("c1\t0.2\t-0.1\n", 2, "Y", 3, "outside [0, 1]"),
        ("c1\t0.2\t\n", 2, "Y", 3, "empty"),
        ("c1\t0.2\tnan\n", 2, "Y", 3, "not a number"),
    ],
)
def test_bad_value_names_file_line_and_column(
    tmp_path: Path, body: str, line: int, column: str, field: int, reason: str
) -> None:
    path = _write(tmp_path, "bad.tsv", '"A"\t"Y"\n' + body)
    with pytest.raises(qca.QcaDataError) as err:
        qca.load_table(path)
    exc = err.value
    assert isinstance(exc, ValueError)
    assert (exc.line, exc.column, exc.field) == (line, column, field)
    message = str(exc)
    assert str(path) in message
    assert f"line {line}" in message
    assert f"column {column!r}" in message
    assert reason in message


def test_bad_value_line_number_counts_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "gaps.csv", "case,A,Y\n\nc1,0,1\n\nc2,1,x\n")
    with pytest.raises(qca.QcaDataError, match=r"line 5, column 'Y'"):
        qca.load_table(path)


def test_wrong_field_count_and_repeated_names(tmp_path: Path) -> None:
    path = _write(tmp_path, "short.csv", "case,A,Y\nc1,0,1\nc2,1\n")
    with pytest.raises(qca.QcaDataError, match="line 3: expected 3 fields"):
        qca.load_table(path)
    path = _write(tmp_path, "dup.csv", "case,A,A\nc1,0,1\n")
    with pytest.raises(qca.QcaDataError, match="line 1, column 'A'"):
        qca.load_table(path)
    path = _write(tmp_path, "dupcase.csv", "case,A\nc1,0\nc1,1\n")
    with pytest.raises(qca.QcaDataError, match="line 3, column 'case'.*line 2"):
        qca.load_table(path)
    with pytest.raises(qca.QcaDataError, match="empty"):
        qca.load_table(_write(tmp_path, "empty.csv", "\n\n"))
    with pytest.raises(qca.QcaDataError, match="cannot be read"):
        qca.load_table(tmp_path / "missing.csv")


def test_raw_values_allowed_when_not_membership(tmp_path: Path) -> None:
    path = _write(tmp_path, "raw.csv", "case,A\nc1,12.5\nc2,-3\n")
    assert qca.load_table(path, membership=False).column("A").tolist() == [12.5, -3.0]
    with pytest.raises(qca.QcaDataError, match="outside"):
        qca.load_table(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("r_style.tsv", '"A"\t"Y"\n"x"\t1\t0\n"y"\t0\t1\n'),
        ("labelled.csv", "\ufeffcase,A,Y\nx,1,0\ny,0,1\n"),
        ("semicolon.txt", "case;A;Y\nx;1,0;0\ny;0;1\n"),
        ("sniffed.dat", "case\tA\tY\nx\t1\t0\ny\t0\t1\n"),
        ("quoted.csv", '"case","A","Y"\n"x, the first","1","0"\ny,0,1\n'),
    ],
)
def test_table_formats(tmp_path: Path, name: str, text: str) -> None:
    t = qca.load_table(_write(tmp_path, name, text))
    assert t.columns == ("A", "Y")
    assert t.column("A").tolist() == [1.0, 0.0]
    assert t.column("Y").tolist() == [0.0, 1.0]
    assert len(t.cases) == 2


@needs_fixtures
def test_fixture_tables_load() -> None:
    cvf = table("CVF")
    assert cvf.columns == ("DEMOC", "ETHFRACT", "GEOCON", "POLDIS", "NATPRIDE", "PROTEST")
    assert len(cvf.cases) == 29 and cvf.cases[0] == "GreeksAlbania"
    with pytest.raises(qca.QcaDataError, match="outside"):
        qca.load_table(FIXTURES / "CVR.tsv")


# ---------------------------------------------------------------------------------------
# Parameters of fit: properties
# ---------------------------------------------------------------------------------------

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
pairs = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(unit, min_size=n, max_size=n), st.lists(unit, min_size=n, max_size=n)
    )
)


def _xy_table(x: list[float], y: list[float]) -> qca.QcaTable:
    return qca.QcaTable.from_columns({"X": x, "Y": y})


@given(pairs)
def test_fit_parameters_lie_in_unit_interval(xy: tuple[list[float], list[float]]) -> None:
    t = _xy_table(*xy)
    for expr in ("X", "~X"):
        suf = qca.sufficiency(t, expr, "Y")
        nec = qca.necessity(t, expr, "Y")
        for v in (suf.inclS, suf.PRI, suf.covS, nec.inclN, nec.RoN, nec.covN):
            assert math.isnan(v) or -1e-12 <= v <= 1 + 1e-12
        if not math.isnan(suf.PRI):
            assert suf.PRI <= suf.inclS + 1e-9
        # necessity consistency is sufficiency coverage and vice versa
        assert nec.inclN == suf.covS or (math.isnan(nec.inclN) and math.isnan(suf.covS))
        assert nec.covN == suf.inclS or (math.isnan(nec.covN) and math.isnan(suf.inclS))


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=40))
def test_crisp_necessity_is_share_of_outcome_cases(pairs_: list[tuple[int, int]]) -> None:
    x = [a for a, _ in pairs_]
    y = [b for _, b in pairs_]
    t = _xy_table(x, y)
    both = sum(1 for a, b in pairs_ if a and b)
    nec = qca.necessity(t, "X", "Y")
    suf = qca.sufficiency(t, "X", "Y")
    if sum(y):
        assert nec.inclN == pytest.approx(both / sum(y)) or (both == 0 and nec.inclN == 0)
    else:
        assert math.isnan(nec.inclN)
    if sum(x):
        assert suf.inclS == pytest.approx(both / sum(x)) or (both == 0 and suf.inclS == 0)
        # crisp sets have no simultaneous membership in Y and ~Y, so PRI = inclS
        assert suf.PRI == pytest.approx(suf.inclS) or math.isnan(suf.PRI)


@given(pairs)
def test_expressions_are_fuzzy_and_or(xy: tuple[list[float], list[float]]) -> None:
    t = _xy_table(*xy)
    x, y = np.array(xy[0]), np.array(xy[1])
    assert np.allclose(qca.membership(t, "X*~Y"), np.minimum(x, 1 - y))
    assert np.allclose(qca.membership(t, "X + ~Y"), np.maximum(x, 1 - y))
    assert np.allclose(qca.membership(t, "~~X"), x)


def test_necessity_analysis_lists_condition_and_negation() -> None:
    t = qca.QcaTable.from_columns({"A": [1, 0, 1], "B": [0, 0, 1], "Y": [1, 0, 1]})
    names = [f.expression for f in qca.necessity_analysis(t, "Y")]
    assert names == ["A", "~A", "B", "~B"]
    assert qca.necessity_analysis(t, "Y")[0].inclN == 1.0
    assert [f.expression for f in qca.sufficiency_analysis(t, "Y", ["B"])] == ["B", "~B"]


# ---------------------------------------------------------------------------------------
# Calibration: properties
# ---------------------------------------------------------------------------------------

anchors = st.tuples(
    st.floats(-100, 100), st.floats(0.1, 50), st.floats(0.1, 50), st.booleans()
).map(lambda t: (t[0] - t[1], t[0], t[0] + t[2]) if t[3] else (t[0] + t[2], t[0], t[0] - t[1]))


@given(anchors, st.floats(0.51, 0.99), st.lists(st.floats(-300, 300), min_size=1, max_size=30))
def test_logistic_calibration_properties(
    th: tuple[float, float, float], idm: float, xs: list[float]
) -> None:
    e, c, i = th
    values = np.array(sorted(xs))
    fs = qca.calibrate(values, th, idm=idm)
    assert np.all((fs >= 0) & (fs <= 1))
    diffs = np.diff(fs)
    assert np.all(diffs >= -1e-12) if e < i else np.all(diffs <= 1e-12)
    anchors_fs = qca.calibrate([e, c, i], {"e": e, "c": c, "i": i}, idm=idm)
    assert anchors_fs[1] == pytest.approx(0.5)
    assert anchors_fs[0] == pytest.approx(1 - idm, abs=1e-4)
    assert anchors_fs[2] == pytest.approx(idm, abs=1e-4)


@given(anchors, st.lists(st.floats(-300, 300), min_size=1, max_size=30))
def test_linear_calibration_properties(th: tuple[float, float, float], xs: list[float]) -> None:
    e, c, i = th
    fs = qca.calibrate(sorted(xs), th, logistic=False)
    diffs = np.diff(fs)
    assert np.all(diffs >= -1e-12) if e < i else np.all(diffs <= 1e-12)
    assert qca.calibrate([e, c, i], th, logistic=False).tolist() == pytest.approx([0, 0.5, 1])


@given(
    st.lists(st.floats(-10, 10), min_size=1, max_size=4),
    st.lists(st.floats(-20, 20), min_size=1, max_size=20),
)
def test_crisp_calibration_counts_thresholds_reached(ths: list[float], xs: list[float]) -> None:
    got = qca.calibrate(xs, ths, kind="crisp")
    assert got.tolist() == [sum(1 for t in ths if t <= x) for x in xs]


def test_calibration_rejects_bad_thresholds() -> None:
    with pytest.raises(qca.QcaSpecError):
        qca.calibrate([1, 2], (1, 5, 3))
    with pytest.raises(qca.QcaSpecError):
        qca.calibrate([1, 2], (1, 2, 3), idm=0.4)
    with pytest.raises(qca.QcaSpecError):
        qca.calibrate([1, 2], {"e": 1, "c": 2})


@needs_fixtures
def test_calibrate_table_keeps_other_columns() -> None:
    raw = table("CVR", membership=False)
    out = qca.calibrate_table(raw, {"DEMOC": (2, 7, 9.5)})
    assert np.array_equal(out.column("GEOCON"), raw.column("GEOCON"))
    assert np.all((out.column("DEMOC") >= 0) & (out.column("DEMOC") <= 1))


# ---------------------------------------------------------------------------------------
# Minimisation: properties against brute force
# ---------------------------------------------------------------------------------------

NAMES = "ABCDEF"


def _crisp_case_table(k: int, outs: list[str]) -> qca.QcaTable:
    """One case per configuration with OUT 1/0, two disagreeing cases for C, none for ?."""
    data: dict[str, list[float]] = {n: [] for n in NAMES[:k]}
    data["Y"] = []
    for cfg, out in enumerate(outs):
        ys = {"1": [1], "0": [0], "C": [1, 0], "?": []}[out]
        for yv in ys:
            for j in range(k):
                data[NAMES[j]].append(cfg >> (k - 1 - j) & 1)
            data["Y"].append(yv)
    return qca.QcaTable.from_columns(data)


def _cube_text(mask: int, value: int, k: int) -> str:
    parts = []
    for j in range(k):
        bit = 1 << (k - 1 - j)
        if mask & bit:
            parts.append(("" if value & bit else "~") + NAMES[j])
    return "*".join(parts)


def _brute_models(k: int, explain: set[int], on: set[int], off: set[int]) -> set[frozenset]:
    """All minimal covers of `explain` by prime implicants of (on, off), by brute force."""

    def minterms(mask: int, value: int) -> set[int]:
        return {c for c in range(1 << k) if c & mask == value}

    cubes = [(m, v) for m in range(1 << k) for v in range(1 << k) if v & ~m == 0]
    implicants = {c for c in cubes if not minterms(*c) & off and minterms(*c) & on}
    primes = [
        (m, v)
        for m, v in implicants
        if not any((m & ~(1 << b), v & ~(1 << b)) in implicants for b in range(k) if m >> b & 1)
    ]
    useful = [p for p in primes if minterms(*p) & explain]
    for size in range(1, len(useful) + 1):
        covers = {
            frozenset(_cube_text(m, v, k) for m, v in combo)
            for combo in itertools.combinations(useful, size)
            if explain <= set().union(*(minterms(*p) for p in combo))
        }
        if covers:
            return covers
    return set()


def _model_sets(sol: qca.Solution) -> set[frozenset]:
    return {frozenset(t.expression for t in m.terms) for m in sol.models}


def _covered(model: qca.Model, k: int) -> set[int]:
    terms = qca.parse_expression(model.expression, NAMES[:k])
    return {
        cfg
        for cfg in range(1 << k)
        if any(all((cfg >> (k - 1 - j) & 1) == v for j, v in term) for term in terms)
    }


truth_tables = st.integers(min_value=1, max_value=4).flatmap(
    lambda k: st.tuples(st.just(k), st.lists(st.sampled_from("10?C"), min_size=2**k, max_size=2**k))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(truth_tables, st.lists(st.sampled_from([1, 0, "-"]), min_size=4, max_size=4))
def test_minimisation_against_brute_force(tt_spec: tuple[int, list[str]], de: list) -> None:
    k, outs = tt_spec
    t = _crisp_case_table(k, outs)
    if not any(o != "?" for o in outs):
        return
    tt = qca.truth_table(t, "Y", incl_cut=(1.0, 0.5))
    positive = {c for c, o in enumerate(outs) if o == "1"}
    negative = {c for c, o in enumerate(outs) if o in "0C"}
    assert {r - 1 for r in tt.positive_rows} == positive
    assert {r - 1 for r in tt.negative_rows} == negative
    complex_ = qca.complex_solution(tt)
    parsimonious = qca.parsimonious_solution(tt)
    if not positive:
        assert not complex_.models and "nothing to explain" in complex_.note
        return
    everything = set(range(1 << k))
    if positive != everything:
        # complex: exactly the positive configurations, every minimal model
        assert _model_sets(complex_) == _brute_models(k, positive, positive, everything - positive)
        for model in complex_.models:
            assert _covered(model, k) == positive
    if negative:
        assert _model_sets(parsimonious) == _brute_models(k, positive, positive, negative)
        for model, sa in zip(
            parsimonious.models, parsimonious.simplifying_assumptions, strict=True
        ):
            cov = _covered(model, k)
            assert positive <= cov and not cov & negative
            assert {r - 1 for r in sa} == cov - positive
    if positive == everything or not negative:
        return
    # models are listed in R's order: lexicographic over the prime implicant order
    order = {p: i for i, p in enumerate(parsimonious.prime_implicants)}
    keys = [sorted(order[t.expression] for t in m.terms) for m in parsimonious.models]
    assert keys == sorted(keys)
    event(f"intermediate checked, k={k}")
    inter = qca.intermediate_solutions(tt, de[:k])
    assert len(inter) == len(complex_.models) * len(parsimonious.models)
    for sol in inter:
        ci, pi = map(int, re.fullmatch(r"C(\d+)P(\d+)", sol.label).groups())
        pcov = _covered(parsimonious.models[pi - 1], k)
        easy = {r - 1 for r in sol.easy_counterfactuals}
        assert easy <= pcov - positive
        if all(d == "-" for d in de[:k]):
            # the same model; a lone model lists its terms in R's implicant order,
            # while a complex solution with ties puts the essential terms first
            assert len(sol.models) == 1
            assert {t.expression for t in sol.models[0].terms} == {
                t.expression for t in complex_.models[ci - 1].terms
            }
            continue
        assert _model_sets(sol) == _brute_models(
            k, positive, positive | easy, everything - positive - easy
        )
        for model in sol.models:
            assert positive <= _covered(model, k) <= pcov


def test_intermediate_drops_only_literals_against_expectations() -> None:
    # Positive: A*B*C and A*B*~C is a remainder; negative: ~A*~B*~C.
    outs = ["0", "?", "?", "?", "?", "?", "?", "1"]
    t = _crisp_case_table(3, outs)
    tt = qca.truth_table(t, "Y", incl_cut=1)
    assert [m.expression for m in qca.complex_solution(tt).models] == ["A*B*C"]
    pars = qca.parsimonious_solution(tt)
    assert [m.expression for m in pars.models] == ["A", "B", "C"]
    # expecting presence everywhere: nothing contradicts, the complex term stays
    kept = qca.intermediate_solutions(tt, [1, 1, 1])
    assert [m.expression for s in kept for m in s.models] == ["A*B*C"] * 3
    # expecting absence of C: ~C-free remainder A*B*~C becomes an easy counterfactual
    dropped = qca.intermediate_solutions(tt, {"C": 0})
    assert [s.label for s in dropped] == ["C1P1", "C1P2", "C1P3"]
    assert [m.expression for s in dropped for m in s.models] == ["A*B", "A*B", "A*B*C"]
    assert dropped[0].easy_counterfactuals == (7,)


# ---------------------------------------------------------------------------------------
# Performance
# ---------------------------------------------------------------------------------------


def test_twelve_conditions_fixture_sized_gives_all_solutions() -> None:
    # its speed is measured in bench/run.py (stage "qca"), not here
    rng = np.random.default_rng(7)
    n, k = 30, 12
    x = np.round(rng.random((n, k)) * 0.8 + 0.1, 2)
    y = np.clip(x[:, :3].min(axis=1) + rng.normal(0, 0.15, n), 0, 1)
    data = {f"C{j}": x[:, j] for j in range(k)} | {"Y": y}
    t = qca.QcaTable.from_columns(data)
    result = qca.run(t, "Y", incl_cut=0.75, dir_exp={f"C{j}": 1 for j in range(3)})
    assert result.parsimonious.models and result.complex.models and result.intermediate


def test_cover_search_limits_fall_back_to_integer_programming() -> None:
    # cyclic chart: 6 columns, implicant i covers columns i and i+1 (mod 6); minimum is 3
    covers = [(1 << i) | (1 << ((i + 1) % 6)) for i in range(6)]
    full, note = qca._all_minimum_covers(covers, (1 << 6) - 1)
    assert note == "" and full == [(0, 2, 4), (1, 3, 5)]
    few, note = qca._all_minimum_covers(covers, (1 << 6) - 1, steps=2)
    assert few and all(len(m) == 3 for m in few) and "too complex" in note
    one, note = qca._all_minimum_covers(covers, (1 << 6) - 1, limit=1)
    assert len(one) == 1 and "stopped at 1" in note
