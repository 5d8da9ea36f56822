"""Flags and adaptation on hand-made case records (no store)."""

from __future__ import annotations

import pytest

from casecoder.errors import CasecoderError
from casecoder.flags import CaseRecord, Target, Thresholds, adapt, element_flags, sensitivity

UNK = {c: "unknown" for c in ("ctx.economy", "ctx.infrastructure", "ctx.funding",
                              "ctx.population", "ctx.selfgov")}


def rec(cid, success, region, setting, elements, **conds):
    c = dict(UNK)
    c.update({f"ctx.{k}": v for k, v in conds.items()})
    return CaseRecord(id=cid, success=success, region=region, setting=setting, conditions=c,
                      elements=frozenset(elements))


RECORDS = [
    rec("A", True, "east", "rural", {"mech.x", "mech.d", "mech.d.platform"},
        infrastructure="present"),
    rec("B", True, "west", "urban_community", {"mech.x", "mech.d", "mech.d.platform"},
        infrastructure="present"),
    rec("C", True, "north", "industry", {"mech.x", "mech.d", "mech.d.platform"},
        infrastructure="present"),
    rec("D", True, "west", "rural", {"mech.x", "mech.d", "mech.d.light"}, infrastructure="absent"),
    rec("E", False, "west", "rural", {"mech.d", "mech.d.platform"}, infrastructure="absent"),
    rec("F", False, "south", "rural", {"mech.y"}),
]


def test_core_counts_and_reasons():
    flags = {f.element: f for f in element_flags(RECORDS)}
    x = flags["mech.x"]
    assert x.flag == "transferable core"
    assert (x.support, x.successes) == (4, 4)
    assert x.necessity == 1.0
    # RoN = (N - |X|) / (N - |X∩S|) = (6 - 4) / (6 - 4)
    assert x.relevance == 1.0
    assert x.regions == ["east", "north", "west"]
    d = flags["mech.d"]
    assert d.flag == "transferable core" and d.failure_cases == ["E"]
    assert flags["mech.y"].flag == "peripheral"
    platform = flags["mech.d.platform"]
    assert platform.flag == "conditional core"
    assert any("necessity 3/4" in r for r in platform.reasons)


def test_precondition_and_difference_making():
    flags = {f.element: f for f in element_flags(RECORDS)}
    p = {q.condition: q for q in flags["mech.d.platform"].preconditions}["ctx.infrastructure"]
    assert p.status == "precondition"
    assert (p.necessity_k, p.necessity_n) == (3, 3)
    counts = (p.with_c_success, p.with_c_total, p.without_c_success, p.without_c_total)
    assert counts == (3, 3, 0, 1)
    q = {q.condition: q for q in flags["mech.x"].preconditions}["ctx.infrastructure"]
    assert q.status == "not necessary"  # D succeeded without it
    e = {q.condition: q for q in flags["mech.x"].preconditions}["ctx.funding"]
    assert e.status == "no evidence"


def test_limited_diversity():
    records = [rec(c, True, r, s, {"mech.x"}, funding="present")
               for c, r, s in (("A", "e", "rural"), ("B", "w", "industry"), ("C", "n", "rural"))]
    f = element_flags(records)[0]
    p = {q.condition: q for q in f.preconditions}["ctx.funding"]
    assert p.status == "untested: limited diversity"


def test_adapt_uses_substitute_seen_to_succeed_without_condition():
    advice = {a.element: a for a in adapt(RECORDS, Target(setting="rural", conditions={
        "ctx.infrastructure": "absent"}), Thresholds(min_support=2))}
    a = advice["mech.d.platform"]
    assert a.action == "adapt"
    assert a.substitutes == ["mech.d.light"]
    assert "D" in a.cite_cases
    assert advice["mech.x"].action == "keep as is"


def test_adapt_build_precondition_when_no_substitute():
    records = [r for r in RECORDS if r.id != "D"]
    advice = {a.element: a for a in adapt(records, Target(conditions={
        "ctx.infrastructure": "absent"}), Thresholds(min_support=2, min_regions=1))}
    assert advice["mech.d.platform"].action == "build the precondition first"
    assert advice["mech.d.platform"].cite_cases == ["E"]


def test_thresholds_validated():
    with pytest.raises(CasecoderError) as exc:
        element_flags(RECORDS, Thresholds(necessity=1.5))
    assert exc.value.code == "CC405"


def test_sensitivity_shares():
    out = sensitivity(RECORDS, {"necessity": [0.7, 1.0], "min_support": [3, 5]})
    assert out["settings"] == 4
    assert out["core_share"]["mech.x"] == 0.5  # core when min_support=3, not 5
    assert out["core_share"]["mech.d.platform"] == 0.25
    assert out["grid"] == {"min_support": [3, 5], "necessity": [0.7, 1.0]}
    assert out["core_max_necessity"]["mech.x"] == 1.0
    assert [r["thresholds"] for r in out["runs"]][0] == {"min_support": 3, "necessity": 0.7}


def test_sensitivity_refuses_an_unknown_threshold():
    with pytest.raises(CasecoderError) as exc:
        sensitivity(RECORDS, {"necesity": [0.9]})
    assert exc.value.code == "CC405"
