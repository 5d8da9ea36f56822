from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from casecoder.cli.analyst_cmd import review_app
from casecoder.cli.common import CatalogueGroup
from casecoder.codebook import load_codebook
from casecoder.coding import code
from casecoder.errors import CasecoderError
from casecoder.ingest import ingest
from casecoder.review import (
    REVIEW_COLUMNS,
    ReviewSession,
    export_review,
    import_review,
    keys,
    review_items,
    state_path,
)
from casecoder.store import Store

CODEBOOK = """codebook: test
codes:
  - id: mech
    label: 机制
    manual: true
  - id: mech.digital
    label: 数字赋能
    parent: mech
    rules:
      keywords: [平台]
  - id: mech.mediation
    label: 矛盾调解
    parent: mech
    rules:
      keywords: [调解]
  - id: mech.guidance
    label: 党建引领
    parent: mech
    rules:
      keywords: [党建]
"""

CASE_A = """---
id: C91
title: 调解案例
setting: rural
---
# 概况
村里设立调解委员会，调解员上门化解纠纷。当地经济以农业为主。

群众通过平台上报问题。平台上线后，办事不用跑腿。
"""

CASE_B = """---
id: C92
title: 平台案例
setting: rural
---
# 概况
县里开发手机平台。老党员参与调解，矛盾不出村。
"""

# The five rule codings in document order (a.md before b.md).
EXPECTED = [
    ("a.md", "mech.mediation", "村里设立调解委员会，调解员上门化解纠纷。"),
    ("a.md", "mech.digital", "群众通过平台上报问题。"),
    ("a.md", "mech.digital", "平台上线后，办事不用跑腿。"),
    ("b.md", "mech.digital", "县里开发手机平台。"),
    ("b.md", "mech.mediation", "老党员参与调解，矛盾不出村。"),
]


@pytest.fixture
def coded(tmp_path: Path):
    (tmp_path / "a.md").write_text(CASE_A, encoding="utf-8")
    (tmp_path / "b.md").write_text(CASE_B, encoding="utf-8")
    cb_path = tmp_path / "cb.yaml"
    cb_path.write_text(CODEBOOK, encoding="utf-8")
    store = Store(tmp_path / "proj", create=True)
    ingest(store, [tmp_path / "a.md", tmp_path / "b.md"])
    cb = load_codebook(cb_path)
    code(store, cb, "rules", with_metrics=False)
    yield store, cb
    store.close()


def _content(store: Store, pass_name: str) -> list[tuple]:
    names = {s.id: s for s in store.sources()}
    return [(names[c.source_id].name, c.code, names[c.source_id].text[c.start_char:c.end_char],
             c.coder, c.rule.split(" | ")[0] if c.rule.startswith("keyword") else c.rule)
            for c in store.codings(pass_name)]


def test_items_in_document_order(coded):
    store, _ = coded
    items = review_items(store, "rules")
    assert [(i.source, i.code, i.quote) for i in items] == EXPECTED
    assert [i.id for i in items] == [1, 2, 3, 4, 5]
    assert items[1].context_before.endswith("当地经济以农业为主。\n\n")


# -- spreadsheet route ---------------------------------------------------------------------

DECIDED = ["accept", "reject", "recode", "Recode:mech.guidance", "skip"]
NEW_CODE = ["", "", "mech.mediation", "", ""]


def _expected_reviewed() -> list[tuple]:
    return [
        ("a.md", "mech.mediation", EXPECTED[0][2], "review:rules", "keyword:调解"),
        ("a.md", "mech.mediation", EXPECTED[2][2], "review:rules",
         "review:recode from mech.digital"),
        ("b.md", "mech.guidance", EXPECTED[3][2], "review:rules",
         "review:recode from mech.digital"),
    ]


def test_csv_export_edit_import(coded, tmp_path):
    store, _ = coded
    f = tmp_path / "review.csv"
    assert export_review(store, "rules", f) == 5
    raw = f.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == list(REVIEW_COLUMNS)
    assert [(r["source"], r["code"], r["quote"]) for r in rows] == EXPECTED
    assert all(r["decision"] == r["new_code"] == r["note"] == "" for r in rows)
    # the reviewer sorts the sheet and fills in decisions
    for r, d, nc in zip(rows, DECIDED, NEW_CODE, strict=True):
        r["decision"], r["new_code"] = d, nc
    rows[0]["note"] = "典型"
    rows.reverse()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REVIEW_COLUMNS, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    f.write_text(buf.getvalue(), encoding="utf-8")
    res = import_review(store, f, "rules", "reviewed")
    assert res == {"pass": "reviewed", "reviewed_pass": "rules", "items": 5, "accepted": 1,
                   "rejected": 1, "recoded": 2, "skipped": 1, "undecided": 0,
                   "duplicates": 0, "codings": 3}
    assert _content(store, "reviewed") == _expected_reviewed()
    meta = {p["name"]: p for p in store.passes()}["reviewed"]
    assert meta["coder"] == "review:rules" and meta["codebook"] == "test"


def test_xlsx_export_edit_import_and_determinism(coded, tmp_path):
    from openpyxl import load_workbook

    store, _ = coded
    f = tmp_path / "review.xlsx"
    assert export_review(store, "rules", f) == 5
    first = f.read_bytes()
    export_review(store, "rules", f)
    assert f.read_bytes() == first
    with zipfile.ZipFile(f) as z:
        core = z.read("docProps/core.xml").decode()
        # openpyxl stamps the save time into `modified`; the export fixes both times
        assert re.search(r"<dcterms:created[^>]*>2000-01-01T00:00:00Z<", core)
        assert re.search(r"<dcterms:modified[^>]*>2000-01-01T00:00:00Z<", core)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
    wb = load_workbook(f)
    ws = wb["review"]
    header = [c.value for c in ws[1]]
    assert header == list(REVIEW_COLUMNS)
    col = {h: n + 1 for n, h in enumerate(header)}
    assert [ws.cell(row=r, column=col["quote"]).value for r in range(2, 7)] == [
        e[2] for e in EXPECTED]
    for n, (d, nc) in enumerate(zip(DECIDED, NEW_CODE, strict=True), start=2):
        ws.cell(row=n, column=col["decision"]).value = d
        ws.cell(row=n, column=col["new_code"]).value = nc or None
    wb.save(f)
    res = import_review(store, f, "rules", "reviewed")
    assert (res["accepted"], res["recoded"], res["codings"]) == (1, 2, 3)
    assert _content(store, "reviewed") == _expected_reviewed()


def _sheet(store: Store, tmp_path: Path, decisions: dict[int, tuple[str, str]]) -> Path:
    f = tmp_path / "r.csv"
    export_review(store, "rules", f)
    rows = list(csv.DictReader(io.StringIO(f.read_text(encoding="utf-8-sig"))))
    for i, (d, nc) in decisions.items():
        rows[i]["decision"], rows[i]["new_code"] = d, nc
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REVIEW_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    f.write_text(buf.getvalue(), encoding="utf-8")
    return f


@pytest.mark.parametrize(
    ("decisions", "code", "message"),
    [
        ({0: ("accept", ""), 2: ("maybe", "")}, "CC703",
         "line 4: decision 'maybe' is not one of accept, reject, recode:CODE, skip."),
        ({1: ("recode", "")}, "CC706", "line 3: recode needs a code id such as mech.digital;"),
        ({1: ("recode", "mech.nope")}, "CC706", "line 3: recode needs a code of the codebook"),
        ({1: ("recode:mech.mediation", "mech.participation")}, "CC706",
         "line 3: recode needs one new code (recode:CODE and new_code disagree)"),
    ],
)
def test_bad_sheet_writes_nothing(coded, tmp_path, decisions, code, message):
    store, cb = coded
    f = _sheet(store, tmp_path, decisions)
    runs = store.count("runs")
    with pytest.raises(CasecoderError) as err:
        import_review(store, f, "rules", "reviewed", codebook=cb)
    assert err.value.code == code
    assert f"{f} {message}" in str(err.value)
    assert "reviewed" not in [p["name"] for p in store.passes()]
    assert store.count("runs") == runs


def test_sheet_row_not_in_pass(coded, tmp_path):
    store, _ = coded
    f = _sheet(store, tmp_path, {0: ("accept", "")})
    f.write_text(f.read_text(encoding="utf-8").replace("mech.mediation", "mech.other", 1),
                 encoding="utf-8")
    with pytest.raises(CasecoderError) as err:
        import_review(store, f, "rules", "reviewed")
    assert err.value.code == "CC705"
    assert f"{f} line 2: row 1 (a.md " in str(err.value)


def test_sheet_out_pass_must_differ(coded, tmp_path):
    store, _ = coded
    f = _sheet(store, tmp_path, {})
    with pytest.raises(CasecoderError) as err:
        import_review(store, f, "rules", "rules")
    assert err.value.code == "CC008"


# -- interactive route ---------------------------------------------------------------------

def _interrupting(seq: str):
    """A read_key that returns ``seq`` then raises KeyboardInterrupt (Ctrl-C)."""
    it = iter(seq)

    def read_key() -> str:
        try:
            return next(it)
        except StopIteration:
            raise KeyboardInterrupt from None

    return read_key


def test_session_interrupt_resume_recode(coded):
    store, cb = coded
    out: list[str] = []
    s1 = ReviewSession(store, "rules", "reviewed", codebook=cb)
    with pytest.raises(KeyboardInterrupt):
        s1.run(_interrupting("ar"), out.append)
    assert "code: mech.mediation  矛盾调解" in out[0]
    assert "# 概况 ⏎  >>村里设立[调解]委员会，[调解]员上门化解纠纷。<< 当地" in out[0]
    state = json.loads(state_path(store, "rules", "reviewed").read_text(encoding="utf-8"))
    assert [d["decision"] for d in state["decisions"].values()] == ["accept", "reject"]
    assert "reviewed" not in [p["name"] for p in store.passes()]

    # a new session resumes at item 3; recode it, go back, change item 3 to accept,
    # recode item 4 (an unknown code is refused first), skip item 5
    out = []
    s2 = ReviewSession(store, "rules", "reviewed", codebook=cb)
    assert s2.position == 2
    seq = ["c", *"mech.medx", "\x7f", "\r",  # mech.med -> unknown, refused
           "c", *"mech.mediation", "\r",
           "b", "a",
           "x",
           "c", *"mech.guidance", "\r",
           "s"]
    res = s2.run(keys(seq), out.append)
    assert out[0].startswith("\n[3/5] a.md (case C91)")
    assert any("recode needs a code of the codebook" in o for o in out)
    assert any("Unknown key 'x'" in o for o in out)
    assert res["finished"] is True
    assert (res["accepted"], res["rejected"], res["recoded"], res["skipped"],
            res["undecided"], res["codings"]) == (2, 1, 1, 1, 0, 3)
    assert _content(store, "reviewed") == [
        ("a.md", "mech.mediation", EXPECTED[0][2], "review:rules", "keyword:调解"),
        ("a.md", "mech.digital", EXPECTED[2][2], "review:rules", "keyword:平台"),
        ("b.md", "mech.guidance", EXPECTED[3][2], "review:rules",
         "review:recode from mech.digital"),
    ]


def test_session_quit_and_finish(coded):
    store, _ = coded
    s = ReviewSession(store, "rules", "reviewed")
    res = s.run(keys("aq"), [].append)
    assert res["finished"] is False and res["decided"] == 1
    assert "reviewed" not in [p["name"] for p in store.passes()]
    res = ReviewSession(store, "rules", "reviewed").finish()
    assert res["codings"] == 1 and res["undecided"] == 4
    # --restart discards the saved decisions
    s = ReviewSession(store, "rules", "reviewed", restart=True)
    assert s.position == 0 and s.decisions == {}


def test_session_eof_quits_with_state_saved(coded):
    store, _ = coded
    s = ReviewSession(store, "rules", "reviewed")
    res = s.run(keys("rr"), [].append)
    assert res["finished"] is False
    assert ReviewSession(store, "rules", "reviewed").position == 2


def test_session_needs_a_terminal(coded, monkeypatch):
    store, _ = coded
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    s = ReviewSession(store, "rules", "reviewed")
    with pytest.raises(CasecoderError) as err:
        s.run()
    assert err.value.code == "CC704"


def test_corrupt_state_file(coded):
    store, _ = coded
    p = state_path(store, "rules", "reviewed")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(CasecoderError) as err:
        ReviewSession(store, "rules", "reviewed")
    assert err.value.code == "CC708"


# -- uncertainty order ---------------------------------------------------------------------

def _model_pass(store: Store, probs: list[float]) -> None:
    rows = []
    for c, p in zip(store.codings("rules"), probs, strict=True):
        rows.append(("suggest", c.source_id, c.code, c.start_char, c.end_char,
                     json.dumps([[c.start_char, c.end_char]]), "model:tfidf-char-lr", p,
                     "model:rules@x", 1, c.segment_id))
    with store.transaction():
        store.replace_pass("suggest", "model:rules@x", None, None, {"probabilities": True}, None)
        store.add_codings(rows)


def test_uncertainty_order(coded, tmp_path):
    store, _ = coded
    _model_pass(store, [0.9, 0.55, 0.3, 0.7, 0.51])
    items = review_items(store, "suggest", order="uncertainty")
    assert [i.id for i in items] == [5, 2, 3, 4, 1]
    s = ReviewSession(store, "suggest", "reviewed", order="uncertainty")
    assert s.render().startswith("\n[1/5] b.md (case C92)")
    assert "p=0.51" in s.render()
    f = tmp_path / "u.csv"
    export_review(store, "suggest", f, order="uncertainty")
    ids = [r["id"] for r in csv.DictReader(io.StringIO(f.read_text(encoding="utf-8-sig")))]
    assert ids == ["5", "2", "3", "4", "1"]
    with pytest.raises(CasecoderError) as err:
        review_items(store, "rules", order="uncertainty")
    assert err.value.code == "CC707"


# -- CLI -----------------------------------------------------------------------------------

def _app() -> typer.Typer:
    app = typer.Typer(cls=CatalogueGroup, add_completion=False, rich_markup_mode=None)
    app.add_typer(review_app, name="review")

    @app.command("noop")
    def noop() -> None:
        """Keeps ``review`` a group."""

    return app


def test_cli_review(coded, tmp_path):
    store, _ = coded
    proj = str(store.project)
    store.close()
    runner = CliRunner()
    f = tmp_path / "r.csv"
    r = runner.invoke(_app(), ["review", "export", "rules", "--out", str(f), "--project", proj])
    assert r.exit_code == 0, r.output
    assert r.stdout == f"wrote 5 rows to {f}\n"
    text = f.read_text(encoding="utf-8-sig").replace(",,,\n", ",accept,,\n", 1)
    f.write_text(text, encoding="utf-8")
    r = runner.invoke(_app(), ["review", "import", str(f), "--pass", "rules", "--out-pass",
                               "checked", "--project", proj])
    assert r.exit_code == 0, r.output
    assert r.stdout == ("pass checked: 1 codings (1 accepted, 0 recoded, 0 rejected, "
                        "0 skipped, 4 undecided)\n")
    r = runner.invoke(_app(), ["review", "start", "rules", "--project", proj])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: [CC704] Review needs an interactive terminal.")
    r = runner.invoke(_app(), ["review", "start", "rules", "--finish", "--project", proj])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("pass reviewed: 0 codings")
    r = runner.invoke(_app(), ["review", "export", "rules", "--out", str(tmp_path / "r.txt"),
                               "--project", proj])
    assert r.exit_code == 1
    assert "[CC607]" in r.stderr


def test_two_rows_for_one_coding_must_agree(coded, tmp_path):
    store, _ = coded
    f = _sheet(store, tmp_path, {0: ("accept", "")})
    rows = list(csv.DictReader(io.StringIO(f.read_text(encoding="utf-8"))))
    rows.append({**rows[0], "decision": "reject"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REVIEW_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    f.write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(CasecoderError) as err:
        import_review(store, f, "rules", "reviewed")
    assert err.value.code == "CC602"
    assert "a second row for the coding of line 2 with another decision" in str(err.value)
    assert "reviewed" not in [p["name"] for p in store.passes()]


@pytest.mark.parametrize("accepted_first", [True, False])
def test_a_recode_onto_an_accepted_coding_keeps_the_accepted_one(coded, accepted_first):
    from casecoder.review import Decision, review_items, write_reviewed

    store, _ = coded
    first = store.codings("rules")[0]  # a.md, mech.mediation
    with store.transaction():  # a second code on the same unit
        store.add_codings([("rules", first.source_id, "mech.participation", first.start_char,
                            first.end_char, "[[0, 1]]", "manual", 0.5, "x", 1,
                            first.segment_id)])
    items = [i for i in review_items(store, "rules")
             if (i.coding.source_id, i.coding.start_char) == (first.source_id,
                                                              first.start_char)]
    # the unit's first row (mediation) is recoded onto the code of its second, accepted
    recoded = next(i for i in items if i.coding.code == "mech.mediation")
    accepted = next(i for i in items if i.coding.code == "mech.participation")
    decisions = {accepted.key: Decision("accept"),
                 recoded.key: Decision("recode", "mech.participation")}
    pair = [accepted, recoded] if accepted_first else [recoded, accepted]
    res = write_reviewed(store, "rules", "reviewed", pair, decisions, how="test")
    assert res["duplicates"] == 1
    (kept,) = store.codings("reviewed")
    assert (kept.rule, kept.confidence) == ("manual", 0.5)  # the accepted coding, unchanged


def test_session_splits_keys_that_arrive_together(coded):
    store, cb = coded
    chunks = iter(["ar", "cmech.digital\r", "\x1b[A", "q"])  # typed fast, pasted, an arrow
    s = ReviewSession(store, "rules", "reviewed", codebook=cb)
    out: list[str] = []
    res = s.run(lambda: next(chunks), out.append)
    assert res["decided"] == 3
    assert [d.decision for d in s.decisions.values()] == ["accept", "reject", "recode"]
    assert [d.code for d in s.decisions.values()][-1] == "mech.digital"
    assert any("Unknown key '\\x1b[A'" in o for o in out)  # the arrow is one key
