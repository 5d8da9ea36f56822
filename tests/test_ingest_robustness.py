"""Bad input gets a catalogued error naming the file (and line); nothing half-written."""

from __future__ import annotations

import errno
import json
import os
import zipfile
from pathlib import Path

import pytest
from conftest import invoke

from casecoder import fileio
from casecoder.errors import CasecoderError
from casecoder.store import Store


def _attributes(project: Path) -> dict[str, dict]:
    with Store(project) as store:
        rows = store.db.execute("SELECT name, attributes FROM sources").fetchall()
    return {name: json.loads(attrs) for name, attrs in rows}


def test_front_matter_dates_stored_as_iso_strings(tmp_path, project, runner):
    f = tmp_path / "d.md"
    f.write_text("---\nid: D1\nsetting: rural\ndate: 2024-01-01\nwhen: 2024-01-01 10:30:00\n"
                 "meta:\n  2023-12-31: 年终\n---\n正文。\n", encoding="utf-8")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 0, r.output
    attrs = _attributes(project)["d.md"]
    assert attrs["date"] == "2024-01-01"
    assert attrs["when"] == "2024-01-01T10:30:00"
    assert attrs["meta"] == {"2023-12-31": "年终"}


def test_front_matter_mixed_keys_are_kept_as_written(tmp_path, project, runner):
    f = tmp_path / "k.md"
    f.write_text("---\nkind: case\nbudget:\n  2023: 100\n  total: 300\n---\n正文。\n",
                 encoding="utf-8")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 0, r.output
    assert _attributes(project)["k.md"]["budget"] == {"2023": 100, "total": 300}


@pytest.mark.parametrize("front,line,tag", [
    ("blob: !!binary aGVsbG8=\n", 4, "!!binary"),
    ("meta:\n  tags: !!set {a, b}\n", 5, "!!set"),
], ids=["binary", "set"])
def test_front_matter_value_json_cannot_hold(tmp_path, project, runner, front, line, tag):
    f = tmp_path / "b.md"
    f.write_text(f"---\nid: B1\nsetting: rural\n{front}---\n正文。\n", encoding="utf-8")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1
    assert f"Error: [CC105] {f} line {line}: " in r.output and tag in r.output
    assert "Traceback" not in r.output
    with Store(project) as store:
        assert store.count("sources") == 0


def test_bom_then_invalid_utf8(tmp_path, project, runner):
    f = tmp_path / "x.txt"
    f.write_bytes(b"\xef\xbb\xbf\xff\xfe abc")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1
    assert f"Error: [CC103] {f}: " in r.output and "BOM" in r.output


def _damaged_docx(tmp_path: Path, at: int, count: int) -> Path:
    """A .docx whose compressed word/document.xml has ``count`` bytes flipped from ``at``
    (counted from the end of the member's data when negative)."""
    import docx

    f = tmp_path / "broken.docx"
    document = docx.Document()
    document.add_paragraph("通过联席会议整合资源，群众满意度从75%提升至96%。" * 20)
    document.save(str(f))
    with zipfile.ZipFile(f) as z:
        info = z.getinfo("word/document.xml")
    data = bytearray(f.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    first = start + (at if at >= 0 else info.compress_size + at)
    for i in range(first, first + count):
        data[i] ^= 0xFF
    f.write_bytes(bytes(data))
    return f


# flipping early bytes breaks the deflate stream (zlib.error); flipping one late byte
# still inflates, but to the wrong text (BadZipFile: Bad CRC-32)
@pytest.mark.parametrize("at,count", [(20, 10), (-6, 1)], ids=["deflate", "crc"])
def test_docx_with_damaged_member(tmp_path, project, runner, at, count):
    f = _damaged_docx(tmp_path, at, count)
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1
    assert f"Error: [CC104] {f} is not a readable Word document" in r.output


def test_role_option_without_equals_names_the_value(tmp_path, project, runner):
    f = tmp_path / "r.txt"
    f.write_text("问：你好吗？\n答：很好。\n", encoding="utf-8")
    r = invoke(runner, "ingest", f, "--project", project,
               "--role", "问=interviewer", "--role", "答")
    assert r.exit_code == 1
    assert "Error: [CC111] --role value 2: role mapping '答' " in r.output
    assert "line 0" not in r.output


def test_export_to_a_folder_is_cc007(tmp_path, project, runner):
    out = tmp_path / "outdir"
    out.mkdir()
    r = invoke(runner, "export", "codings", "--format", "csv", "-o", out, "--project", project)
    assert r.exit_code == 1
    assert f"Error: [CC007] Cannot write {out}: " in r.output
    assert out.is_dir() and list(out.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_full_disk_is_cc007_and_keeps_the_old_file(tmp_path, monkeypatch, where):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if where == "fsync":
        monkeypatch.setattr(fileio.os, "fsync", full)
    elif where == "replace":
        monkeypatch.setattr(fileio.os, "replace", full)
    with pytest.raises(CasecoderError) as exc:
        with fileio.atomic_write(target) as fh:
            fh.write("new")
            if where == "write":
                full()
    assert exc.value.code == "CC007"
    assert str(target) in exc.value.message and "No space left on device" in exc.value.message
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
