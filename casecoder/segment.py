"""Segmentation: paragraphs, headings and sentences as spans of the raw text.

Every span is half-open code-point offsets into the raw text; segmentation never
changes the text. Text extracted from PDFs (hard line breaks inside sentences, page
markers such as ``·９·``, footnote markers ``①``) is read through a *clean view*: a
copy with those characters left out and, for every kept character, its raw offset.
Sentences are found in the view and mapped back, so they still point into the raw text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

TERMINATORS = "。！？；!?;"
CLOSERS = "”’」』）)]】》\"'"
# A sentence ends at a run of terminators or an ellipsis, with the closing quotes and
# brackets that follow it; an ASCII full stop only when it is not inside a number.
_SENT_END = re.compile(
    r"(?:[。！？；!?;]+|…+|\.{3,}|(?<![0-9A-Za-z])\.(?![0-9]))[”’」』）)\]】》\"']*"
)
_SENT_END_NL = re.compile(
    r"(?:[。！？；!?;]+|…+|\.{3,}|(?<![0-9A-Za-z])\.(?![0-9]))[”’」』）)\]】》\"']*|\n"
)
_HEADING = re.compile(r"^#{1,6}[ \t]+\S")
_PAGE_MARK = re.compile(
    r"^[ \t]*(?:[·•．.\-—–]\s*[0-9０-９]{1,4}\s*[·•．.\-—–]|[0-9０-９]{1,4}"
    r"|第\s*[0-9０-９]+\s*页)[ \t]*$"
)
_FOOTNOTE = re.compile(r"[①-⑳㉑-㉟⑴-⒇]")
_WS = " \t\u3000\xa0"


@dataclass(frozen=True)
class Span:
    """A segment found in a text, before it is stored."""

    kind: str
    start: int
    end: int


class View:
    """A clean view of ``raw[start:end]``: the text to read and its raw offsets.

    For plain text the view is the raw slice itself and ``index`` is ``None``.
    """

    __slots__ = ("text", "index", "start")

    def __init__(self, text: str, start: int, index: list[int] | None) -> None:
        self.text = text
        self.start = start
        self.index = index

    def to_raw(self, i: int) -> int:
        """Raw offset of view position ``i`` (``i`` may equal ``len(text)``)."""
        if self.index is None:
            return self.start + i
        if i < len(self.index):
            return self.index[i]
        return self.index[-1] + 1 if self.index else self.start

    def raw_span(self, i: int, j: int) -> tuple[int, int]:
        """Raw half-open span covering view characters ``i..j-1``."""
        if self.index is None:
            return self.start + i, self.start + j
        return self.index[i], self.index[j - 1] + 1


def clean_view(raw: str, start: int, end: int, pdf: bool) -> View:
    """The view of ``raw[start:end]`` that the coder and the sentence splitter read.

    With ``pdf`` true, page-marker lines, footnote lines (a line opening with ``①``),
    footnote markers and line breaks that do not end a sentence are left out of the view
    (and a line break between two CJK
    characters leaves no space behind).
    """
    if not pdf:
        return View(raw[start:end], start, None)
    chars: list[str] = []
    index: list[int] = []
    pos = start
    for line in raw[start:end].split("\n"):
        line_end = pos + len(line)
        if _PAGE_MARK.match(line) or _FOOTNOTE.match(line.lstrip(_WS)[:1] or " "):
            pos = line_end + 1
            continue
        for k, ch in enumerate(line):
            if _FOOTNOTE.match(ch):
                continue
            chars.append(ch)
            index.append(pos + k)
        if line_end < end:
            # keep the line break only where the line ends a sentence or is blank-separated
            tail = line.rstrip(_WS)
            if tail and (tail[-1] in TERMINATORS or tail[-1] in CLOSERS and len(tail) > 1
                         and tail[-2] in TERMINATORS):
                chars.append("\n")
                index.append(line_end)
            elif tail and _HEADING_LIKE.match(tail):
                chars.append("\n")
                index.append(line_end)
        pos = line_end + 1
    return View("".join(chars), start, index)


_HEADING_LIKE = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|[0-9]+(?:\.[0-9]+)*\s|#)"
)


def looks_like_pdf_text(body: str) -> bool:
    """Guess whether ``body`` was extracted from a PDF (hard-wrapped lines).

    True when at least 8 lines of 20 or more characters, and at least 30% of them, end
    without sentence-final punctuation while the next non-blank line continues the text.
    """
    lines = body.split("\n")
    long_lines = 0
    wrapped = 0
    for i, line in enumerate(lines[:-1]):
        tail = line.rstrip(_WS)
        if len(tail) < 20:
            continue
        long_lines += 1
        nxt = next((x.strip() for x in lines[i + 1:i + 4] if x.strip()), "")
        if tail[-1] not in TERMINATORS + CLOSERS + "：:" and nxt and not _HEADING.match(nxt):
            wrapped += 1
    return wrapped >= 8 and wrapped >= 0.3 * long_lines


def _trim(text: str, i: int, j: int) -> tuple[int, int]:
    while i < j and (text[i] in _WS or text[i] == "\n"):
        i += 1
    while j > i and (text[j - 1] in _WS or text[j - 1] == "\n"):
        j -= 1
    return i, j


def _has_content(s: str) -> bool:
    return any(ch.isalnum() for ch in s)


def sentences(view: View, split_lines: bool = True) -> Iterator[tuple[int, int]]:
    """Raw spans of the sentences in ``view``.

    Splits after 。！？； (and ASCII ! ? ;), ellipses, an ASCII full stop outside
    numbers and, with ``split_lines``, at line ends. Closing quotes and brackets stay
    with their sentence. Pieces without a letter or digit are dropped.
    """
    text = view.text
    pattern = _SENT_END_NL if split_lines else _SENT_END
    pos = 0
    for m in pattern.finditer(text):
        i, j = _trim(text, pos, m.end() if m.group() != "\n" else m.start())
        pos = m.end()
        if j > i and _has_content(text[i:j]):
            yield view.raw_span(i, j)
    i, j = _trim(text, pos, len(text))
    if j > i and _has_content(text[i:j]):
        yield view.raw_span(i, j)


def blocks(raw: str, start: int, end: int, pdf: bool) -> Iterator[Span]:
    """Paragraph and heading spans of ``raw[start:end]``.

    A paragraph is a run of non-blank lines; a Markdown heading line (``## …``) is a
    heading. In PDF text a paragraph also ends at a line that ends a sentence, and page
    marker lines are skipped.
    """
    para_start: int | None = None
    para_end = start
    pos = start
    for line in raw[start:end].split("\n"):
        line_end = pos + len(line)
        stripped = line.strip(_WS)
        if not stripped or (pdf and _PAGE_MARK.match(line)):
            if pdf and stripped:
                pos = line_end + 1
                continue
            if para_start is not None and not pdf:
                yield Span("paragraph", para_start, para_end)
                para_start = None
        elif _HEADING.match(line):
            if para_start is not None:
                yield Span("paragraph", para_start, para_end)
                para_start = None
            a, b = _trim(raw, pos, line_end)
            yield Span("heading", a, b)
        else:
            a, b = _trim(raw, pos, line_end)
            if para_start is None:
                para_start = a
            para_end = b
            if pdf:
                tail = stripped[-1]
                if tail in TERMINATORS or (tail in CLOSERS and len(stripped) > 1
                                           and stripped[-2] in TERMINATORS):
                    yield Span("paragraph", para_start, para_end)
                    para_start = None
        pos = line_end + 1
    if para_start is not None:
        yield Span("paragraph", para_start, para_end)
