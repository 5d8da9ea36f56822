"""Tests of the codebook loader, the frame check and the governance codebook itself."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from casecoder.codebook import (
    FRAME_IDS,
    REGEX_PREFIX,
    check_frame,
    codebook_stats,
    descendants,
    frame_root,
    load_codebook,
    read_frame,
    render_tree,
)
from casecoder.errors import CasecoderError
from casecoder.models import Codebook

ROOT = Path(__file__).resolve().parents[1]
GOVERNANCE = ROOT / "codebooks" / "governance.yaml"
FRAME = ROOT.parent / "shared" / "codebook-frame.md"
FIXTURES = Path(__file__).resolve().parent / "data" / "codebooks"

needs_frame = pytest.mark.skipif(not FRAME.is_file(), reason="shared/codebook-frame.md absent")


@pytest.fixture(scope="module")
def cb() -> Codebook:
    return load_codebook(GOVERNANCE)


@pytest.fixture(scope="module")
def matcher(cb: Codebook) -> RuleMatcher:
    return RuleMatcher(cb)


# -- a plain reference matcher ------------------------------------------------------------
#
# A deliberately simple implementation of the documented rule semantics (docs/codebook.md),
# independent of casecoder.coding, used to show that every example and counter-example of
# the codebook is consistent with its own rules.

_CLAUSE = set("，,、：:；;。！？!?\n（）()")
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _occurrences(text: str, term: str) -> list[tuple[int, int]]:
    out, i = [], text.find(term)
    while i != -1:
        out.append((i, i + len(term)))
        i = text.find(term, i + 1)
    return out


class RuleMatcher:
    """Literal + regex + proximity (char) + exclusion + negation matching, one unit at a time."""

    def __init__(self, codebook: Codebook) -> None:
        neg = codebook.defaults.get("negation", {})
        self.codebook = codebook
        self.cues = [c.translate(_FOLD) for c in neg.get("cues", [])]
        self.window = int(neg.get("window", 3))
        self.exceptions = [e.translate(_FOLD) for e in neg.get("exceptions", [])]

    def negated(self, text: str, start: int) -> bool:
        for cue in self.cues:
            for s, e in _occurrences(text[:start], cue):
                if start - e > self.window:
                    continue
                if any(ch in _CLAUSE for ch in text[e:start]):
                    continue
                if any(text.startswith(w, s) for w in self.exceptions):
                    continue
                return True
        return False

    def code_hits(self, code_id: str, text: str) -> tuple[list[tuple[str, int, int]], bool]:
        """(surviving hits as (kind, start, end), vetoed by an exclusion) for one code."""
        rules = self.codebook.codes[code_id].rules
        low = text.translate(_FOLD)
        for ex in rules.exclusions:
            if ex.startswith(REGEX_PREFIX):
                if re.search(ex[len(REGEX_PREFIX):], text):
                    return [], True
            elif ex.translate(_FOLD) in low:
                return [], True
        hits: list[tuple[str, int, int]] = []
        for kind, terms in (("keyword", rules.keywords), ("synonym", rules.synonyms),
                            ("negative", rules.negative_keywords)):
            for term in terms:
                hits += [(kind, s, e) for s, e in _occurrences(low, term.translate(_FOLD))]
        for pat in rules.patterns:
            hits += [("pattern", m.start(), m.end())
                     for m in re.finditer(pat, text, re.IGNORECASE) if m.end() > m.start()]
        for rule in rules.proximity:
            if rule.get("unit", "char") != "char":
                continue
            a_hits = [h for t in rule["a"] for h in _occurrences(low, t.translate(_FOLD))]
            b_hits = [h for t in rule["b"] for h in _occurrences(low, t.translate(_FOLD))]
            for a in a_hits:
                pair = next((b for b in b_hits if not (a[0] < b[1] and b[0] < a[1])
                             and max(a[0], b[0]) - min(a[1], b[1]) <= rule["within"]), None)
                if pair:
                    hits += [("proximity", *a), ("proximity", *pair)]
                    break
        kept = []
        for kind, s, e in hits:
            if kind != "negative" and self.negated(low, s):
                if rules.negation == "veto":
                    continue
                kind = "negated"
            kept.append((kind, s, e))
        return kept, False

    def codes(self, text: str) -> dict[str, int]:
        """Code id -> polarity (1 or -1) for every code whose rules fire on ``text``."""
        out = {}
        for cid in self.codebook.codes:
            kept, _ = self.code_hits(cid, text)
            if kept:
                out[cid] = -1 if any(k in ("negative", "negated") for k, _, _ in kept) else 1
        return out

    def coded_as(self, code_id: str, text: str) -> bool:
        """True when the unit is coded ``code_id``: the code or any sub-code fires."""
        fired = self.codes(text)
        return any(c in fired for c in {code_id} | descendants(self.codebook, code_id))
