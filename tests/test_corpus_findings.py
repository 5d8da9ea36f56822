"""On the bundled corpus, the computed graph surfaces what the studies report.

Every assertion reads the computation (flags, preconditions, adaptation, transfers);
none compares against fixed text.
"""

from __future__ import annotations

import pytest
from conftest import analyse_corpus

from casecoder.flags import BLOCKING, FAILED_WITHOUT, Target, adapt, transfer_summary

MAIN_STUDY = ("mech.guidance", "mech.coordination", "mech.participation", "mech.mediation")


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    return analyse_corpus(tmp_path_factory.mktemp("corpus"))[0]


def _flag(a, element):
    return next(f for f in a.flags if f.element == element)


def _pre(flag, cond):
    return next(p for p in flag.preconditions if p.condition == cond)


def test_main_study_mechanisms_recur_as_cores_across_regions(analysis):
    for m in MAIN_STUDY:
        f = _flag(analysis, m)
        assert f.flag in ("transferable core", "conditional core"), (m, f.reasons)
        assert f.support >= 3 and len(f.regions) >= 2 and len(f.settings) >= 2, m


def test_digital_platform_needs_network_infrastructure(analysis):
    platform = _flag(analysis, "mech.digital.platform")
    p = _pre(platform, "ctx.infrastructure")
    assert p.status == "precondition"
    # the western rural copy failed without it
    assert p.without_c_success == 0 and p.without_c_total >= 1
    failed_west = [c for c in p.cases_without
                   if analysis.data.cases[c].attributes.get("region") == "中西部"]
    assert failed_west
    # the lightweight offline adaptation worked where the network is weak
    advice = {a.element: a for a in adapt(analysis.records, Target(
        region="中西部", setting="rural", conditions={"ctx.infrastructure": "absent"}),
        analysis.thresholds, analysis.flags)}
    a = advice["mech.digital.platform"]
    assert a.action == "adapt"
    assert "mech.digital.lightweight" in a.substitutes
    lightweight_cases = set(_flag(analysis, "mech.digital.lightweight").success_cases)
    assert lightweight_cases & set(a.cite_cases)
    for c in lightweight_cases:
        assert analysis.data.cases[c].conditions["ctx.infrastructure"] == "absent"


def test_high_cost_programmes_failed_without_funding(analysis):
    # the studies: a high-cost digital programme was shelved where funding was lacking
    # (C16). The corpus records no digital case with funding known to compare with, so
    # funding is "failed without it", not a precondition, and the advice says what was
    # seen (the failure, cited) instead of "build the precondition first"
    digital = _flag(analysis, "mech.digital")
    p = _pre(digital, "ctx.funding")
    assert p.status == FAILED_WITHOUT and p.status not in BLOCKING
    assert p.without_c_total >= 1 and p.without_c_success == 0 and p.with_c_success == 0
    advice = {a.element: a for a in adapt(analysis.records, Target(budget="low", conditions={
        "ctx.funding": "absent"}), analysis.thresholds, analysis.flags)}
    assert advice["mech.digital"].action == "no evidence in the corpus"
    assert set(p.cases_without) <= set(advice["mech.digital"].cite_cases)
    assert any("failed without it" in r for r in advice["mech.digital"].reasons)


def test_community_method_failed_in_power_industry_until_adapted(analysis):
    rows = {(r["from_setting"], r["to_setting"], r["mode"]): r
            for r in transfer_summary(analysis.records)}
    copied = rows[("urban_community", "industry", "copied")]
    adapted = rows[("urban_community", "industry", "adapted")]
    assert copied["successes"] == 0 and adapted["successes"] == adapted["n"] >= 1
    assert set(copied["origins"]) & set(adapted["origins"])
    industries = {analysis.data.cases[c].attributes.get("industry")
                  for c in copied["cases"] + adapted["cases"]}
    assert "电力" in industries
    origin = copied["origins"][0]
    community_elements = sorted(e for r in analysis.records if r.id == origin
                                for e in r.elements if e.count(".") == 1)
    advice = {a.element: a for a in adapt(analysis.records, Target(setting="industry"),
                                          analysis.thresholds, analysis.flags)}
    adapted_here = [e for e in community_elements if e in advice
                    and advice[e].action == "adapt"
                    and set(copied["cases"]) <= set(advice[e].cite_cases)]
    assert adapted_here


def test_every_flag_shows_counts_thresholds_and_evidence(analysis):
    for f in analysis.flags:
        assert f.successes == sum(r.success for r in analysis.records)
        assert 0 <= f.necessity <= 1
        if f.flag != "transferable core":
            assert f.reasons
        for c in f.success_cases:
            assert analysis.data.code_evidence.get((c, f.element)), (c, f.element)
