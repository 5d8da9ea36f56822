"""Codebooks: load a YAML codebook, check it against the governance frame, describe it.

A codebook file (see ``docs/codebook.md``) holds codes in a hierarchy, each with the
rules that let a machine apply it (keywords, synonyms, negative keywords, regular
expressions, token patterns, exclusions, proximity rules, a negation mode) and the
examples and
counter-examples that show what it means. :func:`load_codebook` parses the file with
line numbers and checks everything the coding stage relies on, so that a broken
codebook fails at load time with the file and line of the problem, never halfway
through a coding pass.

A codebook that declares ``frame: governance-v1`` is checked against the governance
frame (:data:`GOVERNANCE_FRAME`: every id present, with the frame's label) whenever it
is loaded.

This module reads YAML and compiles regular expressions only; matching text is the
coding stage's work (:mod:`casecoder.coding`).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from casecoder.errors import CasecoderError
from casecoder.models import ROLES, Code, Codebook, CodeRules

try:  # the regex parser the standard library uses; private, so guard it
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older layouts
    import sre_parse as _sre_parse  # type: ignore[no-redef]

TOP_KEYS = ("codebook", "title", "version", "language", "description", "frame", "defaults",
            "codes")
DEFAULT_KEYS = ("unit", "speaker_scope", "negation", "metric_code")
NEGATION_KEYS = ("cues", "window", "exceptions")
CODE_KEYS = ("id", "label", "gloss", "definition", "include", "exclude", "parent", "layer",
             "theory", "rules", "examples", "counter_examples", "see_also", "manual")
RULE_KEYS = ("keywords", "synonyms", "negative_keywords", "patterns", "token_patterns",
             "exclusions", "proximity", "negation", "speakers")
PROXIMITY_KEYS = ("a", "b", "within", "unit")
LAYERS = ("context", "practice", "mechanism", "outcome", "problem", "theory", "group")
NEGATION_MODES = ("veto", "ignore", "polarity")
PROXIMITY_UNITS = ("char", "token")
UNITS = ("sentence", "turn", "paragraph")
REGEX_PREFIX = "re:"

#: The governance frame (``shared/codebook-frame.md``, v1): every code id it fixes and
#: its Chinese label, in frame order. The frame file is not shipped with the package, so
#: this is the copy a codebook declaring ``frame: governance-v1`` is checked against;
#: ``tests/test_codebook.py`` keeps it equal to the frame file when that is present.
GOVERNANCE_FRAME: dict[str, str] = {
    "mech": "机制",
    "mech.guidance": "思想引领",
    "mech.coordination": "组织协同",
    "mech.participation": "群众联动",
    "mech.mediation": "矛盾化解",
    "mech.digital": "数字赋能",
    "mech.frontload": "前置下沉",
    "mech.demand": "需求对接",
    "prob": "困境",
    "prob.formalism": "需求脱节与形式化",
    "prob.participation": "参与不足",
    "prob.silo": "协同壁垒",
    "prob.transfer": "经验转化困难",
    "prob.resource": "资源不足",
    "ctx": "情境条件",
    "ctx.economy": "经济水平",
    "ctx.infrastructure": "数字与网络基础",
    "ctx.funding": "经费与财政",
    "ctx.population": "人口结构",
    "ctx.selfgov": "自治能力与社区凝聚力",
    "out": "成效",
}
#: Frames a codebook may declare with its top-level ``frame:`` key.
FRAMES: dict[str, dict[str, str]] = {"governance-v1": GOVERNANCE_FRAME}
#: The ids of the governance frame, in frame order.
FRAME_IDS: tuple[str, ...] = tuple(GOVERNANCE_FRAME)

# Token patterns (``rules.token_patterns``): spaCy Matcher patterns over the jieba tokens
# of a ``spacy.blank("zh")`` pipeline, which has no tagger, parser or entity recogniser,
# so only attributes of the token text can ever match.
TOKEN_TEXT_ATTRS = ("ORTH", "TEXT", "LOWER", "NORM")
TOKEN_INT_ATTRS = ("LENGTH",)
TOKEN_FLAG_ATTRS = ("IS_ALPHA", "IS_ASCII", "IS_DIGIT", "IS_LOWER", "IS_UPPER", "IS_TITLE",
                    "IS_PUNCT", "IS_SPACE", "IS_STOP", "IS_BRACKET", "IS_QUOTE",
                    "IS_CURRENCY", "LIKE_NUM")
TOKEN_MODEL_ATTRS = ("POS", "TAG", "MORPH", "LEMMA", "DEP", "ENT_TYPE", "ENT_IOB", "ENT_ID",
                     "ENT_KB_ID", "SENT_START", "IS_SENT_START", "SPACY")
TOKEN_KEYS = (*TOKEN_TEXT_ATTRS, *TOKEN_INT_ATTRS, *TOKEN_FLAG_ATTRS, "OP")
TOKEN_OPS = ("+", "*", "?", "!")
_TOKEN_OP_RANGE = re.compile(r"^\{(\d+)\}$|^\{(\d+),(\d*)\}$|^\{(\d*),(\d+)\}$")
_TOKEN_TEXT_PREDICATES = ("IN", "NOT_IN", "REGEX")
_TOKEN_INT_PREDICATES = ("IN", "NOT_IN", "==", "!=", ">=", "<=", ">", "<")
#: Attributes whose value (a string, an ``IN`` list or a plain-text ``REGEX``) names the
#: text a required token must contain: the literals a token pattern needs.
TOKEN_LITERAL_ATTRS = ("ORTH", "TEXT", "LOWER")

_ID = re.compile(r"^[^\s.]+(\.[^\s.]+)*$")
_STR_TAG = "tag:yaml.org,2002:str"
_TYPE_NAMES = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a true/false value",
    "tag:yaml.org,2002:null": "empty",
    "tag:yaml.org,2002:timestamp": "a date",
}


# -- loading -------------------------------------------------------------------------------

def load_codebook(path: str | os.PathLike[str]) -> Codebook:
    """Load and check a YAML codebook.

    Parameters
    ----------
    path : str or path-like
        The codebook file (see ``docs/codebook.md`` for the format).

    Returns
    -------
    Codebook
        Codes in file order; ``sha256`` is the hash of the file's bytes and ``name`` the
        file's ``codebook`` id (the file stem when it has none).

    Raises
    ------
    CasecoderError
        CC309 the file does not exist; CC302 it is not valid YAML; CC308 a structural
        problem (unknown key, wrong type, unknown layer, negation mode, speaker role or
        frame, an invalid token pattern, a frame id with another label); CC303 a
        duplicate code id; CC305 an invalid regular expression; CC304 an unknown parent;
        CC311 a cycle of parents; CC306 a code with no way to match; CC313 a term that
        holds its code's own exclusion (it can never code anything); CC301 a code id
        referenced (``see_also``, ``defaults.metric_code``) but not defined; CC307 ids
        of the declared frame missing. Every message names the file and the line.
    """
    p = Path(path)
    shown = str(path)
    if not p.is_file():
        raise CasecoderError("CC309", path=shown)
    data = p.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CasecoderError("CC302", path=shown, line=line,
                             reason="the file is not UTF-8 text; save it as UTF-8") from None
    root = _compose(text, shown)
    return _Reader(shown).read(root, p.stem, sha)


def _compose(text: str, shown: str) -> Node | None:
    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # an error at the end of the file is marked on the line after the last one
        last = text.count("\n") + (0 if text.endswith("\n") else 1)
        line = min(mark.line + 1, max(last, 1)) if mark is not None else 1
        parts = [s for s in (exc.context, exc.problem) if s]
        raise CasecoderError("CC302", path=shown, line=line,
                             reason=", ".join(parts) or str(exc)) from None
    except yaml.YAMLError as exc:
        raise CasecoderError("CC302", path=shown, line=1, reason=str(exc)) from None
    finally:
        loader.dispose()


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _TYPE_NAMES.get(node.tag, "a string")


def _one_of(values: Iterable[str]) -> str:
    return "one of " + ", ".join(values)


class _Reader:
    """Walks the composed YAML nodes, building the codebook and checking it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.con = SafeConstructor()
        self.label_lines: dict[str, int] = {}

    # -- error helpers ------------------------------------------------------------------
    def fail(self, node: Node, problem: str, expected: str) -> CasecoderError:
        return CasecoderError("CC308", path=self.path, line=_line(node), problem=problem,
                              expected=expected)

    # -- typed access -------------------------------------------------------------------
    def mapping(self, node: Node, where: str,
                keys: tuple[str, ...]) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{where} is {_kind(node)}", "a mapping")
        self.con.flatten_mapping(node)  # resolve `<<: *anchor` merges
        out: dict[str, tuple[Node, Node]] = {}
        for k, v in node.value:
            if not (isinstance(k, ScalarNode) and k.tag == _STR_TAG):
                raise self.fail(k, f"{where} has a key that is {_kind(k)}", _one_of(keys))
            if k.value in out:
                raise self.fail(k, f"the key {k.value!r} appears twice in {where}",
                                "each key once")
            if k.value not in keys:
                raise self.fail(k, f"{where} has an unknown key {k.value!r}"
                                + _did_you_mean(k.value, keys, where), _one_of(keys))
            out[k.value] = (k, v)
        return out

    def string(self, node: Node, where: str) -> str:
        if not (isinstance(node, ScalarNode) and node.tag == _STR_TAG):
            raise self.fail(node, f"{where} is {_kind(node)}",
                            "a string (put numbers and yes/no words in quotes)")
        return str(node.value)

    def term(self, node: Node, where: str) -> str:
        value = self.string(node, where)
        if not value.strip():
            raise self.fail(node, f"{where} is an empty string", "a non-empty term")
        return value

    def items(self, node: Node, where: str) -> list[tuple[Node, str]]:
        """A list of non-empty strings, each with its node (an empty value is [])."""
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{where} is {_kind(node)}", "a list such as [a, b]")
        return [(item, self.term(item, f"an item of {where}")) for item in node.value]

    def strings(self, node: Node, where: str) -> list[str]:
        return [value for _, value in self.items(node, where)]

    def integer(self, node: Node, where: str, minimum: int = 0) -> int:
        value = self.con.construct_object(node) if isinstance(node, ScalarNode) else None
        if not isinstance(node, ScalarNode) or isinstance(value, bool) \
                or not isinstance(value, int) or value < minimum:
            raise self.fail(node, f"{where} is {_kind(node)} {getattr(node, 'value', '')!r}"
                            if isinstance(node, ScalarNode) else f"{where} is {_kind(node)}",
                            f"a whole number of at least {minimum}")
        return value

    def boolean(self, node: Node, where: str) -> bool:
        value = self.con.construct_object(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            raise self.fail(node, f"{where} is {_kind(node)}", "true or false")
        return value

    def choice(self, node: Node, where: str, values: tuple[str, ...]) -> str:
        value = self.string(node, where)
        if value not in values:
            raise self.fail(node, f"{where} {value!r} is unknown"
                            + _did_you_mean(value, values, where), _one_of(values))
        return value

    def code_id(self, node: Node, where: str) -> str:
        value = self.string(node, where)
        if not _ID.match(value):
            raise self.fail(node, f"{where} {value!r} is not a valid code id",
                            "dot-separated parts without spaces, such as mech.digital")
        return value

    # -- the document ----------------------------------------------------------------------
    def read(self, root: Node | None, stem: str, sha: str) -> Codebook:
        if root is None:
            raise CasecoderError("CC308", path=self.path, line=1, problem="the file is empty",
                                 expected="a mapping with a `codes:` list")
        top = self.mapping(root, "the codebook", TOP_KEYS)
        name = stem
        if "codebook" in top:
            name = self.code_id(top["codebook"][1], "the codebook id")
        title = self.string(top["title"][1], "title") if "title" in top else ""
        version = self.string(top["version"][1], "version") if "version" in top else ""
        for key in ("language", "description"):
            if key in top:
                self.string(top[key][1], key)
        frame = self.choice(top["frame"][1], "frame", tuple(FRAMES)) if "frame" in top else None
        defaults, refs = self.defaults(top["defaults"][1]) if "defaults" in top else ({}, [])
        if "codes" not in top:
            raise CasecoderError("CC308", path=self.path, line=_line(root),
                                 problem="the codebook has no `codes:` list",
                                 expected="a list of codes, each with at least id and label")
        codes_node = top["codes"][1]
        if not isinstance(codes_node, SequenceNode) or not codes_node.value:
            raise self.fail(codes_node, f"codes is {_kind(codes_node)}"
                            if not isinstance(codes_node, SequenceNode) else "codes is empty",
                            "a list of codes, each with at least id and label")
        codes: dict[str, Code] = {}
        id_lines: dict[str, int] = {}
        parent_nodes: dict[str, Node] = {}
        for item in codes_node.value:
            code, parent_node, see_refs = self.code(item)
            if code.id in codes:
                raise CasecoderError("CC303", path=self.path, line=code.line, code=code.id,
                                     first=id_lines[code.id])
            codes[code.id] = code
            id_lines[code.id] = code.line
            if parent_node is not None:
                parent_nodes[code.id] = parent_node
            refs.extend(see_refs)
        self.check_tree(codes, parent_nodes)
        for ref, node in refs:
            if ref not in codes:
                raise CasecoderError("CC301", path=self.path, line=_line(node), code=ref,
                                     known=_known(ref, codes))
        if frame is not None:
            _check_frame(codes, FRAMES[frame], f"the frame {frame}", self.path,
                         _line(top["codes"][0]), self.label_lines.get)
        return Codebook(name=name, path=self.path, sha256=sha, codes=codes, defaults=defaults,
                        title=title, version=version)

    def defaults(self, node: Node) -> tuple[dict[str, Any], list[tuple[str, Node]]]:
        d = self.mapping(node, "defaults", DEFAULT_KEYS)
        out: dict[str, Any] = {}
        refs: list[tuple[str, Node]] = []
        if "unit" in d:
            out["unit"] = self.choice(d["unit"][1], "defaults.unit", UNITS)
        if "speaker_scope" in d:
            vn = d["speaker_scope"][1]
            out["speaker_scope"] = self.roles(vn, "defaults.speaker_scope")
        if "metric_code" in d:
            vn = d["metric_code"][1]
            out["metric_code"] = self.code_id(vn, "defaults.metric_code")
            refs.append((out["metric_code"], vn))
        if "negation" in d:
            n = self.mapping(d["negation"][1], "defaults.negation", NEGATION_KEYS)
            neg: dict[str, Any] = {}
            if "cues" in n:
                neg["cues"] = self.strings(n["cues"][1], "defaults.negation.cues")
                if not neg["cues"]:
                    raise self.fail(n["cues"][1], "defaults.negation.cues is empty",
                                    "at least one negation cue such as 未")
            if "window" in n:
                neg["window"] = self.integer(n["window"][1], "defaults.negation.window")
            if "exceptions" in n:
                neg["exceptions"] = self.strings(n["exceptions"][1],
                                                 "defaults.negation.exceptions")
            out["negation"] = neg
        return out, refs

    def roles(self, node: Node, where: str) -> list[str]:
        pairs = self.items(node, where)
        for item, role in pairs:
            if role not in ROLES:
                raise self.fail(item, f"the speaker role {role!r} in {where} is unknown",
                                _one_of(ROLES))
        return [role for _, role in pairs]

    def code(self, node: Node) -> tuple[Code, Node | None, list[tuple[str, Node]]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"a code is {_kind(node)}",
                            "a mapping with at least id and label")
        line = _line(node)
        self.con.flatten_mapping(node)
        id_node = next((v for k, v in node.value
                        if isinstance(k, ScalarNode) and k.value == "id"), None)
        if id_node is None:
            raise self.fail(node, "a code has no id", "an `id:` such as mech.digital")
        cid = self.code_id(id_node, "the code id")
        where = f"code {cid!r}"
        m = self.mapping(node, where, CODE_KEYS)
        if "label" not in m:
            raise self.fail(node, f"{where} has no label", "a `label:` (its short name)")
        code = Code(id=cid, label=self.term(m["label"][1], f"the label of {where}"), line=line)
        self.label_lines[cid] = _line(m["label"][1])
        for key in ("gloss", "definition", "include", "exclude"):
            if key in m:
                setattr(code, key, self.string(m[key][1], f"the {key} of {where}"))
        parent_node = None
        if "parent" in m:
            pn = m["parent"][1]
            if not (isinstance(pn, ScalarNode) and pn.tag == "tag:yaml.org,2002:null"):
                code.parent = self.code_id(pn, f"the parent of {where}")
                parent_node = pn
        if "layer" in m:
            code.layer = self.choice(m["layer"][1], f"the layer of {where}", LAYERS)
        if "theory" in m:
            code.theory = self.strings(m["theory"][1], f"the theory of {where}")
        if "manual" in m:
            code.manual = self.boolean(m["manual"][1], f"manual of {where}")
        for key in ("examples", "counter_examples"):
            if key in m:
                setattr(code, key, self.strings(m[key][1], f"the {key} of {where}"))
        refs: list[tuple[str, Node]] = []
        if "see_also" in m:
            pairs = self.items(m["see_also"][1], f"see_also of {where}")
            refs = [(self.code_id(item, f"an item of see_also of {where}"), item)
                    for item, _ in pairs]
            code.see_also = [ref for ref, _ in refs]
        if "rules" in m:
            code.rules = self.rules(m["rules"][1], cid)
        return code, parent_node, refs

    def rules(self, node: Node, cid: str) -> CodeRules:
        where = f"the rules of code {cid!r}"
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return CodeRules()
        r = self.mapping(node, where, RULE_KEYS)
        rules = CodeRules()
        for key in ("keywords", "synonyms", "negative_keywords"):
            if key in r:
                setattr(rules, key, self.strings(r[key][1], f"{key} of code {cid!r}"))
        if "patterns" in r:
            pairs = self.items(r["patterns"][1], f"patterns of code {cid!r}")
            for item, pat in pairs:
                self.regex(item, pat, cid)
            rules.patterns = [pat for _, pat in pairs]
        if "token_patterns" in r:
            tn = r["token_patterns"][1]
            if not isinstance(tn, SequenceNode):
                raise self.fail(tn, f"token_patterns of code {cid!r} is {_kind(tn)}",
                                "a list of token patterns, each a list such as "
                                "[{ORTH: 调解}]")
            rules.token_patterns = [self.token_pattern(item, cid, n + 1)
                                    for n, item in enumerate(tn.value)]
        if "exclusions" in r:
            pairs = self.items(r["exclusions"][1], f"exclusions of code {cid!r}")
            for item, ex in pairs:
                if ex.startswith(REGEX_PREFIX):
                    self.regex(item, ex[len(REGEX_PREFIX):], cid)
            rules.exclusions = [ex for _, ex in pairs]
        if "proximity" in r:
            pn = r["proximity"][1]
            if not isinstance(pn, SequenceNode):
                raise self.fail(pn, f"proximity of code {cid!r} is {_kind(pn)}",
                                "a list of {a: [...], b: [...], within: N, unit: char}")
            rules.proximity = [self.proximity(item, cid) for item in pn.value]
        if "negation" in r:
            rules.negation = self.choice(r["negation"][1], f"the negation mode of code {cid!r}",
                                         NEGATION_MODES)
        if "speakers" in r:
            rules.speakers = self.roles(r["speakers"][1], f"speakers of code {cid!r}")
        return rules

    def proximity(self, node: Node, cid: str) -> dict[str, Any]:
        where = f"a proximity rule of code {cid!r}"
        p = self.mapping(node, where, PROXIMITY_KEYS)
        out: dict[str, Any] = {}
        for side in ("a", "b"):
            if side not in p:
                raise self.fail(node, f"{where} has no `{side}:` list",
                                "both `a:` and `b:` term lists")
            out[side] = self.strings(p[side][1], f"{side} of {where}")
            if not out[side]:
                raise self.fail(p[side][1], f"`{side}:` of {where} is empty",
                                "at least one term")
        out["within"] = self.integer(p["within"][1], f"within of {where}") \
            if "within" in p else 10
        out["unit"] = self.choice(p["unit"][1], f"the unit of {where}", PROXIMITY_UNITS) \
            if "unit" in p else "char"
        return out

    def token_pattern(self, node: Node, cid: str, n: int) -> list[dict[str, Any]]:
        """One spaCy Matcher pattern, checked token by token (see :func:`token_needs`)."""
        where = f"token pattern {n} of code {cid!r}"
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.fail(node, f"{where} is " + (_kind(node) if not isinstance(
                node, SequenceNode) else "empty"),
                "a list of token descriptions such as [{ORTH: 调解}, {ORTH: 纠纷}]")
        pattern = []
        for i, tn in enumerate(node.value, 1):
            tw = f"token {i} of {where}"
            if not isinstance(tn, MappingNode):
                raise self.fail(tn, f"{tw} is {_kind(tn)}",
                                "a mapping of token attributes such as {ORTH: 调解}")
            for kn, _vn in tn.value:
                if isinstance(kn, ScalarNode) and (kn.value in TOKEN_MODEL_ATTRS
                                                   or kn.value == "_"):
                    raise self.fail(kn, f"{tw} uses {kn.value}, which needs a trained "
                                    "pipeline or extension; casecoder's is "
                                    "spacy.blank('zh') with jieba tokens",
                                    "attributes of the token text: " + ", ".join(TOKEN_KEYS))
            m = self.mapping(tn, tw, TOKEN_KEYS)
            spec: dict[str, Any] = {}
            for key, (_kn, vn) in m.items():
                spec[key] = self.token_value(vn, key, f"{key} of {tw}")
            pattern.append(spec)
        if not token_needs(pattern):
            raise self.fail(node, f"{where} has no token that must occur with a given text, "
                            "so it would have to run on every unit",
                            "at least one token, not optional, with ORTH, TEXT or LOWER "
                            "given as a text, an IN list or a plain-text REGEX, such as "
                            "{ORTH: 调解}")
        return pattern

    def token_value(self, node: Node, key: str, where: str) -> Any:
        """The value of one token attribute, as spaCy's Matcher accepts it."""
        if key == "OP":
            op = self.string(node, where)
            if op not in TOKEN_OPS and not _TOKEN_OP_RANGE.match(op):
                raise self.fail(node, f"{where} is {op!r}",
                                "one of + * ? ! or a count {n}, {n,m}, {n,} or {,m} "
                                "(in quotes)")
            return op
        if key in TOKEN_FLAG_ATTRS:
            return self.boolean(node, where)
        text = key in TOKEN_TEXT_ATTRS
        if isinstance(node, MappingNode):
            preds = _TOKEN_TEXT_PREDICATES if text else _TOKEN_INT_PREDICATES
            m = self.mapping(node, where, preds)
            out: dict[str, Any] = {}
            for p, (_kn, vn) in m.items():
                pw = f"{p} of {where}"
                if p in ("IN", "NOT_IN"):
                    if not isinstance(vn, SequenceNode) or not vn.value:
                        raise self.fail(vn, f"{pw} is " + (_kind(vn) if not isinstance(
                            vn, SequenceNode) else "empty"), "a non-empty list")
                    out[p] = [self.term(x, f"an item of {pw}") if text
                              else self.integer(x, f"an item of {pw}") for x in vn.value]
                elif p == "REGEX":
                    out[p] = self.term(vn, pw)
                    try:
                        re.compile(out[p])
                    except re.error as exc:
                        raise self.fail(vn, f"{pw} {out[p]!r} is not a valid regular "
                                        f"expression: {exc}", "a Python regular expression"
                                        ) from None
                else:
                    out[p] = self.integer(vn, pw)
            return out
        return self.term(node, where) if text else self.integer(node, where)

    def regex(self, node: Node, pattern: str, cid: str) -> None:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise CasecoderError("CC305", path=self.path, line=_line(node), pattern=pattern,
                                 code=cid, reason=str(exc)) from None
        if rx.search("") is not None:
            reason = "it can match an empty string (look for a stray | or only optional parts)"
        elif re._parser.parse(pattern).getwidth()[1] == 0:  # type: ignore[attr-defined]
            reason = ("it can only match empty text (lookarounds and anchors alone), and an "
                      "empty match codes nothing")
        elif _nested_repeat(pattern):
            reason = ("a repeated group holds another unbounded repeat, which can backtrack "
                      "catastrophically; bound the inner or outer repeat")
        else:
            return
        raise CasecoderError("CC305", path=self.path, line=_line(node), pattern=pattern,
                             code=cid, reason=reason)

    def check_tree(self, codes: dict[str, Code], parent_nodes: dict[str, Node]) -> None:
        for cid, code in codes.items():
            if code.parent is not None and code.parent not in codes:
                raise CasecoderError("CC304", path=self.path,
                                     line=_line(parent_nodes[cid]), code=cid,
                                     parent=code.parent, known=_known(code.parent, codes))
        for cid in codes:
            chain = [cid]
            cur = codes[cid].parent
            while cur is not None:
                if cur == cid:
                    raise CasecoderError("CC311", path=self.path,
                                         line=_line(parent_nodes[cid]), code=cid,
                                         cycle=" -> ".join([*chain, cid]))
                if cur in chain:
                    break  # a cycle not through cid; reported at one of its own codes
                chain.append(cur)
                cur = codes[cur].parent
        has_children = {c.parent for c in codes.values() if c.parent is not None}
        for cid, code in codes.items():
            r = code.rules
            if code.manual or cid in has_children:
                continue
            if not (r.keywords or r.synonyms or r.negative_keywords or r.patterns
                    or r.proximity or r.token_patterns):
                raise CasecoderError("CC306", path=self.path, line=code.line, code=cid)
            # a term holding one of its code's literal exclusions vetoes itself wherever
            # it occurs (matching ignores ASCII case)
            vetoes = [x.lower() for x in r.exclusions if not x.startswith("re:")]
            for kind, terms in (("keyword", r.keywords), ("synonym", r.synonyms),
                                ("negative keyword", r.negative_keywords)):
                for term in terms:
                    hit = next((x for x in vetoes if x and x in term.lower()), None)
                    if hit is not None:
                        raise CasecoderError("CC313", path=self.path, line=code.line,
                                             kind=kind, term=term, code=cid, exclusion=hit)


def _did_you_mean(value: str, options: Iterable[str], where: str) -> str:
    options = list(options)
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if where.startswith("code") and value in RULE_KEYS:
        return f" ({value!r} belongs under `rules:`)"
    return ""


def _known(missing: str, codes: dict[str, Code]) -> str:
    ids = list(codes)
    if len(ids) <= 12:
        return ", ".join(ids)
    close = difflib.get_close_matches(missing, ids, n=4, cutoff=0.5)
    head = ", ".join(close) if close else ", ".join(ids[:6])
    return f"{head}, ... ({len(ids)} codes; `casecoder codebook show` lists them)"


def _plain_text(pattern: str) -> bool:
    """True when the regex ``pattern`` matches only its own text (no special character)."""
    return bool(pattern) and re.escape(pattern) == pattern


def _caseless_fold(text: str) -> bool:
    """True when every character is ASCII or has no case, so that lower-casing it keeps
    its length in any text (what the coding stage's automaton relies on)."""
    return all(ch.isascii() or ch.lower() == ch.upper() for ch in text)


def _required(spec: Mapping[str, Any]) -> bool:
    """True when a token description must match at least one token (by its ``OP``)."""
    op = spec.get("OP")
    if op is None or op == "+":
        return True
    m = _TOKEN_OP_RANGE.match(op) if isinstance(op, str) else None
    if m is None:
        return False  # ?, * and ! match no token at all
    least = m.group(1) or m.group(2) or m.group(4) or "0"
    return int(least) >= 1


def _texts(value: Any) -> list[str]:
    """The texts a text-attribute value names: the string, an ``IN`` list, or a
    plain-text ``REGEX`` (contained in the token)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        if "IN" in value:
            return [str(v) for v in value["IN"]]
        rx = value.get("REGEX")
        if isinstance(rx, str) and _plain_text(rx):
            return [rx]
    return []


def token_needs(pattern: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Sets of literals such that every match of a token pattern contains one of each.

    Each comes from a token the pattern requires (no ``OP``, ``+`` or a count of at least
    one) whose ``ORTH``, ``TEXT`` or ``LOWER`` is a text, an ``IN`` list or a plain-text
    ``REGEX``; literals with cased letters other than ASCII are left out (the automaton
    that finds them folds only where that keeps offsets). The coding stage runs a token
    pattern only on units holding one literal of each set.

    Examples
    --------
    >>> token_needs([{"ORTH": "重"}, {"IS_PUNCT": False, "OP": "{1,2}"}, {"ORTH": "轻"}])
    [('重',), ('轻',)]
    >>> token_needs([{"ORTH": {"IN": ["调解", "调处"]}, "OP": "?"}, {"LOWER": "app"}])
    [('app',)]
    """
    out: list[tuple[str, ...]] = []
    for spec in pattern:
        if not _required(spec):
            continue
        for attr in TOKEN_LITERAL_ATTRS:
            lits = _texts(spec.get(attr))
            if lits and all(_caseless_fold(t) for t in lits):
                key = tuple(dict.fromkeys(t.lower() if attr == "LOWER" else t for t in lits))
                if key not in out:
                    out.append(key)
                break
    return out


def token_literals(pattern: list[dict[str, Any]]) -> list[str]:
    """Every text a token pattern names (``ORTH``, ``TEXT``, ``LOWER`` strings, ``IN``
    lists and plain-text ``REGEX``), optional tokens included: words the tokenizer's user
    dictionary keeps whole."""
    return list(dict.fromkeys(t for spec in pattern for attr in TOKEN_LITERAL_ATTRS
                              for t in _texts(spec.get(attr))))


def _nested_repeat(pattern: str) -> bool:
    """True when an unbounded repeat contains another unbounded repeat, like ``(a+)+``."""
    try:
        parsed = _sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - compiled fine above; the private parser may differ
        return False
    c = _sre_parse
    repeats = {getattr(c, n) for n in ("MAX_REPEAT", "MIN_REPEAT") if hasattr(c, n)}
    maxrepeat = getattr(c, "MAXREPEAT", None)

    def subpatterns(op: Any, av: Any) -> list[Any]:
        if op in repeats:
            return [av[2]]
        if op is getattr(c, "SUBPATTERN", None):
            return [av[-1]]
        if op is getattr(c, "BRANCH", None):
            return list(av[1])
        if op in (getattr(c, "ASSERT", None), getattr(c, "ASSERT_NOT", None)):
            return [av[1]]
        if op is getattr(c, "ATOMIC_GROUP", None):
            return []  # atomic groups do not backtrack
        return []

    def has_unbounded(seq: Any) -> bool:
        for op, av in seq:
            if op in repeats and av[1] == maxrepeat:
                return True
            if any(has_unbounded(s) for s in subpatterns(op, av)):
                return True
        return False

    def bad(seq: Any) -> bool:
        for op, av in seq:
            if op in repeats and av[1] == maxrepeat and has_unbounded(av[2]):
                return True
            if any(bad(s) for s in subpatterns(op, av)):
                return True
        return False

    return bad(parsed)


# -- the frame -----------------------------------------------------------------------------

_FRAME_ROW = re.compile(r"^\|\s*([^|\s]+)\s*\|\s*([^|]*?)\s*\|")
_FRAME_GROUP = re.compile(r"^##\s+([A-Za-z][\w.]*)\s+[—-]+\s+[^(]*\(([^)]+)\)")


def read_frame(frame_path: str | os.PathLike[str]) -> dict[str, str]:
    """The code ids and labels of a frame file such as ``shared/codebook-frame.md``.

    Ids come from the first column of the markdown tables (``mech.guidance``, ``out``) and
    from group headings of the form ``## mech — mechanisms (机制)``.

    Raises
    ------
    FileNotFoundError
        When the frame file does not exist.
    CasecoderError
        CC308 when the file holds no frame ids.
    """
    out: dict[str, str] = {}
    text = Path(frame_path).read_text(encoding="utf-8")
    for raw in text.splitlines():
        line = raw.strip()
        g = _FRAME_GROUP.match(line)
        if g and _ID.match(g.group(1)):
            out.setdefault(g.group(1), g.group(2).strip())
            continue
        m = _FRAME_ROW.match(line)
        if not m:
            continue
        cid = m.group(1).strip("`")
        if cid == "id" or set(cid) <= set("-:") or not re.match(r"^[a-z][\w]*(\.\w+)*$", cid):
            continue
        out.setdefault(cid, m.group(2).strip())
    if not out:
        raise CasecoderError("CC308", path=str(frame_path), line=1,
                             problem="no code ids were found in the frame's tables",
                             expected="markdown tables whose first column holds code ids "
                             "such as mech.guidance")
    return out


def check_frame(codebook: Codebook,
                frame: str | os.PathLike[str] | Mapping[str, str] | None = None) -> None:
    """Check that ``codebook`` implements every id of a frame, with the frame's labels.

    A codebook that declares ``frame: governance-v1`` is checked this way when it is
    loaded; this function checks any codebook against any frame.

    Parameters
    ----------
    codebook : Codebook
        A loaded codebook.
    frame : path-like or mapping or None, default=None
        A frame file such as ``shared/codebook-frame.md`` (see :func:`read_frame`), or a
        mapping id -> label; ``None`` is the governance frame (:data:`GOVERNANCE_FRAME`).

    Raises
    ------
    CasecoderError
        CC307 listing the frame ids (in frame order) the codebook lacks, at the line
        where their group is defined (or of the ``codes:`` key); CC308 for a frame id
        whose label is not the frame's, at the line of the label.
    """
    if frame is None:
        ids, name = GOVERNANCE_FRAME, "the frame governance-v1"
    elif isinstance(frame, Mapping):
        ids, name = dict(frame), "the frame"
    else:
        ids, name = read_frame(frame), f"the frame {frame}"
    try:
        lines = Path(codebook.path).read_text(encoding="utf-8-sig").splitlines()
    except OSError:
        lines = []
    codes_line = next((i for i, x in enumerate(lines, 1) if re.match(r"^codes\s*:", x)), 1)

    def label_line(cid: str) -> int | None:
        start = codebook.codes[cid].line
        for i in range(start, len(lines) + 1):
            if i > start and re.match(r"^\s*-\s*id\s*:", lines[i - 1]):
                break
            if re.match(r"^\s*(-\s*)?label\s*:", lines[i - 1]):
                return i
        return None

    _check_frame(codebook.codes, ids, name, codebook.path, codes_line, label_line)


def _check_frame(codes: Mapping[str, Code], frame: Mapping[str, str], name: str, path: str,
                 codes_line: int, label_line: Any) -> None:
    missing = [cid for cid in frame if cid not in codes]
    if missing:
        group = missing[0].split(".")[0]
        line = codes[group].line if group in codes else codes_line
        raise CasecoderError("CC307", path=path, line=line, missing=", ".join(missing))
    for cid, label in frame.items():
        code = codes[cid]
        if code.label != label:
            raise CasecoderError(
                "CC308", path=path, line=label_line(cid) or code.line,
                problem=f"code {cid!r} is labelled {code.label!r}, but {name} labels it "
                f"{label!r}",
                expected=f"the frame's label {label!r} unchanged (a frame fixes its ids "
                "and labels; put another name in gloss, or add a sub-code)")


# -- hierarchy helpers -----------------------------------------------------------------------

def descendants(cb: Codebook, code_id: str) -> set[str]:
    """Every sub-code of ``code_id`` at any depth (not the code itself).

    A unit is coded ``code_id`` when the code itself or any of these fires.

    Raises
    ------
    KeyError
        When ``code_id`` is not a code of ``cb``.
    """
    if code_id not in cb.codes:
        raise KeyError(f"code {code_id!r} is not in codebook {cb.name!r}")
    kids: dict[str, list[str]] = {}
    for c in cb.codes.values():
        if c.parent is not None:
            kids.setdefault(c.parent, []).append(c.id)
    out: set[str] = set()
    todo = list(kids.get(code_id, []))
    while todo:
        cid = todo.pop()
        if cid not in out:
            out.add(cid)
            todo.extend(kids.get(cid, []))
    return out


def frame_root(code_id: str, frame_ids: Iterable[str] = FRAME_IDS) -> str:
    """The frame id a code rolls up to: its longest dotted prefix that is a frame id.

    ``mech.digital.lightweight`` → ``mech.digital``; ``out.safety`` → ``out``;
    ``mech`` → ``mech``. An id with no frame prefix is its own root.
    """
    ids = set(frame_ids)
    parts = code_id.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in ids:
            return prefix
    return code_id


def ancestors(cb: Codebook, code_id: str) -> list[str]:
    """The parent chain of ``code_id``, nearest first."""
    out: list[str] = []
    cur = cb.codes[code_id].parent
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cb.codes[cur].parent if cur in cb.codes else None
    return out


# -- describing a codebook -------------------------------------------------------------------

def codebook_stats(cb: Codebook) -> dict[str, Any]:
    """Counts that describe a codebook (for ``casecoder codebook show``).

    Returns a dict with ``name``, ``title``, ``version``, ``sha256``, ``codes``, ``manual``,
    ``by_layer`` and ``by_group`` (codes per layer and per top-level code), ``terms``
    (keywords + synonyms + negative keywords), the counts of each rule kind, ``examples``,
    ``counter_examples`` and ``depth`` (levels of the hierarchy; a flat codebook has 1).
    """
    by_layer: dict[str, int] = {}
    by_group: dict[str, int] = {}
    counts = dict.fromkeys(("keywords", "synonyms", "negative_keywords", "patterns",
                            "token_patterns", "exclusions", "proximity", "examples",
                            "counter_examples"), 0)
    depth = 0
    for c in cb.codes.values():
        by_layer[c.layer] = by_layer.get(c.layer, 0) + 1
        chain = ancestors(cb, c.id)
        top = chain[-1] if chain else c.id
        by_group[top] = by_group.get(top, 0) + 1
        depth = max(depth, len(chain) + 1)
        r = c.rules
        for key in ("keywords", "synonyms", "negative_keywords", "patterns", "token_patterns",
                    "exclusions", "proximity"):
            counts[key] += len(getattr(r, key))
        counts["examples"] += len(c.examples)
        counts["counter_examples"] += len(c.counter_examples)
    return {
        "name": cb.name,
        "title": cb.title,
        "version": cb.version,
        "sha256": cb.sha256,
        "codes": len(cb.codes),
        "manual": sum(c.manual for c in cb.codes.values()),
        "by_layer": dict(sorted(by_layer.items())),
        "by_group": by_group,
        "terms": counts["keywords"] + counts["synonyms"] + counts["negative_keywords"],
        **counts,
        "depth": depth,
    }


def render_tree(cb: Codebook) -> str:
    """The code hierarchy as indented text: ``id  label  [layer]``, siblings in file order."""
    kids: dict[str | None, list[Code]] = {}
    for c in cb.codes.values():
        kids.setdefault(c.parent, []).append(c)
    head = cb.title or cb.name
    version = f" v{cb.version}" if cb.version else ""
    lines = [f"{cb.name}{version}: {head} ({len(cb.codes)} codes)"]

    def walk(code: Code, depth: int) -> None:
        tags = [code.layer] + (["manual"] if code.manual else [])
        lines.append(f"{'  ' * depth}{code.id}  {code.label}  [{', '.join(tags)}]")
        for child in kids.get(code.id, []):
            walk(child, depth + 1)

    for root in kids.get(None, []):
        walk(root, 1)
    return "\n".join(lines) + "\n"
