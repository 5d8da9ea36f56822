"""`import codings` with damaged input: files without records, broken CSV rows, other
encodings and binary files. Each is refused with a catalogued error naming the file (and
the line, where there is one), and the pass stays as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_import_codings import CASE_A, CASE_B, CODEBOOK, _app
from typer.testing import CliRunner

from casecoder import records
from casecoder.codebook import load_codebook
from casecoder.coding import code
from casecoder.errors import CasecoderError
from casecoder.exporting import coding_records, export_codings
from casecoder.importing import import_codings
from casecoder.ingest import ingest
from casecoder.store import Store


@pytest.fixture
def imported(tmp_path: Path) -> tuple[Store, Path]:
    """A project with a rule pass, its codings as CSV, and the pass ``zhang`` imported."""
    (tmp_path / "a.md").write_text(CASE_A, encoding="utf-8")
    (tmp_path / "b.md").write_text(CASE_B, encoding="utf-8")
    (tmp_path / "cb.yaml").write_text(CODEBOOK, encoding="utf-8")
    store = Store(tmp_path / "proj", create=True)
    ingest(store, [tmp_path / "a.md", tmp_path / "b.md"])
    code(store, load_codebook(tmp_path / "cb.yaml"), "rules", with_metrics=False)
    good = tmp_path / "good.csv"
    export_codings(store, good, "csv", "rules")
    assert import_codings(store, good, "zhang") == 5
    yield store, good
    store.close()


def _state(store: Store) -> tuple:
    return ([(p["name"], p["n"]) for p in store.passes()], store.count("codings"),
            store.count("runs"), sorted(json.dumps(r, sort_keys=True, ensure_ascii=False)
                                        for r in coding_records(store, "zhang")))


def _refused(store: Store, path: Path, code: str) -> CasecoderError:
    before = _state(store)
    with pytest.raises(CasecoderError) as err:
        import_codings(store, path, "zhang")
    assert err.value.code == code, str(err.value)
    assert _state(store) == before
    return err.value


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


# -- no records --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "content", "found"),
    [
        ("empty.csv", "", "the file is empty"),
        ("blank.jsonl", "\n  \n", "the file is empty"),
        ("header.csv", None, "a header row and no data rows"),
        ("bom.csv", "\ufeff", "the file is empty"),
    ],
)
def test_file_without_records_is_refused_and_keeps_the_pass(imported, tmp_path, name,
                                                           content, found):
    store, good = imported
    f = tmp_path / name
    f.write_text(_lines(good)[0] + "\n" if content is None else content, encoding="utf-8")
    err = _refused(store, f, "CC610")
    assert err.message == (
        f"{f} holds no records ({found}); expected at least one coding in the layout of "
        "`casecoder export codings`. Nothing was imported; pass 'zhang' is as it was.")


def test_cli_file_without_records_exits_1(imported, tmp_path):
    store, good = imported
    f = tmp_path / "c_empty.csv"
    f.write_text(_lines(good)[0] + "\n", encoding="utf-8")
    proj = str(store.project)
    store.close()
    r = CliRunner().invoke(_app(), ["import", "codings", str(f), "--pass", "zhang",
                                    "--project", proj])
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: [CC610] {f} holds no records (a header row")
    with Store(proj) as again:
        assert {p["name"]: p["n"] for p in again.passes()}["zhang"] == 5


# -- damaged CSV rows --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda row: row + ',"', "the row is not valid CSV"),   # an unclosed quote
        (lambda row: row + ",x", "the row has 13 cells but the header has 12"),
        (lambda row: row.rsplit(",", 2)[0], "the row has 10 cells but the header has 12"),
        (lambda row: row.replace('"[[', "[[", 1), "the row has 13 cells"),  # lost quotes
    ],
    ids=["open-quote", "extra-cell", "missing-cells", "unquoted-comma"],
)
def test_damaged_csv_row_is_refused_naming_its_line(imported, tmp_path, damage, needle):
    store, good = imported
    lines = _lines(good)
    lines[2] = damage(lines[2])
    f = tmp_path / "damaged.csv"
    f.write_text("\n".join(lines), encoding="utf-8")
    err = _refused(store, f, "CC602")
    assert err.message.startswith(f"{f} line 3: ")
    assert needle in err.message


def test_lines_are_where_records_start_also_after_multiline_cells(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text('source,code,quote\na.md,x,"one\ntwo"\nb.md,y\n', encoding="utf-8")
    with pytest.raises(CasecoderError) as err:
        records.read(f)
    assert err.value.code == "CC602" and str(err.value).startswith(f"[CC602] {f} line 4: ")
    f.write_text('source,code,quote\na.md,x,"one\ntwo"\n\nb.md,y,z\n,,\n', encoding="utf-8")
    assert records.read(f) == [(2, {"source": "a.md", "code": "x", "quote": "one\ntwo"}),
                               (5, {"source": "b.md", "code": "y", "quote": "z"})]


def test_header_naming_a_column_twice_is_refused(tmp_path):
    f = tmp_path / "twice.csv"
    f.write_text("source,code,start_char,end_char,code\na.md,x,0,2,y\n", encoding="utf-8")
    with pytest.raises(CasecoderError) as err:
        records.read(f)
    assert str(err.value).startswith(f"[CC602] {f} line 1: the header names the column(s) "
                                     "'code' more than once")


# -- encodings and binary files ----------------------------------------------------------

def test_gbk_csv_as_excel_saves_it_imports_the_same_codings(imported, tmp_path):
    store, good = imported
    f = tmp_path / "excel-gbk.csv"
    text = good.read_text(encoding="utf-8")
    f.write_bytes(text.replace("\n", "\r\n").encode("gbk"))
    assert import_codings(store, f, "gbk") == 5

    def canon(name: str) -> list[str]:
        return sorted(json.dumps({k: v for k, v in r.items() if k not in ("pass", "coder")},
                                 sort_keys=True) for r in coding_records(store, name))

    assert canon("gbk") == canon("zhang")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (bytes(range(256)) * 4, "it looks like a binary file (it contains NUL bytes)"),
        (b"source,code\na.md,x\ncaf\xe9t\xe9,y\n", "the first byte that is not UTF-8 is on line 3"),
    ],
    ids=["binary", "latin-1"],
)
def test_undecodable_file_is_refused(imported, tmp_path, data, needle):
    store, _ = imported
    f = tmp_path / "odd.csv"
    f.write_bytes(data)
    err = _refused(store, f, "CC609")
    assert err.message.startswith(f"{f} cannot be read as text: ")
    assert needle in err.message
    assert err.message.endswith("Save it as UTF-8 (in Excel: \"CSV UTF-8 (comma delimited)\") "
                                "and import it again.")


def test_cli_binary_file_exits_1_without_traceback(imported, tmp_path):
    store, _ = imported
    f = tmp_path / "c_bin.csv"
    f.write_bytes(bytes(range(256)) * 4)
    proj = str(store.project)
    store.close()
    r = CliRunner().invoke(_app(), ["import", "codings", str(f), "--pass", "zhang",
                                    "--project", proj])
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: [CC609] {f} cannot be read")


# -- JSONL -------------------------------------------------------------------------------

def test_jsonl_string_with_a_line_separator_stays_one_record(tmp_path):
    f = tmp_path / "ls.jsonl"
    recs = [{"quote": "甲\u2028乙\x85丙"}, {"quote": "丁"}]
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                 encoding="utf-8")
    assert records.read(f) == [(1, recs[0]), (2, recs[1])]


def test_jsonl_offsets_written_as_whole_floats_are_accepted(imported, tmp_path):
    store, _ = imported
    src = store.source_by_name("a.md")
    start = src.text.index("群众")
    f = tmp_path / "float.jsonl"
    f.write_text(json.dumps({"source": "a.md", "code": "mech.digital",
                             "start_char": float(start), "end_char": start + 2.0}) + "\n",
                 encoding="utf-8")
    assert import_codings(store, f, "floats") == 1
    (c,) = store.codings("floats")
    assert (c.start_char, c.end_char) == (start, start + 2)
