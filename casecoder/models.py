"""The data model shared by every stage.

Offsets are ``start_char``/``end_char``: half-open, in Unicode code points of the
source's raw text (decoded, line ends normalised to LF). ``raw[start:end] == quote``
always holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SegmentKind = Literal["paragraph", "turn", "sentence", "heading"]
Role = Literal["interviewer", "respondent", "other"]
ROLES: tuple[str, ...] = ("interviewer", "respondent", "other")
CONDITION_VALUES: tuple[str, ...] = ("present", "absent", "unknown")
SETTINGS: tuple[str, ...] = ("urban_community", "rural", "industry", "cross_region")
RESULTS: tuple[str, ...] = ("success", "partial", "failure")
CONTEXT_IDS: tuple[str, ...] = (
    "ctx.economy",
    "ctx.infrastructure",
    "ctx.funding",
    "ctx.population",
    "ctx.selfgov",
)


@dataclass
class Source:
    """One ingested document: its immutable raw text and what was learnt reading it."""

    name: str
    kind: str
    text: str
    sha256: str
    encoding: str
    attributes: dict[str, Any] = field(default_factory=dict)
    case_id: str | None = None
    id: int | None = None
    version: int = 1
    current: bool = True
    body_start: int = 0


@dataclass
class Segment:
    """A span of a source: a paragraph, a speaker turn, a heading or a sentence."""

    source_id: int
    kind: str
    start_char: int
    end_char: int
    role: str | None = None
    speaker: str | None = None
    timestamp: str | None = None
    id: int | None = None
    parent_id: int | None = None


@dataclass
class Case:
    """A case: the unit of comparison, with its attributes (a case classification row)."""

    id: str
    title: str
    attributes: dict[str, Any]
    conditions: dict[str, str]
    outcome: dict[str, Any]
    transfers: list[dict[str, Any]]
    source_id: int | None = None

    @property
    def succeeded(self) -> bool:
        """``outcome.result`` is ``success`` (``partial`` and ``failure`` are not)."""
        return self.outcome.get("result") == "success"


@dataclass
class CodeRules:
    """What makes a code applicable by machine."""

    keywords: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    negative_keywords: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)
    proximity: list[dict[str, Any]] = field(default_factory=list)
    negation: str = "veto"
    speakers: list[str] | None = None
    # spaCy Matcher patterns over the jieba tokens, one list of token descriptions each
    # (docs/codebook.md); checked when a YAML codebook is loaded
    token_patterns: list[list[dict[str, Any]]] = field(default_factory=list)


@dataclass
class Code:
    """One code of a codebook."""

    id: str
    label: str
    gloss: str = ""
    definition: str = ""
    include: str = ""
    exclude: str = ""
    parent: str | None = None
    layer: str = "mechanism"
    theory: list[str] = field(default_factory=list)
    rules: CodeRules = field(default_factory=CodeRules)
    examples: list[str] = field(default_factory=list)
    counter_examples: list[str] = field(default_factory=list)
    see_also: list[str] = field(default_factory=list)
    manual: bool = False
    line: int = 0


@dataclass
class Codebook:
    """A codebook: codes in file order, its path and content hash."""

    name: str
    path: str
    sha256: str
    codes: dict[str, Code]
    defaults: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    version: str = ""

    @property
    def coder(self) -> str:
        """The coder name recorded on every coding made by rules from this codebook."""
        return f"rules:{self.name}@{self.sha256[:12]}"

    def children(self, code_id: str) -> list[str]:
        return [c.id for c in self.codes.values() if c.parent == code_id]


@dataclass
class Coding:
    """A code applied to a unit of a source, with the spans that justify it."""

    source_id: int
    code: str
    start_char: int
    end_char: int
    evidence: list[tuple[int, int]]
    pass_name: str
    coder: str
    rule: str = ""
    confidence: float = 1.0
    polarity: int = 1
    segment_id: int | None = None
    id: int | None = None


@dataclass
class Metric:
    """A quantified change stated in a sentence."""

    source_id: int
    start_char: int
    end_char: int
    indicator: str
    before: float | None
    after: float | None
    change: float | None
    unit: str
    direction: str
    quote: str = ""


@dataclass
class Link:
    """A causal claim joining two coded elements: a context-mechanism-outcome record."""

    source_id: int
    from_code: str
    to_code: str
    polarity: int
    start_char: int
    end_char: int
    connective: str
    evidence_type: str
    case_id: str | None = None
    pass_name: str = ""


@dataclass
class Run:
    """One execution of a stage, with its options and package versions."""

    stage: str
    options: dict[str, Any]
    versions: dict[str, str]
    started: str
    ended: str | None = None
    id: int | None = None
