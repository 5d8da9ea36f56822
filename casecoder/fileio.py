"""Atomic file output: a reader never sees a half-written file."""

from __future__ import annotations

import errno
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO

from casecoder.errors import CasecoderError

FIXED_TIME = datetime(2000, 1, 1, 0, 0, 0)
"""The creation and modification time written into Office documents, so that the same
content gives the same bytes."""
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched. An
    ``OSError`` (a full disk, no permission, ``path`` is a folder), whether raised here or
    by the writes in the block, becomes CC007 naming ``path`` and the system's reason.
    Text is written with LF line ends.
    """
    target = Path(path)
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    binary = "b" in mode
    try:
        if binary:
            fh = os.fdopen(fd, mode)
        else:
            fh = os.fdopen(fd, mode, encoding=encoding, newline="\n")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from exc
        raise


def _cannot_write(target: Path, exc: OSError) -> CasecoderError:
    return CasecoderError("CC007", path=str(target), reason=exc.strerror or str(exc))


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, LF)."""
    with atomic_write(path) as fh:
        fh.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb", encoding=None) as fh:
        fh.write(data)


def stable_zip(data: bytes) -> bytes:
    """Rewrite an Office archive (.docx, .xlsx) so that the same content gives the same
    bytes: every member dated 1980-01-01 with mode 0644, and the document's modification
    time (which python-docx and openpyxl set to now on save) set to :data:`FIXED_TIME`."""
    stamp = FIXED_TIME.isoformat(timespec="seconds").encode() + b"Z"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            zout.writestr(fixed, body)
    return out.getvalue()
