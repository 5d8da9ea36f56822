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

from collections.abc import Iterable
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
        return cls(id=case.id, success=case.outcome.get("result") == "success",
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
BLOCKING = ("precondition", FAILED_WITHOUT)


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


# -- adaptation -----------------------------------------------------------------------

@dataclass
class Advice:
    """What to do with one core element at a target site."""

    element: str
    action: str  # keep as is | adapt | build the precondition first | no evidence in the corpus
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


def _siblings(element: str, records: list[CaseRecord]) -> set[str]:
    root = ".".join(element.split(".")[:2]) if element.startswith("mech.") else element
    return {e for r in records for e in r.elements if e.startswith(root + ".") and e != element}


def adapt(records: list[CaseRecord], target: Target, th: Thresholds | None = None,
          flags: list[ElementFlag] | None = None) -> list[Advice]:
    """Advice for every core element (transferable or conditional) at ``target``."""
    th = (th or Thresholds()).validate()
    flags = flags if flags is not None else element_flags(records, th)
    by_id = {r.id: r for r in records}
    out = []
    for f in flags:
        if f.flag == "peripheral":
            continue
        reasons: list[str] = []
        cites: list[str] = []
        subs: list[str] = []
        action = "keep as is"
        if f.support == 0:
            out.append(Advice(f.element, "no evidence in the corpus",
                              ["no successful case has this element"], []))
            continue
        for p in f.preconditions:
            if p.status not in (*BLOCKING, "untested: limited diversity"):
                continue
            state = target.conditions.get(p.condition, "unknown")
            if state == "present":
                continue
            if state == "unknown":
                reasons.append(f"check {p.condition}: the target's state is unknown; "
                               f"{p.necessity_k}/{p.necessity_n} successful cases had it")
                continue
            # target lacks C: a substitute form seen to succeed without C?
            succ_without = [by_id[c] for c in _cases_lacking(records, p.condition)
                            if by_id[c].success]
            candidates = sorted({e for r in succ_without for e in r.elements}
                                & (_siblings(f.element, records) | {f.element}))
            if p.status in BLOCKING and succ_without and candidates:
                action = "adapt"
                subs += [c for c in candidates if c != f.element]
                cites += sorted(r.id for r in succ_without)
                reasons.append(
                    f"{p.condition}: {p.status} ({p.necessity_k}/{p.necessity_n} "
                    f"successful cases had it; {p.without_c_success}/{p.without_c_total} "
                    f"cases without it succeeded); forms that succeeded without it: "
                    f"{', '.join(candidates)}")
            elif p.status in BLOCKING:
                if action != "adapt":
                    action = "build the precondition first"
                cites += p.cases_without
                reasons.append(
                    f"{p.condition}: {p.status} ({p.necessity_k}/{p.necessity_n} successful "
                    f"cases had it; {p.without_c_success}/{p.without_c_total} cases without it "
                    f"succeeded); no case lacking it succeeded with a form of this element")
            else:
                reasons.append(f"{p.condition}: all {p.necessity_n} successful cases with a "
                               f"known state had it, but no case lacking it shows what "
                               f"happens (untested: limited diversity)")
        for t in transfers_for(records, f.element, target):
            verb = "copying" if t.mode == "copied" else "adapting"
            reasons.append(f"{verb} {t.origin} ({t.origin_setting}, {t.origin_region}) into "
                           f"{t.case} ({t.setting}, {t.region}): {t.result}")
            cites += [t.case] + ([t.origin] if t.origin in by_id else [])
            if t.mode == "copied" and t.result == "failure" and action == "keep as is":
                action = "adapt"
        if action == "keep as is":
            reasons.insert(0, f"{f.support}/{f.successes} successful cases have it across "
                              f"{len(f.regions)} regions and {len(f.settings)} settings")
            cites += f.success_cases
        out.append(Advice(f.element, action, reasons, sorted(set(cites)), sorted(set(subs))))
    return out


def _cases_lacking(records: list[CaseRecord], cond: str) -> list[str]:
    return [r.id for r in records if r.conditions.get(cond) == "absent"]


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
    """Transfers of experience that included ``element`` into a site like ``target``
    (same setting, or same region), where the corpus shows how copying or adapting went."""
    by_id = {r.id: r for r in records}
    out = []
    for t in transfers(records):
        origin = by_id.get(t.origin)
        if origin is None or element not in origin.elements:
            continue
        moved = t.origin_setting != t.setting or t.origin_region != t.region
        like_target = (target.setting != "unknown" and t.setting == target.setting) or (
            target.region != "unknown" and t.region == target.region)
        if moved and like_target:
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
