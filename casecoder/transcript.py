"""Interview transcripts: header blocks and speaker turns.

Recognised layouts (one turn starts per line with a speaker label and a colon):
``问：/答：``, ``Q:/A:``, ``采访者：/受访者：``, ``访谈者：/被访者：``, timestamped lines
such as ``[00:01:21.070] 受访者：…``, and named speakers (``周某：``,
``A机关党支部书记：``). Lines without a label continue the previous turn.

Roles come, in order of precedence, from an explicit mapping (the ``--role`` option,
front matter ``roles:`` or a header line ``角色：周某=interviewer; …``), from the
known labels, and for other named speakers from what they say: when exactly one named
speaker asks questions in most of their turns (at least 60% end in a question mark),
that speaker is the interviewer and the others are respondents. Otherwise ``other``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from casecoder.errors import CasecoderError
from casecoder.models import ROLES

KNOWN_LABELS: dict[str, str] = {
    "问": "interviewer", "Q": "interviewer", "采访者": "interviewer", "访谈者": "interviewer",
    "访问者": "interviewer", "主持人": "interviewer", "记者": "interviewer",
    "访谈人": "interviewer", "调研员": "interviewer",
    "答": "respondent", "A": "respondent", "受访者": "respondent", "被访者": "respondent",
    "被访谈者": "respondent", "受访人": "respondent", "访谈对象": "respondent",
}
HEADER_KEYS: dict[str, str] = {
    "访谈编码": "interview_code", "访谈编号": "interview_code", "编号": "interview_code",
    "受访者身份": "respondent_identity", "日期": "date", "访谈日期": "date",
    "访谈时间": "date", "时间": "date", "地点": "place", "访谈地点": "place",
    "案例": "case", "说明": "note", "角色": "roles", "访谈人": "interviewer_name",
    "访谈人员": "interviewer_name", "记录人": "recorder", "时长": "duration",
}

_LINE = re.compile(
    r"^[ \t\u3000]*(?:[\[【(（](?P<ts>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?)[\]】)）][ \t]*"
    r"|(?P<ts2>\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,3})?)[ \t]+)?"
    r"(?P<label>[^\s：:，。！？,.!?“”\"'（）()\[\]【】]{1,16}?)[ \t]*[：:][ \t]*"
)


@dataclass
class Turn:
    """A speaker turn: its full span, where its words start, label, role, timestamp."""

    start: int
    end: int
    content_start: int
    label: str
    role: str
    timestamp: str | None


@dataclass
class Transcript:
    """What was recognised in a transcript."""

    attributes: dict[str, str] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)
    header_end: int = 0


def parse_role_map(spec: str | dict | list | None, path: str,
                   line: int | None = None) -> dict[str, str]:
    """Parse ``LABEL=ROLE; LABEL=ROLE`` (or a mapping / list of such) into a dict.

    ``path`` names where the mapping comes from (a file, or an option such as ``--role``)
    and ``line`` its line in that file. Without a line (an option's values), an error
    names the position of the bad value among the values given, counting from 1.
    """
    if not spec:
        return {}
    if isinstance(spec, dict):
        items = [f"{k}={v}" for k, v in spec.items()]
    elif isinstance(spec, list):
        items = [str(x) for x in spec]
    else:
        items = re.split(r"[;；,，]", str(spec))
    out: dict[str, str] = {}
    for position, item in enumerate(items, 1):
        item = item.strip()
        if not item:
            continue
        label, sep, role = item.partition("=")
        role = role.strip().lower()
        if not sep or role not in ROLES or not label.strip():
            where = f"{path} value {position}" if line is None else f"{path} line {line}"
            raise CasecoderError("CC111", where=where, value=item)
        out[label.strip()] = role
    return out


def looks_like_transcript(body: str) -> bool:
    """True when the text reads as a transcript.

    That is: a header line naming the interview (访谈编码, 受访者身份, 角色), at least two
    turns with known labels, or at least four labelled lines shared by two or three
    labels that each recur (named speakers taking turns).
    """
    known = 0
    named: dict[str, int] = {}
    for line in body.split("\n")[:400]:
        m = _LINE.match(line)
        if not m:
            continue
        label = m.group("label")
        if label in ("访谈编码", "受访者身份", "访谈编号", "角色"):
            return True
        if label in KNOWN_LABELS:
            known += 1
            if known >= 2:
                return True
        elif label not in HEADER_KEYS:
            named[label] = named.get(label, 0) + 1
    recurring = [n for n in named.values() if n >= 2]
    return 2 <= len(recurring) <= 3 and sum(recurring) >= 4


def parse(raw: str, start: int, path: str, roles: dict[str, str] | None = None) -> Transcript:
    """Find the header block and the turns of the transcript ``raw[start:]``."""
    out = Transcript(header_end=start)
    explicit = dict(roles or {})
    lines: list[tuple[int, str]] = []
    pos = start
    for line in raw[start:].split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1

    # header block: leading lines labelled with header keys (blank lines allowed)
    i = 0
    while i < len(lines):
        lpos, line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _LINE.match(line)
        if not m or m.group("label") not in HEADER_KEYS or m.group("ts") or m.group("ts2"):
            break
        key = HEADER_KEYS[m.group("label")]
        value = line[m.end():].strip()
        if key == "roles":
            explicit = {**parse_role_map(value, path, line=_line_no(raw, lpos)), **explicit}
        out.attributes[key] = value
        out.header_end = lpos + len(line)
        i += 1

    # candidate turn starts
    labels: dict[str, int] = {}
    matches: list[tuple[int, int, re.Match[str]]] = []
    for k in range(i, len(lines)):
        lpos, line = lines[k]
        m = _LINE.match(line)
        if m:
            matches.append((k, lpos, m))
            labels[m.group("label")] = labels.get(m.group("label"), 0) + 1
    speakers = {
        lab for lab, n in labels.items()
        if lab in explicit or lab in KNOWN_LABELS or (n >= 2 and lab not in HEADER_KEYS)
    }
    starts = [(k, lpos, m) for k, lpos, m in matches if m.group("label") in speakers]

    turns: list[Turn] = []
    for n, (k, lpos, m) in enumerate(starts):
        next_k = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        last = k
        for q in range(k, next_k):
            if lines[q][1].strip():
                last = q
        end_pos = lines[last][0] + len(lines[last][1].rstrip(" \t\u3000"))
        begin = lpos + len(m.group(0)) - len(m.group(0).lstrip(" \t\u3000"))
        label = m.group("label")
        turns.append(Turn(start=begin, end=end_pos, content_start=lpos + m.end(), label=label,
                          role=explicit.get(label) or KNOWN_LABELS.get(label, ""),
                          timestamp=m.group("ts") or m.group("ts2")))
    _infer_roles(turns, raw)
    out.turns = turns
    return out


def _infer_roles(turns: list[Turn], raw: str) -> None:
    unknown: dict[str, list[Turn]] = {}
    for t in turns:
        if not t.role:
            unknown.setdefault(t.label, []).append(t)
    if not unknown:
        return
    askers = [
        lab for lab, ts in unknown.items()
        if sum(raw[t.content_start:t.end].rstrip().endswith(("？", "?")) for t in ts)
        >= 0.6 * len(ts)
    ]
    has_interviewer = any(t.role == "interviewer" for t in turns)
    for lab, ts in unknown.items():
        if len(askers) == 1 and not has_interviewer:
            role = "interviewer" if lab == askers[0] else "respondent"
        elif has_interviewer and lab not in askers:
            role = "respondent"
        else:
            role = "other"
        for t in ts:
            t.role = role


def _line_no(raw: str, pos: int) -> int:
    return raw.count("\n", 0, pos) + 1
