"""Flags: transferable core, conditional core, periphery, preconditions, adaptation.

Everything here is computed from case-level data: for each case, the elements
(mechanism frame ids and practice sub-codes) coded in its sources, its outcome
(``success`` counts as the outcome; ``partial`` and ``failure`` do not), its region and
setting, and its context conditions (present / absent / unknown). Set-theoretic
measures are crisp (see :mod:`casecoder.qca` for the general module):

* necessity consistency of x for success = |x ∩ S| / |S|;
* relevance of necessity RoN = (N − |x|) / (N − |x ∩ S|) (1.0 when x ∩ S covers all);
* a *transferable core* element recurs in successful cases across at least
  ``min_regions`` regions and ``min_settings`` settings, with support of at least
  ``min_support`` successful cases, necessity consistency ≥ ``necessity`` and
  RoN ≥ ``relevance``;
* a *conditional core* element has the support but fails breadth or necessity; it is
  reported with the contexts where it holds;
* everything else present in the corpus is *peripheral*;
* a *precondition* C of a core element x: among successful x-cases whose C is known,
  the share with C present is ≥ ``precondition`` (C necessary for x·success), and
  C makes a difference where x·~C cases exist (the success rate of x·C cases exceeds
  that of x·~C cases by at least ``difference``); with no x·~C case it is
  "untested: limited diversity".

Unknown conditions are left out of the counts that need them, and every figure is
reported as k/n with the cases behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from casecoder.errors import CasecoderError
from casecoder.models import CONTEXT_IDS, Case


@dataclass(frozen=True)
class Thresholds:
    """Flag thresholds (all configurable; ``casecoder graph sensitivity`` sweeps them)."""

    min_support: int = 3
    min_regions: int = 2
    min_settings: int = 2
    necessity: float = 0.9
    relevance: float = 0.5
    precondition: float = 0.9
    difference: float = 0.5

    def validate(self) -> Thresholds:
        for name in ("necessity", "relevance", "precondition", "difference"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise CasecoderError("CC405", name=name, value=v, expected="a number in [0, 1]")
        for name in ("min_support", "min_regions", "min_settings"):
            v = getattr(self, name)
            if v < 1:
                raise CasecoderError("CC405", name=name, value=v, expected="an integer ≥ 1")
        return self


@dataclass
class CaseRecord:
    """What the flags need of one case."""

    id: str
    success: bool
    region: str
    setting: str
    conditions: dict[str, str]
    elements: frozenset[str]
    industry: str = "unknown"
    budget: str = "unknown"
    transfers: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_case(cls, case: Case, elements: Iterable[str]) -> CaseRecord:
        a = case.attributes
        return cls(id=case.id, success=case.succeeded,
                   region=str(a.get("region", "unknown")),
                   setting=str(a.get("setting", "unknown")),
                   conditions={k: case.conditions.get(k, "unknown") for k in CONTEXT_IDS},
                   elements=frozenset(elements), industry=str(a.get("industry", "unknown")),
                   budget=str(a.get("budget", "unknown")), transfers=list(case.transfers))


@dataclass
class Precondition:
    """The evidence on one condition of one element."""

    condition: str
    status: str  # see docs/flags.md: precondition, failed without it, untested, …
    necessity_k: int
    necessity_n: int
    with_c_success: int
    with_c_total: int
    without_c_success: int
    without_c_total: int
    cases_without: list[str]
    successes_without: list[str]

    @property
    def necessity(self) -> float | None:
        return self.necessity_k / self.necessity_n if self.necessity_n else None


@dataclass
class ElementFlag:
    """The flag of one element with the counts behind it."""

    element: str
    flag: str  # transferable core | conditional core | peripheral
    support: int
    cases: int
    successes: int
    necessity: float
    relevance: float
    regions: list[str]
    settings: list[str]
    success_cases: list[str]
    failure_cases: list[str]
    reasons: list[str]
    preconditions: list[Precondition] = field(default_factory=list)
    holds_in: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["necessity"] = round(self.necessity, 4)
        d["relevance"] = round(self.relevance, 4)
        return d


def _known(values: Iterable[str]) -> list[str]:
    return sorted({v for v in values if v and v != "unknown"})


def element_flags(records: list[CaseRecord], th: Thresholds | None = None,
                  elements: Iterable[str] | None = None) -> list[ElementFlag]:
    """Flag every element present in the corpus (or the ``elements`` given)."""
    th = (th or Thresholds()).validate()
    n = len(records)
    n_success = sum(r.success for r in records)
    by_element: dict[str, list[CaseRecord]] = {}
    for r in records:
        for e in r.elements:
            by_element.setdefault(e, []).append(r)
    names = sorted(elements) if elements is not None else sorted(by_element)
    out = []
    for e in names:
        with_e = by_element.get(e, [])
        succ = [r for r in with_e if r.success]
        k = len(succ)
        necessity = k / n_success if n_success else 0.0
        denom = n - k
        relevance = (n - len(with_e)) / denom if denom else 1.0
        regions = _known(r.region for r in succ)
        settings = _known(r.setting for r in succ)
        reasons = []
        if k < th.min_support:
            reasons.append(f"support {k} < {th.min_support}")
        if len(regions) < th.min_regions:
            reasons.append(f"regions {len(regions)} < {th.min_regions}")
        if len(settings) < th.min_settings:
            reasons.append(f"settings {len(settings)} < {th.min_settings}")
        if necessity < th.necessity:
            reasons.append(f"necessity {k}/{n_success} = {necessity:.2f} < {th.necessity}")
        if relevance < th.relevance:
            reasons.append(f"relevance of necessity {relevance:.2f} < {th.relevance}")
        if not reasons:
            flag = "transferable core"
        elif k >= th.min_support:
            flag = "conditional core"
        else:
            flag = "peripheral"
        ef = ElementFlag(element=e, flag=flag, support=k, cases=len(with_e),
                         successes=n_success, necessity=necessity, relevance=relevance,
                         regions=regions, settings=settings,
                         success_cases=sorted(r.id for r in succ),
                         failure_cases=sorted(r.id for r in with_e if not r.success),
                         reasons=reasons)
        if flag != "peripheral":
            ef.preconditions = [precondition(with_e, c, th) for c in CONTEXT_IDS]
        if flag == "conditional core":
            ef.holds_in = {"regions": regions, "settings": settings,
                           "industries": _known(r.industry for r in succ),
                           "conditions": [f"{c}={s}" for c in CONTEXT_IDS
                                          for s in ("present", "absent")
                                          if succ and all(r.conditions.get(c) == s
                                                          for r in succ)]}
        out.append(ef)
    return out


FAILED_WITHOUT = "failed without it (necessity untested)"
# only a precondition blocks: "failed without it" has no success with C to compare
# against, so it cannot say that C made the difference (it points at C: see adapt)
BLOCKING = ("precondition",)


def precondition(with_e: list[CaseRecord], cond: str, th: Thresholds) -> Precondition:
    """Is ``cond`` a precondition of the element present in ``with_e``?"""
    succ_known = [r for r in with_e if r.success and r.conditions.get(cond) != "unknown"]
    k = sum(r.conditions.get(cond) == "present" for r in succ_known)
    with_c = [r for r in with_e if r.conditions.get(cond) == "present"]
    without_c = [r for r in with_e if r.conditions.get(cond) == "absent"]
    wc_s = sum(r.success for r in with_c)
    wo_s = sum(r.success for r in without_c)
    rate_not = wo_s / len(without_c) if without_c else None
    if not succ_known and not without_c:
        status = "no evidence"
    elif not succ_known:
        # only cases lacking C are known: did they fail?
        status = (FAILED_WITHOUT if rate_not is not None and rate_not <= 1 - th.difference
                  else "not difference-making")
    elif k / len(succ_known) < th.precondition:
        status = "not necessary"
    elif rate_not is None:
        status = "untested: limited diversity"
    else:
        rate_c = wc_s / len(with_c)
        status = "precondition" if rate_c - rate_not >= th.difference else "not difference-making"
    return Precondition(condition=cond, status=status, necessity_k=k,
                        necessity_n=len(succ_known), with_c_success=wc_s,
                        with_c_total=len(with_c), without_c_success=wo_s,
                        without_c_total=len(without_c),
                        cases_without=sorted(r.id for r in without_c),
                        successes_without=sorted(r.id for r in without_c if r.success))


# -- evidence ---------------------------------------------------------------------------

QUOTED_CASES = 10
"""Cases quoted per flag and per precondition (``flags_report``'s ``limit``)."""


def _quote(ev: Any, **extra: Any) -> dict[str, Any]:
    return {"case": ev.case, "source": ev.source, "start_char": ev.start_char,
            "end_char": ev.end_char, "quote": ev.quote, **extra}


def flags_report(flags: list[ElementFlag], thresholds: Thresholds,
                 code_evidence: Mapping[tuple[str, str], list[Any]],
                 condition_line: Callable[[str, str], Any], records: list[CaseRecord],
                 limit: int = QUOTED_CASES) -> dict[str, Any]:
    """The flags as data, each with its counts, thresholds and evidence quotes.

    This is what ``casecoder graph flags --json`` prints and ``casecoder run`` writes to
    ``data/flags.json``.

    Parameters
    ----------
    flags : list of ElementFlag
        The flags (:func:`element_flags`).
    thresholds : Thresholds
        The thresholds they were computed with.
    code_evidence : mapping of (case id, code) to a list of evidence
        Coded spans per case and code, in text order (``GraphData.code_evidence``); each
        has ``case``, ``source``, ``start_char``, ``end_char``, ``quote`` and ``polarity``.
    condition_line : callable (case id, condition id) -> citation or None
        The line of a case's record that states its condition (the front matter line,
        :func:`casecoder.citations.front_matter_cite`).
    records : list of CaseRecord
        The cases the flags were computed from.
    limit : int, default=QUOTED_CASES
        Cases quoted per flag and per precondition.

    Returns
    -------
    dict
        ``thresholds``, ``quoted_cases`` (the limit) and ``flags``: each flag's fields
        plus ``evidence`` — the first coded span of the element in each successful case
        with it, in case order — and, in each precondition, ``evidence``: for each case
        counted (the element's cases with a known state of the condition, those lacking
        it first), the line stating the state and the first coded span of the condition
        whose polarity agrees with it (+ present, − absent); ``unquoted`` lists counted
        cases where neither stands in the text.
    """
    by_id = {r.id: r for r in records}
    out = []
    for f in flags:
        d = f.as_dict()
        d["evidence"] = [_quote(evs[0], evidence_type="coding")
                         for c in f.success_cases[:limit]
                         if (evs := code_evidence.get((c, f.element)))]
        for pd, p in zip(d["preconditions"], f.preconditions, strict=True):
            without = p.cases_without
            with_c = sorted(c for c in f.success_cases + f.failure_cases
                            if by_id[c].conditions.get(p.condition) == "present")
            quotes: list[dict[str, Any]] = []
            unquoted = []
            for c in (without + with_c)[:limit]:
                state = by_id[c].conditions[p.condition]
                found = [_quote(x, state=state, evidence_type="front matter")
                         for x in [condition_line(c, p.condition)] if x is not None]
                sign = 1 if state == "present" else -1
                found += [_quote(ev, state=state, evidence_type="coding")
                          for ev in code_evidence.get((c, p.condition), [])
                          if ev.polarity * sign > 0][:1]
                quotes += found
                if not found:
                    unquoted.append(c)
            pd["evidence"] = quotes
            pd["unquoted"] = unquoted
        out.append(d)
    return {"thresholds": dict(thresholds.__dict__), "quoted_cases": limit, "flags": out}


def analysis_report(store: Any, analysis: Any, limit: int = QUOTED_CASES) -> dict[str, Any]:
    """:func:`flags_report` of an analysis (:func:`casecoder.graph.analyse`) of a store."""
    from casecoder.citations import case_files, front_matter_cite

    files = case_files(store.sources())
    return flags_report(analysis.flags, analysis.thresholds, analysis.data.code_evidence,
                        lambda case, cond: front_matter_cite(files.get(case, []), case, cond),
                        analysis.records, limit)


# -- adaptation -----------------------------------------------------------------------

KEEP = "keep as is"
ADAPT = "adapt"
BUILD = "build the precondition first"
NO_EVIDENCE = "no evidence in the corpus"
ACTIONS = (KEEP, NO_EVIDENCE, ADAPT, BUILD)
"""The four answers, weakest first: an element's answer is the strongest any of its
conditions or transfers gives (see docs/flags.md)."""


@dataclass
class Advice:
    """What to do with one core element at a target site."""

    element: str
    action: str  # one of ACTIONS
    reasons: list[str]
    cite_cases: list[str]
    substitutes: list[str] = field(default_factory=list)


@dataclass
class Target:
    """A target site's profile."""

    region: str = "unknown"
    setting: str = "unknown"
    industry: str = "unknown"
    budget: str = "unknown"
    conditions: dict[str, str] = field(default_factory=dict)


@dataclass
class _Verdict:
    action: str
    reason: str
    cites: list[str]
    substitutes: list[str] = field(default_factory=list)


def _siblings(element: str, records: list[CaseRecord]) -> set[str]:
    """The other forms of an element: the practices under its mechanism but itself."""
    root = ".".join(element.split(".")[:2]) if element.startswith("mech.") else element
    return {e for r in records for e in r.elements if e.startswith(root + ".") and e != element}


def _forms(element: str, siblings: set[str], r: CaseRecord) -> set[str]:
    return r.elements & (siblings | {element})


def _substitutes(records: list[CaseRecord], siblings: set[str], cond: str,
                 th: Thresholds) -> dict[str, list[CaseRecord]]:
    """Sibling forms seen to succeed in cases lacking ``cond``: each with the cases
    lacking it that have the form, kept when their success rate exceeds
    1 − ``difference`` (a form that itself failed without the condition is no
    substitute)."""
    lacking = [r for r in records if r.conditions.get(cond) == "absent"]
    out = {}
    for s in sorted(siblings):
        with_s = [r for r in lacking if s in r.elements]
        wins = sum(r.success for r in with_s)
        if wins and wins / len(with_s) > 1 - th.difference:
            out[s] = with_s
    return out


def _subs_text(subs: dict[str, list[CaseRecord]]) -> str:
    return "; ".join(f"{s} ({sum(r.success for r in rs)}/{len(rs)} succeeded: "
                     f"{', '.join(r.id for r in rs if r.success)})" for s, rs in subs.items())


def _condition_verdict(f: ElementFlag, p: Precondition, records: list[CaseRecord],
                       siblings: set[str], th: Thresholds) -> _Verdict:
    """The answer for element ``f`` at a target lacking ``p.condition``."""
    c, x = p.condition, f.element
    subs = _substitutes(records, siblings, c, th)
    sub_cases = sorted({r.id for rs in subs.values() for r in rs if r.success})
    counts = (f"{p.necessity_k}/{p.necessity_n} successful cases with a known state had it, "
              f"{p.without_c_success}/{p.without_c_total} cases without it succeeded")
    if p.status in BLOCKING:
        if subs:
            return _Verdict(ADAPT, f"{c}: {p.status} ({counts}); forms seen to succeed "
                            f"without it: {_subs_text(subs)}",
                            sub_cases + p.cases_without, list(subs))
        return _Verdict(BUILD, f"{c}: {p.status} ({counts}); no other form of {x} was "
                        f"seen to succeed without it", list(p.cases_without))
    if p.successes_without:
        return _Verdict(KEEP, f"{c}: {x} succeeded without it in "
                        f"{', '.join(p.successes_without)} ({counts}; {p.status})",
                        list(p.successes_without))
    # no case shows x succeeding without c
    if p.without_c_total:
        seen, at_risk = f"no case with {x} succeeded without it ({counts}; {p.status})", True
    elif p.necessity_n:
        seen, at_risk = (f"no case has {x} and lacks it, and {p.necessity_k}/{p.necessity_n} "
                         f"successful cases with a known state had it ({p.status})"), True
    else:
        seen, at_risk = f"no case with {x} records its state", False
    if subs and at_risk:
        return _Verdict(ADAPT, f"{c}: {seen}; forms seen to succeed without it: "
                        f"{_subs_text(subs)}", sub_cases + p.cases_without, list(subs))
    others = (f" (other forms seen to succeed without it, not compared with {x}: "
              f"{_subs_text(subs)})" if subs else "")
    return _Verdict(NO_EVIDENCE, f"{c}: {seen}; the corpus cannot say how {x} fares "
                    f"without it{others}", list(p.cases_without))


def _like_target(t: Transfer, target: Target) -> bool:
    moved = t.origin_setting != t.setting or t.origin_region != t.region
    like = (target.setting != "unknown" and t.setting == target.setting) or (
        target.region != "unknown" and t.region == target.region)
    return moved and like


def _transfer_verdict(f: ElementFlag, t: Transfer, records: list[CaseRecord],
                      siblings: set[str], target: Target) -> _Verdict:
    """What a recorded transfer of element ``f`` into a site like the target shows."""
    by_id = {r.id: r for r in records}
    verb = "copying" if t.mode == "copied" else "adapting"
    text = (f"{verb} {t.origin} ({t.origin_setting}, {t.origin_region}) into {t.case} "
            f"({t.setting}, {t.region}), {f.element} included: {t.result}")
    cites = [t.case] + ([t.origin] if t.origin in by_id else [])
    if not (t.mode == "copied" and t.result == "failure"):
        return _Verdict(KEEP, text, cites)
    copied = _forms(f.element, siblings, by_id[t.case])
    adapted = [u for u in transfers(records) if u.mode != "copied" and u.result == "success"
               and _like_target(u, target)
               and _forms(f.element, siblings, by_id[u.case])]
    subs: dict[str, list[str]] = {}
    for u in adapted:
        for s in sorted(_forms(f.element, siblings, by_id[u.case]) - copied):
            subs.setdefault(s, []).append(u.case)
    if subs:
        text += "; forms in successful adaptations into similar sites: " + "; ".join(
            f"{s} ({', '.join(cs)})" for s, cs in subs.items())
        return _Verdict(ADAPT, text, cites + [c for cs in subs.values() for c in cs],
                        list(subs))
    text += ("; no substitute form was seen: " + (
        "successful adaptations into similar sites (" + ", ".join(u.case for u in adapted)
        + ") coded the same forms" if adapted else
        "no adaptation of it into a similar site is recorded to have succeeded"))
    return _Verdict(ADAPT, text, cites + [u.case for u in adapted])


def adapt(records: list[CaseRecord], target: Target, th: Thresholds | None = None,
          flags: list[ElementFlag] | None = None) -> list[Advice]:
    """Advice for every core element (transferable or conditional) at ``target``.

    Each condition the target lacks, and each recorded transfer of the element into a
    site like the target, gives an answer (:data:`ACTIONS`); the element's answer is the
    strongest of them: build the precondition first > adapt > no evidence in the
    corpus > keep as is. Conditions whose state at the target is unknown give a
    "check" reason (with the answer should the condition be absent) and no answer.
    See docs/flags.md for the rules.
    """
    th = (th or Thresholds()).validate()
    flags = flags if flags is not None else element_flags(records, th)
    rank = {a: i for i, a in enumerate(ACTIONS)}
    out = []
    for f in flags:
        if f.flag == "peripheral":
            continue
        siblings = _siblings(f.element, records)
        verdicts: list[_Verdict] = []
        checks: list[str] = []
        for p in f.preconditions:
            state = target.conditions.get(p.condition, "unknown")
            if state == "present":
                continue
            v = _condition_verdict(f, p, records, siblings, th)
            if state == "absent":
                verdicts.append(v)
            elif p.status in (*BLOCKING, "untested: limited diversity"):
                checks.append(f"check {p.condition} (unknown at the target); if absent, "
                              f"{v.action}: {v.reason}")
        verdicts += [_transfer_verdict(f, t, records, siblings, target)
                     for t in transfers_for(records, f.element, target)]
        action = max((v.action for v in verdicts), key=rank.__getitem__, default=KEEP)
        reasons = [v.reason for v in verdicts] + checks
        cites = [c for v in verdicts for c in v.cites]
        if action == KEEP:
            reasons.insert(0, f"{f.support}/{f.successes} successful cases have it across "
                              f"{len(f.regions)} regions and {len(f.settings)} settings")
            cites += f.success_cases
        subs = sorted({s for v in verdicts if v.action == ADAPT for s in v.substitutes})
        out.append(Advice(f.element, action, reasons, sorted(set(cites)), subs))
    return out


@dataclass(frozen=True)
class Transfer:
    """A recorded transfer: experience of ``origin`` copied or adapted in ``case``."""

    case: str
    setting: str
    region: str
    origin: str
    origin_setting: str
    origin_region: str
    mode: str
    result: str


def transfers(records: list[CaseRecord]) -> list[Transfer]:
    """Every transfer the cases record, with the settings and regions at both ends."""
    by_id = {r.id: r for r in records}
    out = []
    for r in records:
        for t in r.transfers:
            origin = str(t.get("from", ""))
            o = by_id.get(origin)
            out.append(Transfer(case=r.id, setting=r.setting, region=r.region, origin=origin,
                                origin_setting=o.setting if o else "unknown",
                                origin_region=o.region if o else "unknown",
                                mode=str(t.get("mode", "unknown")),
                                result=str(t.get("result", "unknown"))))
    return sorted(out, key=lambda t: (t.case, t.origin))


def transfer_summary(records: list[CaseRecord]) -> list[dict[str, Any]]:
    """Transfers grouped by the settings they crossed and their mode, with results."""
    groups: dict[tuple[str, str, str], list[Transfer]] = {}
    for t in transfers(records):
        groups.setdefault((t.origin_setting, t.setting, t.mode), []).append(t)
    return [{"from_setting": a, "to_setting": b, "mode": m,
             "successes": sum(t.result == "success" for t in ts), "n": len(ts),
             "cases": [t.case for t in ts], "origins": [t.origin for t in ts]}
            for (a, b, m), ts in sorted(groups.items())]


def transfers_for(records: list[CaseRecord], element: str, target: Target) -> list[Transfer]:
    """Transfers that carried ``element`` into a site like ``target`` (same setting or
    same region, across a change of setting or region).

    A transfer carried the element when the receiving case has it coded and, where the
    origin is a case of the corpus, the origin has it too: a failed copy speaks only
    against what was copied.
    """
    by_id = {r.id: r for r in records}
    out = []
    for t in transfers(records):
        origin = by_id.get(t.origin)
        if element not in by_id[t.case].elements:
            continue
        if origin is not None and element not in origin.elements:
            continue
        if _like_target(t, target):
            out.append(t)
    return out


# -- sensitivity ------------------------------------------------------------------------

DEFAULT_GRID: dict[str, list[Any]] = {
    "necessity": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], "min_support": [2, 3, 4, 5],
    "min_regions": [1, 2, 3], "relevance": [0.3, 0.5, 0.7]}


def sensitivity(records: list[CaseRecord], grid: dict[str, list[Any]] | None = None,
                ) -> dict[str, Any]:
    """Re-flag under every combination of the thresholds in ``grid``.

    Thresholds not in ``grid`` keep their defaults. Returns the grid, the number of
    settings, per element the share of settings under which it is a transferable core
    and the highest necessity threshold at which it is one (``core_max_necessity``), and
    the cores and conditional-core count of each setting.
    """
    import itertools

    grid = grid or DEFAULT_GRID
    fields = set(Thresholds.__dataclass_fields__)
    for name, values in grid.items():
        if name not in fields or not values:
            raise CasecoderError("CC405", name=name, value=values,
                                 expected="a threshold among " + ", ".join(sorted(fields))
                                 + " with at least one value")
    keys = sorted(grid)
    runs = []
    core_count: dict[str, int] = {}
    core_nec: dict[str, float] = {}
    combos = list(itertools.product(*(grid[k] for k in keys)))
    for values in combos:
        setting = dict(zip(keys, values, strict=True))
        th = Thresholds(**setting)
        flags = element_flags(records, th)
        cores = sorted(f.element for f in flags if f.flag == "transferable core")
        for e in cores:
            core_count[e] = core_count.get(e, 0) + 1
            core_nec[e] = max(core_nec.get(e, 0.0), th.necessity)
        runs.append({"thresholds": setting, "cores": cores,
                     "conditional": sum(f.flag == "conditional core" for f in flags)})
    return {"grid": {k: list(grid[k]) for k in keys}, "settings": len(combos),
            "core_share": {e: round(n / len(combos), 4) for e, n in sorted(core_count.items())},
            "core_max_necessity": dict(sorted(core_nec.items())),
            "runs": runs}
