"""Memos: an analyst's notes on a code, a case or a source.

A memo belongs to one target: a code (by id; the code need not be in any codebook yet,
but the id must look like one, such as ``mech.digital``), a case (by id, which must be
in the project) or a source (by name, which must be a current source of the project).
Memos travel to REFI-QDA projects as ``Note`` elements (:mod:`casecoder.refiqda`).

Each memo records when it was written (``created``, UTC, ISO 8601). Exports use that
stored value, never the clock.
"""

from __future__ import annotations

import re
from typing import Any

from casecoder.errors import CasecoderError, known_list
from casecoder.store import Store, now

TARGET_TYPES: tuple[str, ...] = ("code", "case", "source")
_CODE_ID = re.compile(r"^[^\s.]+(\.[^\s.]+)*$")  # as casecoder.codebook


def _check_type(target_type: str) -> None:
    if target_type not in TARGET_TYPES:
        raise CasecoderError("CC008", option="target type", value=target_type,
                             expected=" | ".join(TARGET_TYPES))


def _resolve(store: Store, target_type: str, target_id: str) -> str:
    """The stored id of the target, or a catalogued error naming what exists."""
    if target_type == "code":
        if not _CODE_ID.match(target_id):
            raise CasecoderError("CC008", option="code id", value=target_id,
                                 expected="dot-separated parts without spaces, such as "
                                 "mech.digital")
        from casecoder.queries import project_codes, require_codes

        known = project_codes(store)
        if known:  # a project with codes: a typo is refused; before any pass, any id goes
            require_codes(store, [target_id], "code id", known)
        return target_id
    if target_type == "case":
        known = [c.id for c in store.cases()]
        if target_id not in known:
            raise CasecoderError("CC502", case_id=target_id, known=known_list(known))
        return target_id
    row = store.db.execute(
        "SELECT name FROM sources WHERE name = ? AND current = 1", (target_id,)).fetchone()
    if row is None:
        return store.source_by_name(target_id).name  # a case id names its narrative; else CC005
    return str(row[0])


def add_memo(store: Store, target_type: str, target_id: str, text: str, author: str,
             created: str | None = None) -> int:
    """Attach a memo to a code, case or source; return its id.

    Parameters
    ----------
    store : Store
        The open project store.
    target_type : {"code", "case", "source"}
        What the memo is about.
    target_id : str
        The code id, case id or source name. A case id given for a source names the case's
        narrative source, and the memo is stored under that source's name.
    text : str
        The memo (not empty).
    author : str
        Who wrote it.
    created : str, optional
        When it was written (ISO 8601); default now (UTC). Imports pass the stored value.

    Raises
    ------
    CasecoderError
        CC008 unknown target type, malformed code id, empty text or author; CC502 unknown
        case; CC005 unknown source.
    """
    _check_type(target_type)
    if not text.strip():
        raise CasecoderError("CC008", option="memo text", value=text,
                             expected="some text")
    if not author.strip():
        raise CasecoderError("CC008", option="--author", value=author,
                             expected="the name of who wrote the memo")
    with store.transaction():
        stored_id = _resolve(store, target_type, target_id)
        cur = store.db.execute(
            "INSERT INTO memos (target_type, target_id, text, author, created) "
            "VALUES (?,?,?,?,?)",
            (target_type, stored_id, text, author, now() if created is None else created))
    return int(cur.lastrowid)


def list_memos(store: Store, target_type: str | None = None,
               target_id: str | None = None) -> list[dict[str, Any]]:
    """Memos, oldest first (by id), optionally only those of one target type or target.

    Returns
    -------
    list of dict
        ``id``, ``target_type``, ``target_id``, ``text``, ``author``, ``created``.

    Raises
    ------
    CasecoderError
        CC008 unknown target type.
    """
    where, args = [], []
    if target_type is not None:
        _check_type(target_type)
        where.append("target_type = ?")
        args.append(target_type)
    if target_id is not None:
        where.append("target_id = ?")
        args.append(target_id)
    sql = "SELECT id, target_type, target_id, text, author, created FROM memos"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [dict(r) for r in store.db.execute(sql + " ORDER BY id", args)]
