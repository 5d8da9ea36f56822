from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from casecoder import records
from casecoder.cli.analyst_cmd import import_codings_command
from casecoder.cli.common import CatalogueGroup
from casecoder.codebook import load_codebook
from casecoder.coding import code
from casecoder.errors import CasecoderError
from casecoder.exporting import CODING_COLUMNS, coding_records, export_codings
from casecoder.importing import import_codings
from casecoder.ingest import ingest
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


@pytest.fixture
def coded(tmp_path: Path) -> tuple[Store, Path]:
    (tmp_path / "a.md").write_text(CASE_A, encoding="utf-8")
    (tmp_path / "b.md").write_text(CASE_B, encoding="utf-8")
    cb_path = tmp_path / "cb.yaml"
    cb_path.write_text(CODEBOOK, encoding="utf-8")
    store = Store(tmp_path / "proj", create=True)
    ingest(store, [tmp_path / "a.md", tmp_path / "b.md"])
    code(store, load_codebook(cb_path), "rules", with_metrics=False)
    yield store, cb_path
    store.close()


def _without_pass(recs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "pass"} for r in recs]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_round_trip(coded, tmp_path, fmt):
    store, _ = coded
    out = tmp_path / f"codings.{fmt}"
    n = export_codings(store, out, fmt, "rules")
    assert n == 5
    assert import_codings(store, out, "copy") == n
    assert _without_pass(coding_records(store, "copy")) == _without_pass(
        coding_records(store, "rules"))
    # the unit's segment id is resolved (the rule pass codes sentences)
    seg = {(c.source_id, c.start_char, c.end_char, c.code): c.segment_id
           for c in store.codings("rules")}
    got = {(c.source_id, c.start_char, c.end_char, c.code): c.segment_id
           for c in store.codings("copy")}
    assert got == seg and all(v is not None for v in got.values())
    meta = {p["name"]: p for p in store.passes()}["copy"]
    assert meta["coder"] == f"import:codings.{fmt}" and meta["n"] == n


def test_minimal_records_and_coder_override(coded, tmp_path):
    store, _ = coded
    src = store.source_by_name("a.md")
    start = src.text.index("群众")
    end = src.text.index("。", start) + 1
    f = tmp_path / "min.jsonl"
    f.write_text(json.dumps({"source": "a.md", "code": "mech.digital", "start_char": start,
                             "end_char": end}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert import_codings(store, f, "manual", coder="zhang") == 1
    (c,) = store.codings("manual")
    assert (c.code, c.start_char, c.end_char, c.evidence, c.coder, c.rule, c.confidence,
            c.polarity) == ("mech.digital", start, end, [(start, end)], "zhang", "import",
                            1.0, 1)
    assert c.segment_id is not None


def _rules_jsonl(store: Store, path: Path) -> list[dict]:
    recs = coding_records(store, "rules")
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                    encoding="utf-8")
    return recs


def _write(path: Path, recs: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                    encoding="utf-8")


def _state(store: Store) -> tuple:
    return ([(p["name"], p["n"]) for p in store.passes()], store.count("codings"),
            store.count("runs"))


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        ({"source": "missing.md"}, "CC604", "no current source is named 'missing.md'"),
        ({"quote": "不是原文"}, "CC604", "differs from the source's text"),
        ({"end_char": 100000}, "CC604", "outside the source's text"),
        ({"start_char": 5, "end_char": 5}, "CC604", "outside the source's text"),
        ({"start_char": "x"}, "CC602", "start_char is 'x'"),
        ({"code": ""}, "CC602", "required field 'code'"),
        ({"code": "mech digital"}, "CC602", "not a valid code id"),
        ({"confidence": 2}, "CC602", "confidence is 2"),
        ({"polarity": 0}, "CC602", "polarity is 0"),
        ({"evidence": [[0, 100000]]}, "CC604", "evidence span 0:100000"),
        ({"case": "C99"}, "CC604", "the record's case 'C99'"),
    ],
)
def test_bad_line_writes_nothing(coded, tmp_path, change, code, needle):
    store, _ = coded
    f = tmp_path / "bad.jsonl"
    recs = _rules_jsonl(store, f)
    import_codings(store, f, "copy")
    before = _state(store)
    bad = dict(recs[2])
    bad.update(change)
    if "start_char" in change and "quote" in bad and change["start_char"] != "x":
        bad.pop("quote")
    recs[2] = bad
    _write(f, recs)
    with pytest.raises(CasecoderError) as err:
        import_codings(store, f, "copy")
    assert err.value.code == code
    assert f"{f} line 3:" in str(err.value)
    assert needle in str(err.value)
    assert _state(store) == before


def test_unknown_code_with_codebook(coded, tmp_path):
    store, cb_path = coded
    f = tmp_path / "typo.csv"
    export_codings(store, f, "csv", "rules")
    text = f.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    col = rows[0].index("code")
    rows[4][col] = "mech.digtal"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    f.write_text(buf.getvalue(), encoding="utf-8")
    cb = load_codebook(cb_path)
    # without a codebook any well-formed id is accepted
    assert import_codings(store, f, "free") == 5
    with pytest.raises(CasecoderError) as err:
        import_codings(store, f, "checked", codebook=cb)
    assert err.value.code == "CC301"
    assert str(err.value).startswith(
        f"[CC301] Code 'mech.digtal' in {f} line 5 is not defined. Known codes: ")
    assert "did you mean 'mech.digital'?" in str(err.value)
    assert "checked" not in [p["name"] for p in store.passes()]


def test_property_any_spans_round_trip(coded, tmp_path):
    """Import -> export gives back the records, and raw[start:end] == quote, for any spans."""
    store, _ = coded
    sources = store.sources()
    codes = st.sampled_from(["mech.digital", "mech.mediation", "out", "mech.x.y"])

    @st.composite
    def record(draw):
        src = draw(st.sampled_from(sources))
        start = draw(st.integers(0, len(src.text) - 1))
        end = draw(st.integers(start + 1, len(src.text)))
        return {"source": src.name, "case": src.case_id, "code": draw(codes),
                "start_char": start, "end_char": end, "quote": src.text[start:end],
                "evidence": [[start, end]], "pass": "p", "coder": draw(st.sampled_from(
                    ["a", "b"])), "confidence": draw(st.floats(0, 1)), "rule": "manual",
                "polarity": draw(st.sampled_from([1, -1]))}

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(record(), min_size=1, max_size=8), st.sampled_from(["jsonl", "csv"]))
    def check(recs, fmt):
        f = tmp_path / f"p.{fmt}"
        records.write(f, recs, fmt, CODING_COLUMNS)
        assert import_codings(store, f, "p") == len(recs)
        def canon(rs: list[dict]) -> list[str]:
            return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rs)

        assert canon(coding_records(store, "p")) == canon(recs)
        texts = {s.id: s.text for s in store.sources()}
        for c in store.codings("p"):
            assert 0 <= c.start_char < c.end_char <= len(texts[c.source_id])

    check()


def test_csv_layout_is_the_export_layout(coded, tmp_path):
    store, _ = coded
    f = tmp_path / "c.csv"
    export_codings(store, f, "csv", "rules")
    header = f.read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(CODING_COLUMNS)


def test_unsupported_suffix(coded, tmp_path):
    store, _ = coded
    f = tmp_path / "c.xlsx"
    f.write_bytes(b"PK")
    with pytest.raises(CasecoderError) as err:
        import_codings(store, f, "x")
    assert err.value.code == "CC607"


# -- CLI ---------------------------------------------------------------------------------

def _app() -> typer.Typer:
    app = typer.Typer(cls=CatalogueGroup, add_completion=False, rich_markup_mode=None)
    sub = typer.Typer(cls=CatalogueGroup, add_completion=False, rich_markup_mode=None)
    sub.command("codings")(import_codings_command)
    app.add_typer(sub, name="import")

    @app.command("noop")
    def noop() -> None:
        """Keeps ``import`` a group."""

    return app


def test_cli_import_ok_and_error(coded, tmp_path):
    store, cb_path = coded
    f = tmp_path / "c.jsonl"
    recs = _rules_jsonl(store, f)
    proj = str(store.project)
    store.close()
    runner = CliRunner()
    r = runner.invoke(_app(), ["import", "codings", str(f), "--pass", "copy", "--project", proj,
                               "--codebook", str(cb_path)])
    assert r.exit_code == 0, r.output
    assert r.stdout == f"pass copy: imported 5 codings from {f}\n"
    recs[0]["source"] = "nope.md"
    _write(f, recs)
    r = runner.invoke(_app(), ["import", "codings", str(f), "--pass", "copy2", "--project",
                               proj])
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: [CC604] {f} line 1: coding of code ")
    r = runner.invoke(_app(), ["import", "codings", str(f), "--project", proj])
    assert r.exit_code == 2


def test_cli_notes_codes_new_to_the_project_without_a_codebook(coded, tmp_path):
    store, _cb_path = coded
    f = tmp_path / "c.jsonl"
    recs = _rules_jsonl(store, f)
    recs[0]["code"] = "mech.mediaton"  # a typo the project has never seen
    _write(f, recs)
    proj = str(store.project)
    store.close()
    runner = CliRunner()
    args = ["import", "codings", str(f), "--pass", "li", "--project", proj]
    r = runner.invoke(_app(), args)
    assert r.exit_code == 0, r.output
    assert ("note: code mech.mediaton is new to the project (did you mean mech.mediation?)"
            in r.stderr)
    r = runner.invoke(_app(), [*args, "--json"])  # re-importing the pass: still new
    assert json.loads(r.stdout)["new_codes"] == ["mech.mediaton"]
