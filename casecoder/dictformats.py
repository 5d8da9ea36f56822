"""Other dictionary formats: quanteda YAML and LIWC ``.dic``, to and from codebooks.

A casecoder codebook says more than a content-analysis dictionary can: regular
expressions, exclusions, proximity rules, negation handling and speaker scopes have no
counterpart in either format. Export therefore keeps what the format can hold (the
hierarchy and the literal terms) and returns one warning for every rule it leaves out,
naming the code. Import builds a :class:`~casecoder.models.Codebook` that
:func:`write_codebook_yaml` writes as a casecoder YAML codebook, which
:func:`casecoder.codebook.load_codebook` reads back. ``docs/dictionaries.md`` gives the
mappings in full; in short:

* **quanteda** (``.yml``/``.yaml``, the format of quanteda's ``dictionary(file=)`` and
  ``as.yaml()``): nested keys are categories, leaf lists are entries with glob wildcards
  (``*`` any run of characters, ``?`` one character). A child key is the last part of
  the child's id (``mech: {digital: [...]}`` for ``mech.digital``); the terms of a
  category that also has sub-categories go under the key ``__``, as ``as.yaml()``
  writes them.
* **LIWC** (``.dic``): a header between two ``%`` lines numbers the categories, then
  one ``word<TAB>n n`` line per word; a trailing ``*`` is the only wildcard. LIWC is
  flat: category names are code ids and a parent is restored on import from the
  longest dotted prefix that is itself a category.

Every output is written atomically (:mod:`casecoder.fileio`) and is deterministic:
categories and entries are sorted.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from casecoder.errors import CasecoderError
from casecoder.fileio import write_text
from casecoder.models import Code, Codebook, CodeRules

QUANTEDA = "quanteda"
LIWC = "liwc"
FORMATS: tuple[str, ...] = (QUANTEDA, LIWC)
#: Import suffixes and the format each names.
SUFFIX_FORMATS: dict[str, str] = {".yml": QUANTEDA, ".yaml": QUANTEDA, ".dic": LIWC}
#: The quanteda key that holds the terms of a category that also has sub-categories.
OWN_TERMS_KEY = "__"
#: Layers given to imported codes by the first part of their id; others keep the default.
LAYER_BY_PREFIX: dict[str, str] = {"mech": "mechanism", "prob": "problem", "ctx": "context",
                                   "out": "outcome"}

_ID = re.compile(r"^[^\s.]+(\.[^\s.]+)*$")
_REGEX_SPECIAL = set(".^$*+?{}[]|()")
_WORD = r"\w"


# -- public entry points ---------------------------------------------------------------------

def export_dictionary(codebook: Codebook, path: str | os.PathLike[str], fmt: str) -> list[str]:
    """Write ``codebook`` as a dictionary in format ``fmt``.

    Parameters
    ----------
    codebook : Codebook
        The codebook to export.
    path : str or path-like
        The dictionary file to write.
    fmt : {"quanteda", "liwc"}
        The dictionary format.

    Returns
    -------
    list of str
        One warning per rule the format cannot express (see :func:`export_quanteda`).

    Raises
    ------
    CasecoderError
        CC501 for an unknown format; CC007 when the file cannot be written.
    """
    if fmt == QUANTEDA:
        return export_quanteda(codebook, path)
    if fmt == LIWC:
        return export_liwc(codebook, path)
    raise CasecoderError("CC501", fmt=fmt, what="dictionaries", known=", ".join(FORMATS))


def import_dictionary(path: str | os.PathLike[str]) -> Codebook:
    """Read a dictionary file, the format told by its suffix.

    ``.yml`` and ``.yaml`` are quanteda dictionaries (:func:`import_quanteda`), ``.dic``
    LIWC dictionaries (:func:`import_liwc`).

    Raises
    ------
    CasecoderError
        CC607 for any other suffix; CC608 when the file does not exist; CC605 when the
        dictionary is malformed (with its line).
    """
    fmt = SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise CasecoderError("CC607", path=str(path), suffix=Path(path).suffix,
                             what="a dictionary",
                             known=".yml or .yaml for quanteda, .dic for LIWC")
    return import_quanteda(path) if fmt == QUANTEDA else import_liwc(path)


def export_quanteda(codebook: Codebook, path: str | os.PathLike[str]) -> list[str]:
    """Write ``codebook`` as a quanteda YAML dictionary.

    Each code is a key, nested under its parent's key. A child whose id extends its
    parent's id by one part is keyed by that part (``digital`` under ``mech``); any other
    code is keyed by its full id. Entries are the code's keywords, synonyms and
    negative keywords, plus each regular expression that is a plain glob (literal
    characters with ``\\w``, ``\\w*`` or ``\\w+``, written ``?``, ``*`` and ``?*``),
    sorted. A code with sub-codes keeps its own entries under ``__``.

    Parameters
    ----------
    codebook : Codebook
        The codebook to export.
    path : str or path-like
        The ``.yml`` file to write (atomically).

    Returns
    -------
    list of str
        One warning per feature the format cannot express, naming the code: every
        regular expression that is not a glob, every exclusion, every proximity rule,
        the negation modes ``veto`` (grouped) and ``polarity``, speaker scopes, negative
        keywords (kept as plain entries), terms holding ``*`` or ``?``, parents that a
        child's id does not extend, and one note on labels and other text.
    """
    warnings = _Losses(codebook, "quanteda")
    entries = {cid: warnings.entries(code, _quanteda_glob) for cid, code in
               codebook.codes.items()}
    kids = _children(codebook)

    def key_of(code: Code) -> str:
        if code.parent is not None and _extends(code.id, code.parent):
            return code.id[len(code.parent) + 1:]
        return code.id

    def node(cid: str) -> Any:
        own = entries[cid]
        if not kids.get(cid):
            return own
        out: dict[str, Any] = {key_of(codebook.codes[k]): node(k) for k in kids[cid]}
        if own:
            out[OWN_TERMS_KEY] = own
        return out

    tree = {key_of(codebook.codes[cid]): node(cid) for cid in kids.get(None, [])}
    for cid in sorted(codebook.codes):
        code = codebook.codes[cid]
        if code.parent is not None and not _extends(cid, code.parent) and "." not in cid:
            warnings.add(cid, f"its id does not extend its parent's id {code.parent!r}, so "
                         f"it is keyed {cid!r} under {code.parent!r} and imports back as "
                         f"{code.parent + '.' + cid!r}")
    header = (f"# quanteda dictionary exported by casecoder from codebook {codebook.name!r}"
              f" (sha256 {codebook.sha256[:12]}).\n"
              "# Read it in R with quanteda::dictionary(file = <this file>).\n")
    text = header + yaml.dump(tree, Dumper=_BlockDumper, allow_unicode=True, sort_keys=True,
                              default_flow_style=False, width=1000)
    write_text(path, text)
    return warnings.finish()


def export_liwc(codebook: Codebook, path: str | os.PathLike[str]) -> list[str]:
    """Write ``codebook`` as a LIWC ``.dic`` dictionary.

    Categories are numbered 1, 2, ... in sorted id order and named by code id; a parent
    is implied by the dotted id (LIWC has no hierarchy). Each word line lists the
    numbers of every category that holds the word. Words are the code's keywords,
    synonyms and negative keywords, plus each regular expression of the form
    ``literal`` or ``literal\\w*`` (written ``literal*``), sorted.

    Parameters
    ----------
    codebook : Codebook
        The codebook to export.
    path : str or path-like
        The ``.dic`` file to write (atomically).

    Returns
    -------
    list of str
        One warning per feature the format cannot express, as for
        :func:`export_quanteda`; also parents that are not the dotted prefix of a child's
        id, and terms LIWC cannot hold (ending in ``*``, or holding a tab or line end).
    """
    warnings = _Losses(codebook, "LIWC")
    ids = sorted(codebook.codes)
    number = {cid: n for n, cid in enumerate(ids, start=1)}
    words: dict[str, set[int]] = {}
    for cid in ids:
        code = codebook.codes[cid]
        for term in warnings.entries(code, _liwc_word):
            words.setdefault(term, set()).add(number[cid])
        restored = _dotted_parent(cid, set(ids))
        if code.parent != restored:
            warnings.add(cid, f"its parent {code.parent!r} is not the longest dotted prefix of "
                         f"its id that is a code, so the import restores parent {restored!r}")
    lines = ["%"]
    lines += [f"{number[cid]}\t{cid}" for cid in ids]
    lines.append("%")
    lines += [word + "\t" + "\t".join(str(n) for n in sorted(cats))
              for word, cats in sorted(words.items())]
    write_text(path, "\n".join(lines) + "\n")
    return warnings.finish()


def import_quanteda(path: str | os.PathLike[str]) -> Codebook:
    """Read a quanteda YAML dictionary as a codebook.

    Every key becomes a code whose parent is the enclosing key. A nested key ``k``
    under code ``p`` gets the id ``p.k``; a key that holds a dot is taken as a full id.
    The label is the key. Entries become rules: an entry without wildcards is a
    keyword; ``*`` at either end is dropped (a casecoder keyword already matches
    inside longer words), so ``调解*`` is the keyword ``调解``; an entry with a ``?`` or an
    inner ``*`` becomes a regular expression (``?`` → ``\\w``, ``*`` → ``\\w*?``). Entries
    under ``__`` belong to the enclosing key. A category without entries or sub-keys is
    marked ``manual``. The layer follows the first part of the id (``mech`` mechanism,
    ``prob`` problem, ``ctx`` context, ``out`` outcome); other codes keep the default.

    Parameters
    ----------
    path : str or path-like
        The ``.yml``/``.yaml`` file.

    Returns
    -------
    Codebook
        Named after the file stem; ``sha256`` is the hash of the file's bytes.

    Raises
    ------
    CasecoderError
        CC608 when the file does not exist; CC605 with the file and line when it is
        not UTF-8, not valid YAML, not a mapping of categories, has a key that is not a
        valid code id, repeats a key or an id, or has an entry that is empty, is a
        mapping, or matches everything (``*``).
    """
    p, data = _read(path)
    text = _decode(p, data)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or str(exc)
        if exc.context:
            where = exc.context_mark
            at = f" at line {where.line + 1}" if where is not None and where is not mark \
                else ""
            reason = f"{exc.context}{at}: {reason}"
        raise CasecoderError("CC605", path=str(path), line=line,
                             reason=f"not valid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise CasecoderError("CC605", path=str(path), line=1,
                             reason=f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    builder = _Builder(str(path))
    if root is None or (isinstance(root, ScalarNode) and root.tag.endswith(":null")):
        raise builder.fail(1, "the file holds no categories")
    if not isinstance(root, MappingNode):
        raise builder.fail(_line(root), "the top level is not a mapping of category names "
                           "to entries, such as `mech: [引导, 宣讲]`")
    builder.walk_quanteda(root, None)
    return builder.codebook(p, data)


def import_liwc(path: str | os.PathLike[str]) -> Codebook:
    """Read a LIWC ``.dic`` dictionary as a codebook.

    The header between the first two lines holding only ``%`` maps category numbers to
    names (``1<TAB>mech``); every later line is a word, a tab and the numbers of its
    categories (tabs or spaces between numbers). Category names are code ids; each code's
    parent is the longest dotted prefix of its id that is also a category
    (``mech.digital`` under ``mech``). A trailing ``*`` is dropped (``调解*`` is the keyword
    ``调解``: a casecoder keyword already matches inside longer words); any other
    character is literal. Codes are in header order; a category with no words is
    marked ``manual``. Layers follow the id as for :func:`import_quanteda`.

    Parameters
    ----------
    path : str or path-like
        The ``.dic`` file.

    Returns
    -------
    Codebook

    Raises
    ------
    CasecoderError
        CC608 when the file does not exist; CC605 with the file and line when it is not
        UTF-8, the header does not open with ``%`` or is never closed, a header line is
        not a number and a name, a number or name repeats, a name is not a valid code id,
        or a word line has no category, a category that is not a number, or a number the
        header does not define.
    """
    p, data = _read(path)
    text = _decode(p, data)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    builder = _Builder(str(path))
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines):
        raise builder.fail(1, "the file is empty; expected a category header between two "
                           "lines holding only %")
    if lines[i].strip() != "%":
        raise builder.fail(i + 1, f"the file opens with {lines[i].strip()!r}; expected a line "
                           "holding only % to open the category header")
    opened = i + 1
    close = next((n for n in range(opened, len(lines)) if lines[n].strip() == "%"), None)
    if close is None:
        raise builder.fail(opened, f"the category header opened at line {opened} is never "
                           "closed by a line holding only %")
    names: dict[int, str] = {}
    name_lines: dict[str, int] = {}
    for i in range(opened + 1, close + 1):  # i: the 1-based number of the line
        raw = lines[i - 1].strip()
        if not raw:
            continue
        m = re.match(r"^(\d+)\s+(\S.*)$", raw)
        if m is None:
            raise builder.fail(i, f"the header line {raw!r} is not a category number and a "
                               "name, such as `1<TAB>mech`")
        num, name = int(m.group(1)), m.group(2).strip()
        if num in names:
            raise builder.fail(i, f"category number {num} is defined twice (also "
                               f"{names[num]!r})")
        if not _ID.match(name):
            raise builder.fail(i, f"category name {name!r} is not a valid code id (dot-"
                               "separated parts without spaces, such as mech.digital); "
                               "rename it")
        if name in name_lines:
            raise builder.fail(i, f"category name {name!r} is defined twice (first at line "
                               f"{name_lines[name]})")
        names[num] = name
        name_lines[name] = i
    if not names:
        raise builder.fail(opened, "the category header defines no categories")
    ids = set(names.values())
    for name in names.values():
        builder.add_code(name, name, _dotted_parent(name, ids), name_lines[name])
    defined = _ranges(sorted(names))
    for n in range(close + 1, len(lines)):
        raw = lines[n].strip()
        if not raw:
            continue
        line = n + 1
        if "\t" in raw:
            word, _, rest = raw.partition("\t")
            word, cats = word.strip(), rest.split()
        else:
            m = re.match(r"^(.*?)((?:\s+\d+)+)$", raw)
            word, cats = (m.group(1).strip(), m.group(2).split()) if m else (raw, [])
        if not word:
            raise builder.fail(line, f"the line {raw!r} has no word before its category "
                               "numbers")
        if not cats:
            raise builder.fail(line, f"the word {word!r} has no category numbers; expected "
                               "`word<TAB>1 2`")
        for cat in cats:
            if not (cat.isascii() and cat.isdigit()):
                raise builder.fail(line, f"the word {word!r} has the category {cat!r}, which "
                                   "is not a number")
            if int(cat) not in names:
                raise builder.fail(line, f"the word {word!r} refers to category {int(cat)}, "
                                   f"which the header does not define (defined: {defined})")
        literal = word.rstrip("*")
        if not literal.strip():
            raise builder.fail(line, f"the entry {word!r} would match every word")
        for cat in dict.fromkeys(int(c) for c in cats):
            builder.add_rule(names[cat], "keyword", literal)
    return builder.codebook(p, data)


# -- the casecoder YAML codebook ----------------------------------------------------------------

def render_codebook_yaml(codebook: Codebook, description: str | None = None) -> str:
    """The text of a casecoder YAML codebook holding ``codebook`` (see docs/codebook.md).

    Codes keep their order; empty fields and defaults (``negation: veto``) are left out.
    """
    doc: dict[str, Any] = {}
    if _ID.match(codebook.name):
        doc["codebook"] = codebook.name
    if codebook.title:
        doc["title"] = codebook.title
    if codebook.version:
        doc["version"] = codebook.version
    if description:
        doc["description"] = description
    if codebook.defaults:
        doc["defaults"] = codebook.defaults
    doc["codes"] = [_code_dict(c) for c in codebook.codes.values()]
    return yaml.dump(doc, Dumper=_CodebookDumper, allow_unicode=True, sort_keys=False,
                     width=100)


def write_codebook_yaml(codebook: Codebook, path: str | os.PathLike[str],
                        description: str | None = None) -> None:
    """Write ``codebook`` as a casecoder YAML codebook, atomically.

    :func:`casecoder.codebook.load_codebook` reads the file back to the same codes
    (line numbers, path and hash aside).

    Parameters
    ----------
    codebook : Codebook
        The codebook to write.
    path : str or path-like
        The ``.yaml`` file to write.
    description : str, default=None
        Text for the file's ``description`` field (such as where an import came from).
    """
    write_text(path, render_codebook_yaml(codebook, description))


def _code_dict(code: Code) -> dict[str, Any]:
    out: dict[str, Any] = {"id": code.id, "label": code.label}
    for key in ("gloss", "definition", "include", "exclude"):
        if getattr(code, key):
            out[key] = getattr(code, key)
    if code.parent is not None:
        out["parent"] = code.parent
    out["layer"] = code.layer
    if code.theory:
        out["theory"] = list(code.theory)
    rules = _rules_dict(code.rules)
    if rules:
        out["rules"] = rules
    for key in ("examples", "counter_examples", "see_also"):
        if getattr(code, key):
            out[key] = list(getattr(code, key))
    if code.manual:
        out["manual"] = True
    return out


def _rules_dict(r: CodeRules) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("keywords", "synonyms", "negative_keywords", "patterns", "exclusions"):
        if getattr(r, key):
            out[key] = list(getattr(r, key))
    if r.proximity:
        out["proximity"] = [{k: rule[k] for k in ("a", "b", "within", "unit") if k in rule}
                            for rule in r.proximity]
    if r.token_patterns:
        out["token_patterns"] = [[dict(token) for token in pattern]
                                 for pattern in r.token_patterns]
    if r.negation != "veto":
        out["negation"] = r.negation
    if r.speakers is not None:
        out["speakers"] = list(r.speakers)
    return out


class _CodebookDumper(yaml.SafeDumper):
    """Block mappings, flow lists of scalars, literal blocks for multi-line text."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> Node:
    flow = all(isinstance(x, str | int | float | bool) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_CodebookDumper.add_representer(list, _represent_list)
_CodebookDumper.add_representer(str, _represent_str)


class _BlockDumper(yaml.SafeDumper):
    """Block style throughout, with lists indented under their key (as quanteda writes)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


# -- what a format loses -------------------------------------------------------------------------

class _Losses:
    """Collects the entries of each code and a warning for everything left out."""

    def __init__(self, codebook: Codebook, fmt: str) -> None:
        self.codebook = codebook
        self.fmt = fmt
        self.items: list[tuple[str, str]] = []
        self.veto: list[str] = []

    def add(self, cid: str, message: str) -> None:
        self.items.append((cid, message))

    def entries(self, code: Code, convert: Any) -> list[str]:
        """The sorted entries of ``code``; records a warning for each rule left out."""
        r = code.rules
        cid = code.id
        out: set[str] = set()
        for term in [*r.keywords, *r.synonyms, *r.negative_keywords]:
            entry, problem = convert(term, literal=True)
            if entry is None:
                self.add(cid, f"term {term!r} {problem}; left out")
            else:
                if problem:
                    self.add(cid, f"term {term!r} {problem}")
                out.add(entry)
        for pattern in r.patterns:
            entry, _ = convert(pattern, literal=False)
            if entry is None:
                self.add(cid, f"regular expression {pattern!r} cannot be expressed in "
                         f"{self.fmt}; left out")
            else:
                out.add(entry)
        if r.negative_keywords:
            self.add(cid, "negative keywords " + ", ".join(repr(t) for t in r.negative_keywords)
                     + " are written as plain entries; an import reads them as keywords")
        for ex in r.exclusions:
            self.add(cid, f"exclusion {ex!r} cannot be expressed in {self.fmt}; the units it "
                     "would veto are counted")
        for rule in r.proximity:
            self.add(cid, f"proximity rule {_proximity_text(rule)} cannot be expressed in "
                     f"{self.fmt}; left out")
        if out:
            if r.negation == "polarity":
                self.add(cid, f"negation mode 'polarity' cannot be expressed in {self.fmt}; "
                         "negated matches count as positive")
            elif r.negation == "veto":
                self.veto.append(cid)
        if r.speakers is not None:
            self.add(cid, "speaker scope " + (", ".join(r.speakers) or "(none)")
                     + f" cannot be expressed in {self.fmt}; every speaker's text counts")
        return sorted(out)

    def finish(self) -> list[str]:
        out = [f"{cid}: {msg}" for cid, msg in sorted(self.items, key=lambda x: x[0])]
        if self.veto:
            out.append(f"{', '.join(sorted(self.veto))}: negation mode 'veto' cannot be "
                       f"expressed in {self.fmt}; negated matches are counted")
        defaults = self.codebook.defaults
        if defaults.get("speaker_scope") is not None:
            out.append("defaults: speaker scope " + ", ".join(defaults["speaker_scope"])
                       + f" cannot be expressed in {self.fmt}; every speaker's text counts")
        neg = defaults.get("negation") or {}
        if neg.get("cues") or neg.get("exceptions"):
            out.append(f"defaults: negation cues and exceptions cannot be expressed in "
                       f"{self.fmt}")
        out.append(f"labels, definitions, examples and the keyword/synonym distinction are "
                   f"not part of the {self.fmt} format and are left out")
        return out


def _proximity_text(rule: dict[str, Any]) -> str:
    return (f"[{', '.join(rule.get('a', []))}] within {rule.get('within', 10)} "
            f"{rule.get('unit', 'char')} of [{', '.join(rule.get('b', []))}]")


def _quanteda_glob(value: str, literal: bool) -> tuple[str | None, str]:
    if literal:
        if "*" in value or "?" in value:
            return value, "holds a glob wildcard (* or ?), which quanteda reads as a wildcard"
        return value, ""
    glob = regex_to_glob(value)
    return glob, ""


def _liwc_word(value: str, literal: bool) -> tuple[str | None, str]:
    if literal:
        if "\t" in value or "\n" in value or "\r" in value:
            return None, "holds a tab or line end, which a LIWC word line cannot"
        if value.strip() == "%":
            return None, "is %, which LIWC reads as a header line"
        if value.endswith("*"):
            return value, "ends in *, which LIWC reads as a wildcard"
        return value, ""
    glob = regex_to_glob(value)
    if glob is None or "?" in glob or "*" in glob.rstrip("*") or glob.strip() in ("", "%"):
        return None, ""
    if "\t" in glob or "\n" in glob:
        return None, ""
    return glob, ""


# -- glob and regex -------------------------------------------------------------------------------

def regex_to_glob(pattern: str) -> str | None:
    """The glob equivalent of a regular expression, or ``None`` when there is none.

    Only literal characters (escaped or not), ``\\w`` (written ``?``), ``\\w*`` and
    ``\\w*?`` (``*``) and ``\\w+`` and ``\\w+?`` (``?*``) convert; a literal ``*`` or ``?``,
    any other class, anchor, group, alternation or quantifier does not.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return None
            d = pattern[i + 1]
            i += 2
            if d == "w":
                quant = ""
                if i < n and pattern[i] in "*+":
                    quant = pattern[i]
                    i += 1
                    if i < n and pattern[i] == "?":
                        i += 1
                out.append({"": "?", "*": "*", "+": "?*"}[quant])
                continue
            if d.isalnum() or d == "_":
                return None
            lit = d
        elif c in _REGEX_SPECIAL:
            return None
        else:
            lit = c
            i += 1
        if lit in "*?":
            return None
        out.append(lit)
    glob = "".join(out)
    return glob or None


def glob_rule(entry: str) -> tuple[str, str]:
    """The casecoder rule for a quanteda glob entry: ``("keyword", term)`` or
    ``("pattern", regex)``.

    ``*`` at either end is dropped (casecoder keywords match inside longer words); an
    entry left with no wildcard is a keyword, otherwise a regular expression with
    ``?`` → ``\\w`` and ``*`` → ``\\w*?``.

    Raises
    ------
    ValueError
        When nothing but ``*`` is left (the entry would match everything).
    """
    core = entry.strip("*")
    if not core.strip():
        raise ValueError(f"the entry {entry!r} would match every word")
    if "*" not in core and "?" not in core:
        return "keyword", core
    parts = []
    for ch in core:
        if ch == "?":
            parts.append(_WORD)
        elif ch == "*":
            parts.append(_WORD + "*?")
        else:
            parts.append(re.escape(ch))
    return "pattern", "".join(parts)


# -- import helpers --------------------------------------------------------------------------------

@dataclass
class _Builder:
    """Builds the codes of an imported dictionary, failing with CC605 and a line."""

    path: str
    codes: dict[str, Code] = field(default_factory=dict)

    def fail(self, line: int, reason: str) -> CasecoderError:
        return CasecoderError("CC605", path=self.path, line=line, reason=reason)

    def add_code(self, cid: str, label: str, parent: str | None, line: int) -> Code:
        code = Code(id=cid, label=label, parent=parent, line=line)
        prefix = cid.split(".", 1)[0]
        if prefix in LAYER_BY_PREFIX:
            code.layer = LAYER_BY_PREFIX[prefix]
        self.codes[cid] = code
        return code

    def add_rule(self, cid: str, kind: str, value: str) -> None:
        rules = self.codes[cid].rules
        target = rules.keywords if kind == "keyword" else rules.patterns
        if value not in target:
            target.append(value)

    def walk_quanteda(self, node: MappingNode, parent: str | None) -> None:
        seen: dict[str, int] = {}
        for key_node, value in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.fail(_line(key_node), "a category name is a list or mapping; "
                                "expected a name such as mech")
            key = str(key_node.value).strip()
            line = _line(key_node)
            if key in seen:
                raise self.fail(line, f"the key {key!r} appears twice here (first at line "
                                f"{seen[key]})")
            seen[key] = line
            if key == OWN_TERMS_KEY:
                if parent is None:
                    raise self.fail(line, f"`{OWN_TERMS_KEY}` holds the terms of a category "
                                    "that has sub-categories, but here it is at the top level")
                self.entries(value, parent, allow_mapping=False)
                continue
            if not _ID.match(key):
                raise self.fail(line, f"the category name {key!r} is not a valid code id part "
                                "(no spaces; dots only between parts); rename it")
            cid = key if parent is None or "." in key else f"{parent}.{key}"
            if cid in self.codes:
                raise self.fail(line, f"the category {key!r} gives the code id {cid!r}, which "
                                f"is already defined at line {self.codes[cid].line}")
            self.add_code(cid, key, parent, line)
            self.entries(value, cid, allow_mapping=True)

    def entries(self, value: Node, cid: str, allow_mapping: bool) -> None:
        if isinstance(value, MappingNode):
            if not allow_mapping:
                raise self.fail(_line(value), f"`{OWN_TERMS_KEY}` of {cid!r} holds a mapping; "
                                "expected a list of entries")
            self.walk_quanteda(value, cid)
            return
        if isinstance(value, ScalarNode):
            if value.tag.endswith(":null"):
                return
            items: list[Node] = [value]
        else:
            items = list(value.value)
        for item in items:
            if not isinstance(item, ScalarNode):
                raise self.fail(_line(item), f"an entry of category {cid!r} is a list or "
                                "mapping; expected a term such as 调解 or 调解*")
            entry = str(item.value).strip()
            if not entry:
                raise self.fail(_line(item), f"an entry of category {cid!r} is empty")
            try:
                kind, rule = glob_rule(entry)
            except ValueError as exc:
                raise self.fail(_line(item), f"{exc} (category {cid!r})") from None
            self.add_rule(cid, kind, rule)

    def codebook(self, p: Path, data: bytes) -> Codebook:
        if not self.codes:
            raise self.fail(1, "the dictionary defines no categories")
        parents = {c.parent for c in self.codes.values() if c.parent is not None}
        for cid, code in self.codes.items():
            r = code.rules
            if r.keywords or r.patterns:
                continue
            if cid in parents:
                code.layer = "group"
            else:
                code.manual = True
        name = re.sub(r"[\s.]+", "_", p.stem).strip("_") or "dictionary"
        return Codebook(name=name, path=str(p), sha256=hashlib.sha256(data).hexdigest(),
                        codes=self.codes, title=p.name)


def _read(path: str | os.PathLike[str]) -> tuple[Path, bytes]:
    p = Path(path)
    if not p.is_file():
        raise CasecoderError("CC608", path=str(path))
    return p, p.read_bytes()


def _decode(p: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CasecoderError("CC605", path=str(p), line=line,
                             reason="the file is not UTF-8 text; save it as UTF-8") from None


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _extends(cid: str, parent: str) -> bool:
    """True when ``cid`` is ``parent`` plus one more dotted part."""
    return cid.startswith(parent + ".") and "." not in cid[len(parent) + 1:]


def _dotted_parent(cid: str, ids: Iterable[str]) -> str | None:
    known = set(ids)
    parts = cid.split(".")
    for n in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in known:
            return prefix
    return None


def _children(codebook: Codebook) -> dict[str | None, list[str]]:
    kids: dict[str | None, list[str]] = {}
    for cid in sorted(codebook.codes):
        parent = codebook.codes[cid].parent
        if parent is not None and parent not in codebook.codes:
            parent = None
        kids.setdefault(parent, []).append(cid)
    return kids


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` → ``"1-3, 5"``."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)
