"""Reading files into text: encoding detection, .docx, front matter.

What comes out is the source's raw text: decoded, with CRLF and CR turned into LF.
Offsets everywhere count code points of that LF text (as REFI-QDA does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from casecoder.errors import CasecoderError

SUFFIXES = (".txt", ".md", ".markdown", ".docx")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class ReadResult:
    """A file read into text."""

    text: str
    encoding: str
    newline: str
    front_matter: dict[str, Any] = field(default_factory=dict)
    front_lines: dict[str, int] = field(default_factory=dict)
    body_start: int = 0


def decode(data: bytes, path: str) -> tuple[str, str]:
    """Decode ``data``, returning ``(text, encoding)``.

    Tries, in order: a BOM (UTF-8, UTF-16 LE/BE), strict UTF-8, strict GB18030 accepted
    only when the result reads as Chinese text. Anything else is refused (CC103), and
    text with NUL or other control bytes is refused as binary (CC102).
    """
    if not data.strip():
        raise CasecoderError("CC101", path=path)
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            text, enc = data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise CasecoderError(
                "CC103", path=path,
                tried=f"UTF-8 (from its BOM; byte {exc.start + 3} is not valid UTF-8)",
            ) from exc
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, enc = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise CasecoderError("CC103", path=path, tried="UTF-16 (from its BOM)") from exc
        if _plain_share(text) < 0.9:
            raise CasecoderError(
                "CC103", path=path,
                tried="UTF-16 (from its BOM; decoded, but the result is not plausible text)",
            )
    else:
        if b"\x00" in data:
            raise CasecoderError("CC102", path=path, reason="it contains NUL bytes")
        try:
            text, enc = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, enc = data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError as exc:
                raise CasecoderError(
                    "CC103", path=path, tried="UTF-8, UTF-8 with BOM, UTF-16 with BOM, GB18030"
                ) from exc
            if not _reads_as_chinese(text):
                raise CasecoderError(
                    "CC103", path=path,
                    tried="UTF-8, UTF-8 with BOM, UTF-16 with BOM, GB18030 (decoded, but the "
                    "result is not plausible Chinese text)",
                ) from None
    controls = len(_CONTROL.findall(text))
    if controls and controls > max(2, len(text) // 1000):
        raise CasecoderError("CC102", path=path, reason=f"{controls} control characters")
    if not text.strip():
        raise CasecoderError("CC101", path=path)
    return text, enc


def _reads_as_chinese(text: str) -> bool:
    """True when GB18030-decoded text looks like Chinese prose.

    Most CJK characters must be in the common GB2312 set, and the text must be mostly
    CJK, ASCII and CJK punctuation. Mis-decoded bytes give rare characters and symbols.
    """
    cjk = _CJK.findall(text)
    if not cjk:
        return False
    common = 0
    for ch in cjk:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(cjk) >= 0.9 and _plain_share(text) >= 0.95


def _plain_share(text: str) -> float:
    """Share of characters that are ASCII, CJK ideographs or CJK/full-width punctuation."""
    plain = sum(1 for ch in text if ch.isascii() or "\u3000" <= ch <= "\u303f"
                or "\uff00" <= ch <= "\uffef" or "\u4e00" <= ch <= "\u9fff"
                or ch in "“”‘’…—·")
    return plain / max(1, len(text))


def normalise_newlines(text: str) -> tuple[str, str]:
    """Turn CRLF and CR into LF; return the text and the original style."""
    if "\r" not in text:
        return text, "LF"
    style = "CRLF" if "\r\n" in text else "CR"
    return text.replace("\r\n", "\n").replace("\r", "\n"), style


def read_docx(path: Path) -> str:
    """Text of a .docx: one line per paragraph, table cells as paragraphs, in order."""
    import zipfile
    import zlib

    try:
        import docx  # python-docx
        from docx.opc.exceptions import PackageNotFoundError

        document = docx.Document(str(path))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, KeyError,
            ValueError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, (zlib.error, EOFError)):  # a member's compressed data is broken
            reason = f"a part of the package is damaged ({reason})"
        raise CasecoderError("CC104", path=str(path), reason=reason) from exc
    except PackageNotFoundError as exc:
        raise CasecoderError("CC104", path=str(path), reason="not a Word package") from exc
    except Exception as exc:  # lxml errors inside a damaged package
        if type(exc).__module__.startswith(("lxml", "docx")):
            raise CasecoderError("CC104", path=str(path), reason=str(exc)) from exc
        raise
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, document).text)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                for cell in row.cells:
                    lines.extend(p.text for p in cell.paragraphs)
    return "\n".join(lines)


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader, keeping to what a source's JSON attributes can hold.

    Dates and datetimes become ISO 8601 strings; mapping keys are kept as written (text);
    binary data and sets are refused with the line where they stand.
    """

    def construct_yaml_timestamp(self, node: yaml.Node) -> str:
        return super().construct_yaml_timestamp(node).isoformat()

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        self.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConstructorError(None, None, "a key must be plain text, not a list or "
                                       "mapping", key_node.start_mark)
            out[key_node.value] = self.construct_object(value_node, deep=deep)
        return out

    def _refuse(self, node: yaml.Node) -> None:
        what = node.tag.rsplit(":", 1)[-1]
        raise ConstructorError(None, None, f"a value tagged !!{what} cannot be stored as a "
                               "source attribute; write it as plain text", node.start_mark)


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                   _FrontMatterLoader.construct_yaml_timestamp)
_FrontMatterLoader.add_constructor("tag:yaml.org,2002:binary", _FrontMatterLoader._refuse)
_FrontMatterLoader.add_constructor("tag:yaml.org,2002:set", _FrontMatterLoader._refuse)

_FM_OPEN = re.compile(r"\A---[ \t]*\n")
_FM_CLOSE = re.compile(r"^---[ \t]*$", re.M)


def split_front_matter(text: str, path: str) -> tuple[dict[str, Any], dict[str, int], int]:
    """Parse YAML front matter between leading ``---`` lines.

    Returns the mapping, the line number of each top-level key (1-based, in the file)
    and the offset where the body starts. No front matter gives ``({}, {}, 0)``.
    """
    if not _FM_OPEN.match(text):
        return {}, {}, 0
    first = text.index("\n") + 1
    close = _FM_CLOSE.search(text, first)
    if close is None:
        raise CasecoderError(
            "CC105", path=path, line=1,
            reason="the opening `---` has no closing `---` line",
        )
    block = text[first:close.start()]
    loader = _FrontMatterLoader(block)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = (mark.line + 2) if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CasecoderError("CC105", path=path, line=line, reason=problem) from exc
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CasecoderError(
            "CC105", path=path, line=2, reason="the front matter must be a mapping of keys"
        )
    lines: dict[str, int] = {}
    if node is not None and isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            lines[str(key.value)] = key.start_mark.line + 2
    body_start = close.end()
    if body_start < len(text) and text[body_start] == "\n":
        body_start += 1
    return data, lines, body_start


def read_file(path: Path) -> ReadResult:
    """Read ``path`` (.txt, .md, .docx) into its raw text with front matter parsed."""
    name = str(path)
    if not path.exists():
        raise CasecoderError("CC108", path=name)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CasecoderError("CC107", path=name, suffix=suffix or "(none)")
    if suffix == ".docx":
        text, encoding = read_docx(path), "docx"
        if not text.strip():
            raise CasecoderError("CC101", path=name)
    else:
        text, encoding = decode(path.read_bytes(), name)
    if text.startswith("\ufeff"):
        text = text[1:]
    text, newline = normalise_newlines(text)
    fm, fm_lines, body_start = split_front_matter(text, name)
    if not text[body_start:].strip():
        raise CasecoderError("CC101", path=name)
    return ReadResult(text=text, encoding=encoding, newline=newline, front_matter=fm,
                      front_lines=fm_lines, body_start=body_start)
