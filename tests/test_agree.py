"""Tests for casecoder.agree: statistics against reference implementations, bootstrap
intervals, degenerate cases, and the sentence and character unit helpers."""

from __future__ import annotations

import json
import math
import warnings

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from casecoder.agree import (
    OVERALL,
    AgreementInput,
    Disagreement,
    agreement,
    character_units,
    disagreements,
    format_table,
    iter_disagreements,
    report_to_dict,
    sentence_units,
    units_from_spans,
)
from casecoder.errors import CasecoderError

# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def binary_input(a: list[int], b: list[int], code: str = "x") -> AgreementInput:
    """One code, unit i coded by A when a[i] and by B when b[i]."""
    units = list(range(len(a)))
    return AgreementInput(
        units,
        [code],
        {u: {code} for u in units if a[u]},
        {u: {code} for u in units if b[u]},
    )


def matrix_input(a: np.ndarray, b: np.ndarray) -> AgreementInput:
    """Units 0..n-1, codes c0..ck-1, from boolean (n, k) matrices."""
    n, k = a.shape
    codes = [f"c{j}" for j in range(k)]
    return AgreementInput(
        list(range(n)),
        codes,
        {i: {codes[j] for j in np.flatnonzero(a[i])} for i in range(n)},
        {i: {codes[j] for j in np.flatnonzero(b[i])} for i in range(n)},
    )


def sk_kappa(a: list[int], b: list[int]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(a, b))


def kr_alpha(a: list[int], b: list[int]) -> float | None:
    """krippendorff.alpha, or None where it refuses (a single value in the domain)."""
    try:
        return float(
            krippendorff.alpha(
                reliability_data=np.array([a, b], dtype=float),
                level_of_measurement="nominal",
            )
        )
    except ValueError:
        return None


def correlated(rng: np.random.Generator, n: int, k: int, p: float = 0.3, flip: float = 0.15):
    a = rng.random((n, k)) < p
    b = a ^ (rng.random((n, k)) < flip)
    return a, b


# --------------------------------------------------------------------------------------
# statistics against sklearn and krippendorff
# --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=1, max_value=120).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1), min_size=n, max_size=n),
            st.lists(st.integers(0, 1), min_size=n, max_size=n),
        )
    )
)
def test_kappa_and_alpha_match_reference_implementations(pair):
    a, b = pair
    entry = agreement(binary_input(a, b), bootstrap=0).codes[0]

    expected_kappa = sk_kappa(a, b)
    if math.isnan(expected_kappa):
        assert entry.kappa is None
        assert "kappa" in entry.undefined
    else:
        assert entry.kappa == pytest.approx(expected_kappa, abs=1e-12)

    expected_alpha = kr_alpha(a, b)
    if expected_alpha is None:
        assert entry.alpha is None
        assert "alpha" in entry.undefined
    else:
        assert entry.alpha == pytest.approx(expected_alpha, abs=1e-12)

    agree = sum(x == y for x, y in zip(a, b, strict=True))
    assert entry.percent_agreement == pytest.approx(100 * agree / len(a))
    assert entry.both + entry.only_a + entry.only_b + entry.neither == len(a)


@pytest.mark.parametrize("seed", range(5))
def test_per_code_and_pooled_match_reference_on_random_data(seed):
    rng = np.random.default_rng(seed)
    a, b = correlated(rng, 150, 4)
    report = agreement(matrix_input(a, b), bootstrap=0)
    for j, entry in enumerate(report.codes):
        col_a, col_b = a[:, j].astype(int).tolist(), b[:, j].astype(int).tolist()
        assert entry.kappa == pytest.approx(sk_kappa(col_a, col_b), abs=1e-12)
        assert entry.alpha == pytest.approx(kr_alpha(col_a, col_b), abs=1e-12)
        assert entry.prevalence_a == pytest.approx(a[:, j].mean())
        assert entry.prevalence_b == pytest.approx(b[:, j].mean())
        assert entry.prevalence == pytest.approx((a[:, j] | b[:, j]).mean())
    # Pooled: every (unit, code) pair is one decision.
    flat_a, flat_b = a.ravel().astype(int).tolist(), b.ravel().astype(int).tolist()
    assert report.overall.code == OVERALL
    assert report.overall.n_units == a.size
    assert report.overall.kappa == pytest.approx(sk_kappa(flat_a, flat_b), abs=1e-12)
    assert report.overall.alpha == pytest.approx(kr_alpha(flat_a, flat_b), abs=1e-12)
    assert report.by_code(OVERALL) is report.overall
    assert report.by_code("c2") is report.codes[2]


def test_fixed_table():
    # both=40, only_a=10, only_b=5, neither=45 (n=100)
    a = [1] * 40 + [1] * 10 + [0] * 5 + [0] * 45
    b = [1] * 40 + [0] * 10 + [1] * 5 + [0] * 45
    e = agreement(binary_input(a, b), bootstrap=0).codes[0]
    assert (e.n_units, e.both, e.only_a, e.only_b, e.neither) == (100, 40, 10, 5, 45)
    assert e.percent_agreement == pytest.approx(85.0)
    # po = .85, pe = .5 * .45 + .5 * .55 = .5
    assert e.kappa == pytest.approx(0.7)
    # v1 = 95, v0 = 105, alpha = 1 - 199 * 15 / (95 * 105)
    assert e.alpha == pytest.approx(1 - 199 * 15 / (95 * 105))
    assert e.alpha == pytest.approx(kr_alpha(a, b))
    assert (e.prevalence, e.prevalence_a, e.prevalence_b) == (0.55, 0.5, 0.45)


# --------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "n", "k"),
    [(0, 300, 1), (1, 300, 2), (2, 80, 6), (3, 120, 8), (4, 500, 3)],
)
def test_bootstrap_interval_contains_estimate(seed, n, k):
    # (n, k) cover both draw methods: few patterns (multinomial) and many (unit draws).
    rng = np.random.default_rng(seed)
    a, b = correlated(rng, n, k)
    report = agreement(matrix_input(a, b), bootstrap=1000, seed=seed)
    for e in (*report.codes, report.overall):
        for point, ci in (
            (e.kappa, e.kappa_ci),
            (e.alpha, e.alpha_ci),
            (e.percent_agreement, e.percent_agreement_ci),
        ):
            assert point is not None and ci is not None
            assert ci[0] <= point <= ci[1]
            assert ci[0] < ci[1]


@pytest.mark.parametrize(("n", "k"), [(400, 1), (60, 8)])
def test_bootstrap_is_deterministic_for_a_seed(n, k):
    rng = np.random.default_rng(7)
    inp = matrix_input(*correlated(rng, n, k))
    first = report_to_dict(agreement(inp, bootstrap=300, seed=11))
    again = report_to_dict(agreement(inp, bootstrap=300, seed=11))
    other = report_to_dict(agreement(inp, bootstrap=300, seed=12))
    assert first == again
    assert first["overall"]["kappa_ci"] != other["overall"]["kappa_ci"]
    # The point estimates do not depend on the seed.
    assert first["overall"]["kappa"] == other["overall"]["kappa"]


def test_bootstrap_width_shrinks_with_more_units():
    rng = np.random.default_rng(3)
    small = agreement(matrix_input(*correlated(rng, 100, 1)), bootstrap=500).codes[0]
    large = agreement(matrix_input(*correlated(rng, 10_000, 1)), bootstrap=500).codes[0]
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(large.kappa_ci) < width(small.kappa_ci) / 4


def test_bootstrap_of_run_length_units_matches_expanded_units():
    """Character runs (weights > 1) and the same units listed one by one give the same
    estimates, and intervals that agree closely (different but exact draw methods)."""
    ca = [("s", "x", 0, 400), ("s", "x", 700, 900), ("s", "y", 300, 800)]
    cb = [("s", "x", 50, 450), ("s", "y", 250, 750), ("s", "x", 880, 1000)]
    runs = character_units(ca, cb, universe="sources", source_lengths={"s": 1000})
    expanded = AgreementInput(
        list(runs.units), runs.codes, dict(runs.coder_a), dict(runs.coder_b)
    )
    r1 = agreement(runs, bootstrap=2000, seed=1)
    r2 = agreement(expanded, bootstrap=2000, seed=1)
    for e1, e2 in zip((*r1.codes, r1.overall), (*r2.codes, r2.overall), strict=True):
        assert (e1.both, e1.only_a, e1.only_b, e1.neither) == (
            e2.both, e2.only_a, e2.only_b, e2.neither
        )
        assert e1.kappa == pytest.approx(e2.kappa)
        for lo_hi_1, lo_hi_2 in ((e1.kappa_ci, e2.kappa_ci), (e1.alpha_ci, e2.alpha_ci)):
            assert lo_hi_1 == pytest.approx(lo_hi_2, abs=0.02)


def test_bootstrap_zero_gives_no_intervals():
    report = agreement(binary_input([1, 0, 1, 0], [1, 0, 0, 0]), bootstrap=0)
    e = report.codes[0]
    assert e.kappa is not None
    assert e.kappa_ci is None and e.alpha_ci is None and e.percent_agreement_ci is None
    assert "CI" not in format_table(report)


def test_rare_code_counts_undefined_resamples():
    # One unit of 200 coded by both: about (1 - 1/200)**200 = 37% of resamples miss it,
    # so kappa and alpha are undefined there and left out of the interval.
    a = [1] + [0] * 199
    e = agreement(binary_input(a, a), bootstrap=1000, seed=0).codes[0]
    assert e.kappa == 1.0 and e.alpha == 1.0
    assert e.kappa_ci == (1.0, 1.0)
    assert 250 < e.bootstrap_undefined["kappa"] < 500
    assert e.bootstrap_undefined["alpha"] == e.bootstrap_undefined["kappa"]
    assert "percent_agreement" not in e.bootstrap_undefined


def test_bootstrap_runs_on_100k_units():
    # its speed is measured in bench/run.py (stage "agree"), not here
    rng = np.random.default_rng(0)
    n, k = 100_000, 5
    inp = matrix_input(*correlated(rng, n, k, p=0.2, flip=0.1))
    report = agreement(inp, bootstrap=1000, seed=0)
    lo, hi = report.overall.kappa_ci
    assert lo <= report.overall.kappa <= hi


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"bootstrap": -1}, "--bootstrap"),
        ({"bootstrap": 1.5}, "--bootstrap"),
        ({"confidence": 1.0}, "--confidence"),
        ({"confidence": 0}, "--confidence"),
        ({"confidence": 95}, "--confidence"),
        ({"seed": None}, "--seed"),
        ({"seed": -3}, "--seed"),
    ],
)
def test_bad_bootstrap_options_raise_cc008(kwargs, option):
    with pytest.raises(CasecoderError) as info:
        agreement(binary_input([1, 0], [1, 0]), **kwargs)
    assert info.value.code == "CC008"
    assert option in info.value.message


# --------------------------------------------------------------------------------------
# degenerate cases
# --------------------------------------------------------------------------------------


def test_code_used_by_neither_coder():
    inp = AgreementInput([1, 2, 3], ["x", "unused"], {1: {"x"}}, {1: {"x"}, 2: {"x"}})
    report = agreement(inp, bootstrap=200)
    e = report.by_code("unused")
    assert (e.both, e.only_a, e.only_b, e.neither) == (0, 0, 0, 3)
    assert e.percent_agreement == 100.0
    assert e.kappa is None and e.alpha is None
    assert e.kappa_ci is None and e.alpha_ci is None
    assert e.percent_agreement_ci == (100.0, 100.0)
    assert "neither coder" in e.undefined["kappa"]
    assert "neither coder" in e.undefined["alpha"]
    assert e.prevalence == 0.0
    # The other code and the pooled row are still computed.
    assert report.by_code("x").kappa is not None
    assert report.overall.kappa is not None
    table = format_table(report)
    assert "unused: kappa undefined: neither coder" in table
    assert "n/a" in table


def test_perfect_agreement_with_a_single_category():
    a = [1, 1, 1, 1]
    e = agreement(binary_input(a, a), bootstrap=100).codes[0]
    assert e.percent_agreement == 100.0
    assert e.kappa is None and e.alpha is None
    assert "every unit" in e.undefined["kappa"]
    assert e.prevalence == e.prevalence_a == e.prevalence_b == 1.0


def test_perfect_agreement_with_both_categories():
    a = [1, 0, 1, 0, 0]
    e = agreement(binary_input(a, a), bootstrap=100).codes[0]
    assert e.kappa == 1.0 and e.alpha == 1.0
    assert e.kappa_ci == (1.0, 1.0)
    assert e.undefined == {}


def test_complete_disagreement_one_coder_uses_code_everywhere():
    a, b = [1, 1, 1, 1], [0, 0, 0, 0]
    e = agreement(binary_input(a, b), bootstrap=0).codes[0]
    assert e.percent_agreement == 0.0
    assert e.kappa == 0.0 == sk_kappa(a, b)
    assert e.alpha == pytest.approx(kr_alpha(a, b)) == pytest.approx(-0.75)


def test_no_units():
    report = agreement(AgreementInput([], ["x"], {}, {}), bootstrap=100)
    assert report.n_units == 0
    for e in (report.codes[0], report.overall):
        assert e.percent_agreement is None and e.kappa is None and e.alpha is None
        assert e.prevalence is None
        assert e.undefined["kappa"] == "there are no units"
    json.dumps(report_to_dict(report))
    format_table(report)


def test_no_codes():
    report = agreement(AgreementInput([1, 2], [], {}, {}))
    assert report.codes == ()
    assert report.overall.kappa is None
    assert report.overall.undefined["kappa"] == "there are no codes to compare"


def test_single_unit():
    e = agreement(binary_input([1], [0]), bootstrap=50).codes[0]
    assert e.kappa == 0.0
    assert e.alpha == pytest.approx(kr_alpha([1], [0]))


# --------------------------------------------------------------------------------------
# input model
# --------------------------------------------------------------------------------------


def test_input_views_cover_every_unit():
    inp = AgreementInput(["u1", "u2"], ["x", "y"], {"u1": ["x", "y"]}, {"u2": set()})
    assert list(inp.units) == ["u1", "u2"]
    assert inp.units == ("u1", "u2")
    assert inp.coder_a["u1"] == frozenset({"x", "y"})
    assert inp.coder_a["u2"] == frozenset()
    assert dict(inp.coder_b) == {"u1": frozenset(), "u2": frozenset()}
    assert inp.n_units == 2
    with pytest.raises(KeyError):
        inp.coder_a["nope"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((["u", "u"], ["x"], {}, {}), "more than once"),
        ((["u"], ["x", "x"], {}, {}), "more than once"),
        ((["u"], ["x"], {"v": {"x"}}, {}), "not one of the units"),
        ((["u"], ["x"], {}, {"u": {"y"}}), "not\\s+among the compared codes"),
        ((["u"], ["x"], {"u": "x"}, {}), "are a string"),
        ((["u"], "x", {}, {}), "not a single string"),
    ],
)
def test_input_validation(args, message):
    with pytest.raises(ValueError, match=message):
        AgreementInput(*args)


# --------------------------------------------------------------------------------------
# disagreements and output
# --------------------------------------------------------------------------------------


def test_disagreements_in_unit_then_code_order():
    inp = AgreementInput(
        ["u3", "u1", "u2"],
        ["y", "x"],
        {"u1": {"x", "y"}, "u2": {"x"}, "u3": {"y"}},
        {"u1": {"x"}, "u2": {"y"}, "u3": {"y"}},
    )
    assert disagreements(inp) == [
        Disagreement("u1", "y", "A"),
        Disagreement("u2", "y", "B"),
        Disagreement("u2", "x", "A"),
    ]
    assert list(iter_disagreements(inp)) == disagreements(inp)


def test_disagreements_of_character_runs():
    inp = character_units([("s", "x", 0, 3)], [("s", "x", 2, 5)])
    assert disagreements(inp) == [
        Disagreement(("s", 0), "x", "A"),
        Disagreement(("s", 1), "x", "A"),
        Disagreement(("s", 3), "x", "B"),
        Disagreement(("s", 4), "x", "B"),
    ]


def test_report_to_dict_is_sorted_rounded_json():
    rng = np.random.default_rng(5)
    inp = matrix_input(*correlated(rng, 90, 3))
    # Codes in reverse order in the input; the dict sorts them.
    inp = AgreementInput(
        list(inp.units), ["c2", "c1", "c0"], dict(inp.coder_a), dict(inp.coder_b)
    )
    data = report_to_dict(agreement(inp, bootstrap=100, seed=3))
    text = json.dumps(data)
    assert text == json.dumps(data, sort_keys=True)
    assert [c["code"] for c in data["codes"]] == ["c0", "c1", "c2"]
    assert data["bootstrap"] == {
        "confidence": 0.95, "method": "percentile", "resamples": 100, "seed": 3,
    }

    def floats(obj):
        if isinstance(obj, float):
            yield obj
        elif isinstance(obj, dict):
            for v in obj.values():
                yield from floats(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from floats(v)

    values = list(floats(data))
    assert values
    assert all(v == round(v, 4) for v in values)
    assert isinstance(data["overall"]["kappa_ci"], list)
    assert data["overall"]["code"] == OVERALL
    assert json.loads(text) == data


def test_format_table_rows():
    a = [1] * 40 + [1] * 10 + [0] * 5 + [0] * 45
    b = [1] * 40 + [0] * 10 + [1] * 5 + [0] * 45
    table = format_table(agreement(binary_input(a, b, code="mech.x"), bootstrap=0))
    lines = table.splitlines()
    assert lines[0] == "Agreement between coders A and B over 100 units (no bootstrap)"
    assert lines[2].split() == [
        "code", "n", "both", "A", "only", "B", "only", "neither", "agree", "%", "kappa", "alpha",
    ]
    assert lines[4].split() == ["mech.x", "100", "40", "10", "5", "45", "85.0", "0.700", "0.701"]
    assert lines[6].split()[:3] == ["(all", "codes)", "100"]
    assert table.endswith("\n")


# --------------------------------------------------------------------------------------
# sentence units
# --------------------------------------------------------------------------------------


def test_sentence_overlap_rule():
    sentences = {"s1": [(10, 20), (0, 10), (25, 30)], "s2": [(0, 5)]}
    codings_a = [
        ("s1", "x", 9, 11),   # overlaps sentences [0,10) and [10,20)
        ("s1", "y", 20, 25),  # lies in the gap: touches [10,20) and [25,30), overlaps none
        ("s2", "y", 4, 5),    # last character of s2's sentence
    ]
    codings_b = [
        ("s1", "x", 10, 20),  # exactly the second sentence only
        ("s1", "y", 19, 26),  # overlaps [10,20) and [25,30)
    ]
    inp = sentence_units(sentences, codings_a, codings_b)
    assert inp.unit_kind == "sentence"
    assert inp.codes == ("x", "y")
    assert list(inp.units) == [("s1", 0, 10), ("s1", 10, 20), ("s1", 25, 30), ("s2", 0, 5)]
    assert dict(inp.coder_a) == {
        ("s1", 0, 10): {"x"},
        ("s1", 10, 20): {"x"},
        ("s1", 25, 30): set(),
        ("s2", 0, 5): {"y"},
    }
    assert dict(inp.coder_b) == {
        ("s1", 0, 10): set(),
        ("s1", 10, 20): {"x", "y"},
        ("s1", 25, 30): {"y"},
        ("s2", 0, 5): set(),
    }
    x = agreement(inp, bootstrap=0).by_code("x")
    assert (x.both, x.only_a, x.only_b, x.neither) == (1, 1, 0, 2)


@settings(max_examples=150, deadline=None)
@given(
    bounds=st.lists(st.integers(0, 60), min_size=2, max_size=12, unique=True),
    codings=st.lists(
        st.tuples(
            st.sampled_from("AB"),
            st.sampled_from(["x", "y", "z"]),
            st.integers(0, 59),
            st.integers(1, 15),
        ),
        max_size=15,
    ),
)
def test_sentence_units_match_naive_overlap(bounds, codings):
    cuts = sorted(bounds)
    # Every other gap between cuts is a sentence, so sentences need not be contiguous.
    spans = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    ca = [("s", c, s, s + ln) for who, c, s, ln in codings if who == "A"]
    cb = [("s", c, s, s + ln) for who, c, s, ln in codings if who == "B"]
    inp = sentence_units({"s": spans}, ca, cb, codes=["x", "y", "z"])
    for coder, view in ((ca, inp.coder_a), (cb, inp.coder_b)):
        for s0, e0 in spans:
            expected = {c for _, c, s, e in coder if s < e0 and s0 < e}
            assert view[("s", s0, e0)] == expected


def test_sentence_units_errors():
    with pytest.raises(ValueError, match="overlapping"):
        sentence_units({"s": [(0, 10), (5, 15)]}, [], [])
    with pytest.raises(ValueError, match="no sentences"):
        sentence_units({"s": [(0, 10)]}, [("t", "x", 0, 1)], [])
    with pytest.raises(ValueError, match="empty or negative span"):
        sentence_units({"s": [(0, 10)]}, [("s", "x", 3, 3)], [])
    with pytest.raises(ValueError, match="not among the compared codes"):
        sentence_units({"s": [(0, 10)]}, [("s", "x", 0, 3)], [], codes=["y"])


# --------------------------------------------------------------------------------------
# character units
# --------------------------------------------------------------------------------------


CA = [(1, "x", 0, 5), (1, "y", 3, 8), (2, "x", 0, 2), (1, "x", 2, 4)]
CB = [(1, "x", 2, 6), (2, "y", 1, 3)]


def test_character_units_coded_universe_exact_counts():
    inp = character_units(CA, CB)
    assert inp.unit_kind == "character"
    # Source 1: characters 0..7 (A's y reaches 8); source 2: characters 0..2.
    assert list(inp.units) == [(1, i) for i in range(8)] + [(2, i) for i in range(3)]
    assert inp.n_units == 11
    report = agreement(inp, bootstrap=0)
    x, y = report.by_code("x"), report.by_code("y")
    # x: A covers 1:0-4 and 2:0-1 (overlapping codings count once), B covers 1:2-5.
    assert (x.both, x.only_a, x.only_b, x.neither) == (3, 4, 1, 3)
    # y: A covers 1:3-7, B covers 2:1-2.
    assert (y.both, y.only_a, y.only_b, y.neither) == (0, 5, 2, 4)
    assert inp.coder_a[(1, 4)] == {"x", "y"}
    assert inp.coder_b[(1, 4)] == {"x"}
    assert inp.coder_b[(2, 0)] == frozenset()


def test_character_units_all_characters_of_sources():
    inp = character_units(CA, CB, universe="sources", source_lengths={1: 10, 2: 4, 3: 5})
    assert inp.n_units == 19
    units = inp.units
    assert units[0] == (1, 0) and units[-1] == (3, 4) and units[10] == (2, 0)
    assert units.index((3, 2)) == 16
    assert (1, 9) in units and (1, 10) not in units and (4, 0) not in units
    assert units[8:11] == [(1, 8), (1, 9), (2, 0)]
    x = agreement(inp, bootstrap=0).by_code("x")
    # Same coded characters as before, 8 more uncoded ones (1:8-9, 2:3, 3:0-4).
    assert (x.both, x.only_a, x.only_b, x.neither) == (3, 4, 1, 11)
    a, b, weights = inp.presence()
    assert weights.sum() == 19
    assert a.shape == b.shape == (len(weights), 2)


def test_units_from_spans_dispatches():
    by_char = units_from_spans(CA, CB, unit="character")
    assert list(by_char.units) == list(character_units(CA, CB).units)
    by_sentence = units_from_spans(
        CA, CB, unit="sentence", sentences={1: [(0, 4), (4, 10)], 2: [(0, 3)]}
    )
    assert list(by_sentence.units) == [(1, 0, 4), (1, 4, 10), (2, 0, 3)]
    with pytest.raises(ValueError, match="needs sentences"):
        units_from_spans(CA, CB, unit="sentence")
    with pytest.raises(ValueError, match="unit must be"):
        units_from_spans(CA, CB, unit="word")  # type: ignore[arg-type]


def test_character_units_errors():
    with pytest.raises(ValueError, match="needs source_lengths"):
        character_units(CA, CB, universe="sources")
    with pytest.raises(ValueError, match="past its length"):
        character_units(CA, CB, source_lengths={1: 7, 2: 4})
    with pytest.raises(ValueError, match="not in source_lengths"):
        character_units(CA, CB, source_lengths={1: 10})
    with pytest.raises(ValueError, match="universe must be"):
        character_units(CA, CB, universe="all")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    codings=st.lists(
        st.tuples(
            st.sampled_from("AB"),
            st.sampled_from(["s", "t"]),
            st.sampled_from(["x", "y"]),
            st.integers(0, 39),
            st.integers(1, 12),
        ),
        max_size=20,
    ),
    universe=st.sampled_from(["coded", "sources"]),
)
def test_character_units_match_naive_sets(codings, universe):
    lengths = {"s": 52, "t": 52}
    ca = [(src, c, s, s + ln) for who, src, c, s, ln in codings if who == "A"]
    cb = [(src, c, s, s + ln) for who, src, c, s, ln in codings if who == "B"]
    inp = character_units(
        ca, cb, codes=["x", "y"], universe=universe, source_lengths=lengths
    )

    def naive(coder):
        sets: dict[tuple[str, int], set[str]] = {}
        for src, c, s, e in coder:
            for i in range(s, e):
                sets.setdefault((src, i), set()).add(c)
        return sets

    na, nb = naive(ca), naive(cb)
    if universe == "coded":
        expected_units = sorted(set(na) | set(nb))
    else:
        expected_units = [(src, i) for src in lengths for i in range(lengths[src])]
    assert list(inp.units) == expected_units
    assert dict(inp.coder_a) == {u: na.get(u, set()) for u in expected_units}
    assert dict(inp.coder_b) == {u: nb.get(u, set()) for u in expected_units}
    # The run-length input and the expanded one give the same report.
    expanded = AgreementInput(expected_units, ["x", "y"], na, nb, unit_kind="character")
    assert report_to_dict(agreement(inp, bootstrap=0)) == report_to_dict(
        agreement(expanded, bootstrap=0)
    )


def test_character_units_scale_to_megabytes():
    rng = np.random.default_rng(0)
    length = 1_000_000
    codes = [f"c{j}" for j in range(20)]

    def codings():
        out = []
        for src in range(10):
            starts = rng.integers(0, length - 500, size=2000)
            ends = starts + rng.integers(5, 500, size=2000)
            picks = rng.integers(0, 20, size=2000)
            out += [(src, codes[c], int(s), int(e)) for c, s, e in zip(picks, starts, ends,
                                                                     strict=True)]
        return out

    ca, cb = codings(), codings()
    inp = character_units(
        ca, cb, universe="sources", source_lengths=dict.fromkeys(range(10), length)
    )
    report = agreement(inp, bootstrap=1000, seed=0)
    assert inp.n_units == 10_000_000
    assert report.overall.n_units == 10_000_000 * 20
    assert report.overall.kappa_ci is not None
