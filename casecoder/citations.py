"""Citations of what a case file's front matter records: the line stating a condition
(``ctx.funding: absent``) and the entry of a transfer. Used by the flags (graph stage)
and by the distilled documents, so it depends on neither."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from casecoder.document import Cite
from casecoder.models import Source

_ENTRY = re.compile(r"^([ \t]*)-[ \t]*from:[ \t]*(.*?)[ \t]*$", re.M)


def case_files(sources: Iterable[Source]) -> dict[str, list[Source]]:
    """Case id -> its sources, the case file first, then by name."""
    by_case: dict[str, list[Source]] = defaultdict(list)
    for s in sorted(sources, key=lambda s: (s.kind != "case", s.name)):
        if s.case_id:
            by_case[s.case_id].append(s)
    return dict(by_case)


def _front_matter(srcs: list[Source]) -> tuple[Source, str] | None:
    """The case file among ``srcs`` and its front matter, if it has one."""
    if not srcs or srcs[0].kind != "case":
        return None
    return srcs[0], srcs[0].text[:srcs[0].body_start]


def front_matter_cite(srcs: list[Source], case_id: str, key: str) -> Cite | None:
    """The line of the case file's front matter (``srcs`` as :func:`case_files` gives
    them) that records ``key`` (e.g. ``ctx.funding``)."""
    found = _front_matter(srcs)
    if found is None:
        return None
    src, head = found
    m = re.search(rf"^[ \t]*{re.escape(key)}:.*$", head, re.M)
    if m is None:
        return None
    a, b = m.start(), m.end()
    while a < b and src.text[a] in " \t":
        a += 1
    return Cite(src.name, a, b, src.text[a:b], case_id)


def transfer_cite(srcs: list[Source], case_id: str, origin: str) -> Cite | None:
    """The entry of the case file's front-matter ``transfers`` list recording a transfer
    from ``origin`` (its ``from``, ``mode``, ``result`` and ``note`` lines)."""
    found = _front_matter(srcs)
    if found is None:
        return None
    src, head = found
    block = re.search(r"^transfers:[ \t]*$", head, re.M)
    if block is None:
        return None
    for m in _ENTRY.finditer(head, block.end()):
        if m.group(2).strip("\"'") != origin:
            continue
        indent = len(m.group(1))
        a = m.start() + indent
        b = m.end()
        for line in re.finditer(r"^([ \t]*)(\S.*?)[ \t]*$", head[m.end():], re.M):
            if len(line.group(1)) <= indent:
                break
            b = m.end() + line.end()
        return Cite(src.name, a, b, src.text[a:b], case_id)
    return None
