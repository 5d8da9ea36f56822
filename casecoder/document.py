"""Documents for people: one model, three renderers (Markdown, Word, HTML).

A document is a list of blocks (headings, paragraphs, bullet lists, tables, images).
Inline content mixes text with :class:`Cite` objects; a citation renders as a
numbered marker ``[n]`` and is listed under the sources heading. Every rendered
document gets a sidecar ``<document>.citations.jsonl``: one line per citation with
``source``, ``start_char``, ``end_char`` and ``quote`` (offsets into the source's
raw text, so ``raw[start_char:end_char] == quote``).

Output is deterministic: Word files get fixed document properties and fixed zip
timestamps; images are embedded (HTML as data URIs) from deterministic PNG bytes.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from casecoder.fileio import FIXED_TIME, stable_zip, write_bytes, write_text


@dataclass(frozen=True)
class Cite:
    """A citation: a span of a stored source."""

    source: str
    start_char: int
    end_char: int
    quote: str
    case: str | None = None


Inline = Union[str, Cite]  # noqa: UP007


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    parts: list[Inline]


@dataclass
class Bullets:
    items: list[list[Inline]]


@dataclass
class Table:
    header: list[str]
    rows: list[list[list[Inline]]]


@dataclass
class Image:
    png: bytes
    alt: str
    name: str


@dataclass
class Document:
    """A document: title, language, blocks."""

    title: str
    lang: str = "zh"
    blocks: list[Heading | Para | Bullets | Table | Image] = field(default_factory=list)
    sources_heading: str = "来源与引文"

    def h(self, level: int, text: str) -> None:
        self.blocks.append(Heading(level, text))

    def p(self, *parts: Inline) -> None:
        self.blocks.append(Para(list(parts)))

    def ul(self, items: list[list[Inline]]) -> None:
        if items:
            self.blocks.append(Bullets(items))

    def table(self, header: list[str], rows: list[list[list[Inline] | str]]) -> None:
        if rows:
            self.blocks.append(Table(header, [[c if isinstance(c, list) else [c] for c in r]
                                              for r in rows]))

    def image(self, png: bytes, alt: str, name: str) -> None:
        self.blocks.append(Image(png, alt, name))

    def citations(self) -> list[Cite]:
        """Citations in order of first appearance, each once."""
        seen: dict[tuple[str, int, int], Cite] = {}
        for inline in self._inlines():
            if isinstance(inline, Cite):
                seen.setdefault((inline.source, inline.start_char, inline.end_char), inline)
        return list(seen.values())

    def _inlines(self) -> list[Inline]:
        out: list[Inline] = []
        for b in self.blocks:
            if isinstance(b, Para):
                out += b.parts
            elif isinstance(b, Bullets):
                for item in b.items:
                    out += item
            elif isinstance(b, Table):
                for row in b.rows:
                    for cell in row:
                        out += cell
        return out


class _Numbers:
    def __init__(self, doc: Document) -> None:
        self.cites = doc.citations()
        self.index = {(c.source, c.start_char, c.end_char): n + 1
                      for n, c in enumerate(self.cites)}

    def of(self, c: Cite) -> int:
        return self.index[(c.source, c.start_char, c.end_char)]


def _short(q: str, n: int = 60) -> str:
    q = " ".join(q.split())
    return q if len(q) <= n else q[:n] + "…"


# -- Markdown ----------------------------------------------------------------------------

def to_markdown(doc: Document, image_dir: str | None = None) -> str:
    nums = _Numbers(doc)

    def inl(parts: list[Inline]) -> str:
        return "".join(f"[{nums.of(p)}]" if isinstance(p, Cite) else p for p in parts)

    out = [f"# {doc.title}", ""]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["#" * (b.level + 1) + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [inl(b.parts), ""]
        elif isinstance(b, Bullets):
            out += [f"- {inl(item)}" for item in b.items] + [""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            for row in b.rows:
                out.append("| " + " | ".join(inl(c).replace("|", "\\|").replace("\n", " ")
                                             for c in row) + " |")
            out.append("")
        elif isinstance(b, Image):
            src = f"{image_dir}/{b.name}" if image_dir else b.name
            out += [f"![{b.alt}]({src})", ""]
    if nums.cites:
        out += [f"## {doc.sources_heading}", ""]
        for n, c in enumerate(nums.cites, 1):
            out.append(f"{n}. {c.case or '-'} · {c.source} · {c.start_char}–{c.end_char} · "
                       f"“{_short(c.quote, 120)}”")
        out.append("")
    return "\n".join(out)


# -- HTML -----------------------------------------------------------------------------------

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","Microsoft YaHei",
sans-serif;max-width:960px;margin:2em auto;padding:0 1em;line-height:1.7;color:#222}
h1{font-size:1.7em;border-bottom:2px solid #456}h2{font-size:1.3em;margin-top:1.6em;
color:#234}h3{font-size:1.1em}table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border:1px solid #bbb;padding:.3em .6em;vertical-align:top}th{background:#eef2f6}
sup a{text-decoration:none;color:#2a5d8f}ol.cites{font-size:.85em;color:#444}
img{max-width:100%}
"""


def to_html(doc: Document) -> str:
    nums = _Numbers(doc)

    def inl(parts: list[Inline]) -> str:
        out = []
        for p in parts:
            if isinstance(p, Cite):
                n = nums.of(p)
                out.append(f'<sup><a href="#c{n}" title="{html.escape(_short(p.quote))}">[{n}]'
                           f"</a></sup>")
            else:
                out.append(html.escape(p))
        return "".join(out)

    body = [f"<h1>{html.escape(doc.title)}</h1>"]
    for b in doc.blocks:
        if isinstance(b, Heading):
            lvl = min(6, b.level + 1)
            body.append(f"<h{lvl}>{html.escape(b.text)}</h{lvl}>")
        elif isinstance(b, Para):
            body.append(f"<p>{inl(b.parts)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{inl(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{inl(c)}</td>" for c in r) + "</tr>"
                           for r in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(b.alt)}" '
                        f'src="data:image/png;base64,{data}"/><figcaption>'
                        f"{html.escape(b.alt)}</figcaption></figure>")
    if nums.cites:
        body.append(f"<h2>{html.escape(doc.sources_heading)}</h2><ol class=\"cites\">")
        for n, c in enumerate(nums.cites, 1):
            body.append(f'<li id="c{n}">{html.escape(c.case or "-")} · {html.escape(c.source)} · '
                        f"{c.start_char}–{c.end_char} · “{html.escape(c.quote)}”</li>")
        body.append("</ol>")
    lang = "zh-CN" if doc.lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


# -- Word -------------------------------------------------------------------------------------

def to_docx(doc: Document) -> bytes:
    """A .docx with fixed properties and zip timestamps (byte-identical for equal input)."""
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Pt

    nums = _Numbers(doc)
    d = docx.Document()
    style = d.styles["Normal"]
    style.font.name = "Noto Sans CJK SC"
    style.font.size = Pt(10.5)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK SC")
    props = d.core_properties
    props.author = "casecoder"
    props.last_modified_by = "casecoder"
    props.title = doc.title
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.last_printed = FIXED_TIME
    props.revision = 1
    props.language = "zh-CN" if doc.lang == "zh" else "en-US"

    def fill(par: object, parts: list[Inline]) -> None:
        for p in parts:
            if isinstance(p, Cite):
                run = par.add_run(f"[{nums.of(p)}]")  # type: ignore[attr-defined]
                run.font.superscript = True
            else:
                par.add_run(p)  # type: ignore[attr-defined]

    d.add_heading(doc.title, level=0)
    for b in doc.blocks:
        if isinstance(b, Heading):
            d.add_heading(b.text, level=min(9, b.level))
        elif isinstance(b, Para):
            fill(d.add_paragraph(), b.parts)
        elif isinstance(b, Bullets):
            for item in b.items:
                fill(d.add_paragraph(style="List Bullet"), item)
        elif isinstance(b, Table):
            t = d.add_table(rows=1, cols=len(b.header))
            t.style = "Table Grid"
            for i, h in enumerate(b.header):
                t.rows[0].cells[i].text = h
            for row in b.rows:
                cells = t.add_row().cells
                for i, c in enumerate(row):
                    fill(cells[i].paragraphs[0], c)
        elif isinstance(b, Image):
            from docx.shared import Inches

            d.add_picture(io.BytesIO(b.png), width=Inches(6.3))
            d.add_paragraph(b.alt)
    if nums.cites:
        d.add_heading(doc.sources_heading, level=1)
        for n, c in enumerate(nums.cites, 1):
            d.add_paragraph(f"[{n}] {c.case or '-'} · {c.source} · {c.start_char}–{c.end_char}"
                            f" · “{c.quote}”")
    buf = io.BytesIO()
    d.save(buf)
    return stable_zip(buf.getvalue())



# -- writing ---------------------------------------------------------------------------------

def citation_lines(doc: Document) -> str:
    return "".join(json.dumps({"source": c.source, "start_char": c.start_char,
                               "end_char": c.end_char, "quote": c.quote, "case": c.case},
                              ensure_ascii=False, sort_keys=True) + "\n"
                   for c in doc.citations())


def write(doc: Document, path: str | Path, fmt: str) -> list[Path]:
    """Write ``doc`` as ``fmt`` (md, html, docx) with its citations sidecar."""
    p = Path(path)
    if fmt == "md":
        images = [b for b in doc.blocks if isinstance(b, Image)]
        for img in images:
            write_bytes(p.parent / img.name, img.png)
        write_text(p, to_markdown(doc))
    elif fmt == "html":
        write_text(p, to_html(doc))
    elif fmt == "docx":
        write_bytes(p, to_docx(doc))
    else:
        from casecoder.errors import CasecoderError

        raise CasecoderError("CC501", fmt=fmt, what="documents", known="md, html, docx")
    side = p.with_name(p.name + ".citations.jsonl")
    write_text(side, citation_lines(doc))
    return [p, side]
