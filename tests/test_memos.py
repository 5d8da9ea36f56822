"""Memos on codes, cases and sources: the library, the commands and the REFI-QDA notes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import typer
from lxml import etree
from typer.testing import CliRunner

from casecoder import refiqda
from casecoder.cli import exchange_cmd
from casecoder.cli.common import CatalogueGroup
from casecoder.errors import CasecoderError
from casecoder.ingest import ingest
from casecoder.memos import add_memo, list_memos
from casecoder.store import Store

NS = "{urn:QDA-XML:project:1.0}"

CASE = """---
id: C91
title: 备忘测试案例
setting: rural
conditions:
  ctx.selfgov: present
outcome:
  result: partial
---

村里成立了议事会，村民通过积分制参与。
"""


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    f = tmp_path / "C91.md"
    f.write_text(CASE, encoding="utf-8")
    p = tmp_path / "proj"
    with Store(p, create=True) as store:
        ingest(store, [f])
    return p


def test_add_and_list(proj):
    with Store(proj) as store:
        a = add_memo(store, "case", "C91", "议事会是关键", "li")
        b = add_memo(store, "code", "mech.participation", "积分制算参与", "wang",
                     created="2024-01-01T00:00:00+00:00")
        c = add_memo(store, "source", "C91.md", "文本来自研究报告", "li")
        memos = list_memos(store)
        assert [m["id"] for m in memos] == [a, b, c]
        assert memos[1] == {"id": b, "target_type": "code", "target_id": "mech.participation",
                            "text": "积分制算参与", "author": "wang",
                            "created": "2024-01-01T00:00:00+00:00"}
        assert memos[0]["created"].endswith("+00:00")  # stored when written, UTC
        assert [m["id"] for m in list_memos(store, "case")] == [a]
        assert [m["id"] for m in list_memos(store, target_id="C91.md")] == [c]
        assert list_memos(store, "source", "C91") == []


def test_a_case_id_names_its_narrative_source(proj):
    with Store(proj) as store:
        add_memo(store, "source", "C91", "按案例号找来源", "li")
        assert list_memos(store, "source")[0]["target_id"] == "C91.md"


@pytest.mark.parametrize(("ttype", "target", "code"), [
    ("case", "C99", "CC502"),
    ("source", "nope.txt", "CC005"),
    ("code", "mech digital", "CC008"),
    ("code", "mech..digital", "CC008"),
    ("theme", "x", "CC008"),
])
def test_unknown_target_is_refused(proj, ttype, target, code):
    with Store(proj) as store:
        with pytest.raises(CasecoderError) as exc:
            add_memo(store, ttype, target, "text", "li")
        assert exc.value.code == code
        assert store.count("memos") == 0


def test_empty_text_and_unknown_filter_are_refused(proj):
    with Store(proj) as store:
        with pytest.raises(CasecoderError) as exc:
            add_memo(store, "case", "C91", "   ", "li")
        assert exc.value.code == "CC008"
        with pytest.raises(CasecoderError) as exc:
            list_memos(store, "theme")
        assert exc.value.code == "CC008"


def test_memos_are_notes_in_the_qdpx(proj, tmp_path):
    with Store(proj) as store:
        add_memo(store, "case", "C91", "案例备忘", "li", created="2024-03-01T08:00:00Z")
        add_memo(store, "code", "mech.participation", "代码备忘", "wang",
                 created="2024-03-02T08:00:00Z")
        add_memo(store, "source", "C91.md", "来源备忘", "li", created="2024-03-03T08:00:00Z")
        add_memo(store, "code", "ctx.selfgov", "无时间的备忘", "li", created="someday")
        out = tmp_path / "m.qdpx"
        report = refiqda.export_qdpx(store, out)
        refiqda.export_qdpx(store, tmp_path / "again.qdpx")
    assert report["notes"] == 4 and report["skipped"] == []
    assert out.read_bytes() == (tmp_path / "again.qdpx").read_bytes()  # no clock read
    with zipfile.ZipFile(out) as zf:
        root = etree.fromstring(zf.read("project.qde"))
    users = {u.get("guid"): u.get("name") for u in root.iter(f"{NS}User")}
    notes = {n.get("guid"): n for n in root.iter(f"{NS}Note")}
    by_text = {n.find(f"{NS}PlainTextContent").text: n for n in notes.values()}
    assert users[by_text["代码备忘"].get("creatingUser")] == "wang"
    assert by_text["代码备忘"].get("creationDateTime") == "2024-03-02T08:00:00Z"
    assert by_text["无时间的备忘"].get("creationDateTime") is None  # not an xsd:dateTime
    code = next(c for c in root.iter(f"{NS}Code") if c.get("name") == "mech.participation")
    assert [r.get("targetGUID") for r in code.findall(f"{NS}NoteRef")] == \
        [by_text["代码备忘"].get("guid")]
    source = root.find(f"{NS}Sources/{NS}TextSource")
    assert [r.get("targetGUID") for r in source.findall(f"{NS}NoteRef")] == \
        [by_text["来源备忘"].get("guid")]
    case = root.find(f"{NS}Cases/{NS}Case")
    (link,) = [lk for lk in root.iter(f"{NS}Link") if lk.get("targetGUID") == case.get("guid")]
    assert link.get("originGUID") == by_text["案例备忘"].get("guid")
    # and back: the memos return with their targets, authors and dates
    with Store(tmp_path / "fresh", create=True) as store:
        refiqda.import_qdpx(store, out)
        back = sorted((m["target_type"], m["target_id"], m["text"], m["author"], m["created"])
                      for m in list_memos(store))
    assert back == sorted([
        ("case", "C91", "案例备忘", "li", "2024-03-01T08:00:00Z"),
        ("code", "mech.participation", "代码备忘", "wang", "2024-03-02T08:00:00Z"),
        ("source", "C91.md", "来源备忘", "li", "2024-03-03T08:00:00Z"),
        ("code", "ctx.selfgov", "无时间的备忘", "li", ""),
    ])


def _cli() -> typer.Typer:
    app = typer.Typer(cls=CatalogueGroup, add_completion=False, rich_markup_mode=None)
    app.add_typer(exchange_cmd.memo_app, name="memo")
    return app


def _run(*args: object):
    return CliRunner().invoke(_cli(), [str(a) for a in args], catch_exceptions=False)


def test_cli_add_and_list(proj):
    r = _run("memo", "add", "case", "C91", "议事会是关键", "--author", "li", "--project", proj)
    assert r.exit_code == 0 and r.output == "memo 1 added to case C91\n"
    r = _run("memo", "list", "--project", proj, "--json")
    assert r.exit_code == 0
    (memo,) = json.loads(r.output)
    assert (memo["target_type"], memo["target_id"], memo["author"]) == ("case", "C91", "li")
    r = _run("memo", "list", "--project", proj, "--type", "case")
    assert r.exit_code == 0 and "议事会是关键" in r.output


def test_cli_author_from_environment(proj, monkeypatch):
    monkeypatch.setenv("CASECODER_AUTHOR", "zhao")
    assert _run("memo", "add", "code", "out", "x", "--project", proj).exit_code == 0
    with Store(proj) as store:
        assert list_memos(store)[0]["author"] == "zhao"


def test_cli_unknown_case_exits_1_with_its_code(proj):
    r = _run("memo", "add", "case", "C99", "text", "--author", "li", "--project", proj)
    assert r.exit_code == 1 and "Error: [CC502]" in r.output


def test_a_code_id_typo_is_refused_once_the_project_has_codes(proj):
    from casecoder.codebook import load_codebook
    from casecoder.coding import code

    root = Path(__file__).resolve().parent.parent
    with Store(proj) as store:
        add_memo(store, "code", "mech.anything", "before any pass, any id", "li")
        code(store, load_codebook(root / "codebooks" / "governance.yaml"))
        with pytest.raises(CasecoderError) as exc:
            add_memo(store, "code", "mech.participaton", "text", "li")
        assert exc.value.code == "CC008" and "mech.participation" in str(exc.value)
        add_memo(store, "code", "mech.participation", "a known code", "li")
        assert store.count("memos") == 2
