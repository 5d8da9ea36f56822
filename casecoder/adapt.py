"""Adaptation: advice for a target site from the corpus's evidence.

A target profile is YAML::

    region: 中西部
    setting: rural              # urban_community | rural | industry | cross_region
    industry: unknown
    budget: low                 # high | medium | low | unknown
    conditions:
      ctx.infrastructure: absent
      ctx.funding: absent

``budget: low`` stands for ``ctx.funding: absent`` unless ``conditions`` says
otherwise. The advice itself is computed by :func:`casecoder.flags.adapt`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from casecoder.errors import CasecoderError
from casecoder.flags import Advice, Target
from casecoder.flags import adapt as flags_adapt
from casecoder.models import CONDITION_VALUES, CONTEXT_IDS, SETTINGS

KEYS = ("region", "setting", "industry", "budget", "conditions", "name", "description")


def load_target(path: str | Path) -> Target:
    """Read and check a target profile (CC404 with the line on any problem)."""
    p = Path(path)
    if not p.exists():
        raise CasecoderError("CC108", path=str(p))
    text = p.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CasecoderError("CC404", path=str(p), line=(mark.line + 1) if mark else 1,
                             reason=getattr(exc, "problem", None) or str(exc)) from exc
    lines = {}
    if isinstance(node, yaml.MappingNode):
        lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
    if not isinstance(data, dict):
        raise CasecoderError("CC404", path=str(p), line=1, reason="the profile must be a mapping")

    def bad(key: str, reason: str) -> CasecoderError:
        return CasecoderError("CC404", path=str(p), line=lines.get(key, 1), reason=reason)

    for key in data:
        if key not in KEYS:
            raise bad(key, f"unknown key {key!r}; known keys: {', '.join(KEYS)}")
    setting = str(data.get("setting", "unknown"))
    if setting not in (*SETTINGS, "unknown"):
        raise bad("setting", f"setting {setting!r} is not one of {', '.join(SETTINGS)}")
    conditions: dict[str, Any] = data.get("conditions") or {}
    if not isinstance(conditions, dict):
        raise bad("conditions", "conditions must map ctx.* ids to present/absent/unknown")
    for k, v in conditions.items():
        if k not in CONTEXT_IDS or v not in CONDITION_VALUES:
            raise bad("conditions", f"{k}: {v!r} — expected one of {', '.join(CONTEXT_IDS)} "
                      f"with {', '.join(CONDITION_VALUES)}")
    budget = str(data.get("budget", "unknown"))
    if budget not in ("high", "medium", "low", "unknown"):
        raise bad("budget", f"budget {budget!r} is not high, medium, low or unknown")
    conds = {c: str(conditions.get(c, "unknown")) for c in CONTEXT_IDS}
    if budget == "low" and "ctx.funding" not in conditions:
        conds["ctx.funding"] = "absent"
    return Target(region=str(data.get("region", "unknown")), setting=setting,
                  industry=str(data.get("industry", "unknown")), budget=budget,
                  conditions=conds)


def advise(analysis: Any, target: Target) -> list[Advice]:
    """Advice for every core element of an analysis (see :mod:`casecoder.graph`)."""
    return flags_adapt(analysis.records, target, analysis.thresholds, analysis.flags)
