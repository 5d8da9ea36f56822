from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CASES, invoke

from casecoder.errors import CasecoderError
from casecoder.ingest import ingest
from casecoder.readers import decode
from casecoder.store import Store

TRANSCRIPT_QA = """访谈编码：20241104A1
受访者身份：社区党委书记
日期：2024-11-04
地点：B社区党群服务中心

问：结对共建是怎么开始的？
答：A机关党组织和我们签了协议。每月开一次联席会议！
接着我们建立了需求清单；
问：效果怎么样？
答：居民满意度提高了。
"""

TRANSCRIPT_TS = """[00:00:05.120] 采访者：请介绍一下调解平台。
[00:00:09.800] 受访者：群众通过APP提交矛盾，平台自动分流。
化解时间从7天缩短至2天。
[00:01:21.070] 采访者：还有什么困难？
[00:01:30.000] 受访者：人手不够。
"""

TRANSCRIPT_NAMED = """角色：周某=interviewer; A机关党支部书记=respondent

周某：你们怎么和社区对接？
A机关党支部书记：我们每季度下沉到社区，开展双报到。
周某：居民参与多吗？
A机关党支部书记：刚开始不多，后来好多了。
"""


def _write(p: Path, text: str, encoding: str = "utf-8") -> Path:
    p.write_bytes(text.encode(encoding))
    return p


def _segments(project: Path) -> list[dict]:
    with Store(project) as store:
        texts = {s.id: s for s in store.sources()}
        return [
            {"source": texts[s.source_id].name, "kind": s.kind, "role": s.role,
             "speaker": s.speaker, "timestamp": s.timestamp,
             "text": texts[s.source_id].text[s.start_char:s.end_char]}
            for s in store.segments()
        ]


def test_qa_layout_turns_roles_and_header(tmp_path, project, runner):
    f = _write(tmp_path / "qa.txt", TRANSCRIPT_QA)
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 0, r.output
    segs = _segments(project)
    turns = [s for s in segs if s["kind"] == "turn"]
    assert [t["role"] for t in turns] == ["interviewer", "respondent", "interviewer",
                                          "respondent"]
    assert turns[1]["text"].startswith("答：A机关")
    assert turns[1]["text"].endswith("需求清单；")
    sents = [s["text"] for s in segs if s["kind"] == "sentence" and s["role"] == "respondent"]
    assert sents == ["A机关党组织和我们签了协议。", "每月开一次联席会议！",
                     "接着我们建立了需求清单；", "居民满意度提高了。"]
    with Store(project) as store:
        src = store.sources()[0]
    assert src.kind == "interview"
    assert src.attributes["interview_code"] == "20241104A1"
    assert src.attributes["respondent_identity"] == "社区党委书记"
    assert src.attributes["place"] == "B社区党群服务中心"


def test_timestamped_layout(tmp_path, project, runner):
    f = _write(tmp_path / "ts.txt", TRANSCRIPT_TS)
    assert invoke(runner, "ingest", f, "--project", project).exit_code == 0
    turns = [s for s in _segments(project) if s["kind"] == "turn"]
    assert [t["timestamp"] for t in turns] == ["00:00:05.120", "00:00:09.800", "00:01:21.070",
                                               "00:01:30.000"]
    assert [t["role"] for t in turns] == ["interviewer", "respondent"] * 2
    assert turns[1]["text"].endswith("缩短至2天。")


def test_named_speakers_with_role_line(tmp_path, project, runner):
    f = _write(tmp_path / "named.txt", TRANSCRIPT_NAMED)
    assert invoke(runner, "ingest", f, "--project", project).exit_code == 0
    turns = [s for s in _segments(project) if s["kind"] == "turn"]
    assert [(t["speaker"], t["role"]) for t in turns] == [
        ("周某", "interviewer"), ("A机关党支部书记", "respondent")] * 2


def test_named_speakers_inferred_from_questions(tmp_path, project, runner):
    text = TRANSCRIPT_NAMED.split("\n", 2)[2]
    f = _write(tmp_path / "named2.txt", text)
    assert invoke(runner, "ingest", f, "--project", project).exit_code == 0
    roles = {t["speaker"]: t["role"] for t in _segments(project) if t["kind"] == "turn"}
    assert roles == {"周某": "interviewer", "A机关党支部书记": "respondent"}


def test_role_option_overrides(tmp_path, project, runner):
    f = _write(tmp_path / "named3.txt", TRANSCRIPT_NAMED.split("\n", 2)[2])
    r = invoke(runner, "ingest", f, "--project", project, "--role", "周某=other")
    assert r.exit_code == 0
    roles = {t["speaker"]: t["role"] for t in _segments(project) if t["kind"] == "turn"}
    assert roles["周某"] == "other"


def test_bad_role_option(tmp_path, project, runner):
    f = _write(tmp_path / "named4.txt", TRANSCRIPT_NAMED)
    r = invoke(runner, "ingest", f, "--project", project, "--role", "周某=boss")
    assert r.exit_code == 1
    assert "[CC111]" in r.output


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"),
    ("gbk", "gb18030"), ("utf-16", "utf-16"),
])
def test_encodings_detected_and_recorded(tmp_path, project, encoding, expected):
    text = "通过联席会议整合资源，群众满意度从75%提升至96%。\n第二段。\n"
    f = _write(tmp_path / "enc.txt", text, encoding)
    with Store(project) as store:
        ingest(store, [f])
        src = store.sources()[0]
    assert src.encoding == expected
    assert src.text == text


def test_crlf_and_cr_become_lf(tmp_path, project):
    f = _write(tmp_path / "crlf.txt", "第一句。\r\n第二句。\r第三句。\r\n")
    with Store(project) as store:
        ingest(store, [f])
        src = store.sources()[0]
    assert src.text == "第一句。\n第二句。\n第三句。\n"
    assert src.attributes["_newline"] == "CRLF"


def test_docx(tmp_path, project):
    import docx

    d = docx.Document()
    d.add_paragraph("问：你们怎么做的？")
    d.add_paragraph("答：我们搭建了调解平台。")
    t = d.add_table(rows=1, cols=1)
    t.cell(0, 0).text = "答：满意度提升至96%。"
    path = tmp_path / "t.docx"
    d.save(path)
    with Store(project) as store:
        ingest(store, [path])
        src = store.sources()[0]
    assert src.encoding == "docx"
    assert src.kind == "interview"
    assert "我们搭建了调解平台。" in src.text and "满意度提升至96%" in src.text


def test_front_matter_case_and_index(project):
    with Store(project) as store:
        ingest(store, [CASES])
        cases = {c.id: c for c in store.cases()}
    assert len(cases) == 22
    for c in cases.values():
        assert c.attributes["setting"] in ("urban_community", "rural", "industry",
                                           "cross_region", "unknown")
        assert set(c.conditions) <= {"ctx.economy", "ctx.infrastructure", "ctx.funding",
                                     "ctx.population", "ctx.selfgov"}


def test_reingest_unchanged_is_noop_and_change_makes_version(tmp_path, project, runner):
    f = _write(tmp_path / "a.txt", "第一句。第二句。\n")
    invoke(runner, "ingest", f, "--project", project)
    r = invoke(runner, "ingest", f, "--project", project, "--json")
    assert json.loads(r.output)["unchanged"] == ["a.txt"]
    with Store(project) as store:
        n_runs_sources = store.count("sources")
        old_id = store.sources()[0].id
        # a coding on the old version must survive the new version
        store.replace_pass("manual", "tester", None, None, {}, None)
        store.add_codings([("manual", old_id, "mech.digital", 0, 4, "[[0, 4]]", "manual", 1.0,
                            "tester", 1, None)])
    assert n_runs_sources == 1
    _write(f, "第一句改了。第二句。\n")
    r = invoke(runner, "ingest", f, "--project", project, "--json")
    assert json.loads(r.output)["updated"] == ["a.txt"]
    with Store(project) as store:
        assert store.count("sources") == 2
        assert [s.version for s in store.sources()] == [2]
        old = store.codings(current_only=False)
        assert len(old) == 1 and old[0].source_id == old_id
        assert store.source(old_id).text == "第一句。第二句。\n"
        # re-running the pass on the new version keeps the old version's coding
        new_id = store.sources()[0].id
        with store.transaction():
            store.replace_pass("manual", "tester", None, None, {}, None)
            store.add_codings([("manual", new_id, "mech.mediation", 0, 6, "[[0, 6]]",
                                "manual", 1.0, "tester", 1, None)])
        kept = store.codings("manual", current_only=False)
        assert {(c.source_id, c.code) for c in kept} == {(new_id, "mech.mediation"),
                                                          (old_id, "mech.digital")}
        assert [c.code for c in store.codings("manual")] == ["mech.mediation"]


@pytest.mark.parametrize("content,code", [
    (b"", "CC101"),
    (b"   \n\n", "CC101"),
    (b"\x00\x01\x02binary\x00", "CC102"),
    (bytes(range(128, 256)) * 4, "CC103"),
])
def test_bad_files_refused(tmp_path, project, runner, content, code):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1
    assert f"Error: [{code}]" in r.output
    assert "bad.txt" in r.output


def test_bad_docx(tmp_path, project, runner):
    f = tmp_path / "broken.docx"
    f.write_bytes(b"PK\x03\x04 this is not really a zip")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1 and "[CC104]" in r.output and "broken.docx" in r.output


def test_bad_front_matter_names_line(tmp_path, project, runner):
    f = _write(tmp_path / "c.md", "---\nid: X1\ntitle: [unclosed\nsetting: rural\n---\n正文。\n")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1
    assert "[CC105]" in r.output and "c.md line 4" in r.output


def test_bad_case_field(tmp_path, project, runner):
    f = _write(tmp_path / "c.md", "---\nid: X1\nsetting: moon\n---\n正文。\n")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1 and "[CC109]" in r.output and "line 3" in r.output


def test_duplicate_case_id_and_nothing_half_stored(tmp_path, project, runner):
    d = tmp_path / "batch"
    d.mkdir()
    _write(d / "a.md", "---\nid: X1\nsetting: rural\n---\n甲。\n")
    _write(d / "b.md", "---\nid: X1\nsetting: rural\n---\n乙。\n")
    r = invoke(runner, "ingest", d, "--project", project)
    assert r.exit_code == 1 and "[CC106]" in r.output
    with Store(project) as store:
        assert store.count("sources") == 0 and store.count("segments") == 0
        assert store.count("cases") == 0


def test_error_midway_rolls_back(tmp_path, project, runner):
    d = tmp_path / "batch"
    d.mkdir()
    _write(d / "a.txt", "好的文本。\n")
    (d / "z.txt").write_bytes(b"")
    r = invoke(runner, "ingest", d, "--project", project)
    assert r.exit_code == 1 and "[CC101]" in r.output
    with Store(project) as store:
        assert store.count("sources") == 0


def test_no_project(tmp_path, runner):
    r = invoke(runner, "status", "--project", tmp_path / "nope")
    assert r.exit_code == 1 and "[CC001]" in r.output


def test_unsupported_and_missing(tmp_path, project, runner):
    f = tmp_path / "x.pdf"
    f.write_bytes(b"%PDF")
    r = invoke(runner, "ingest", f, "--project", project)
    assert r.exit_code == 1 and "[CC107]" in r.output
    r = invoke(runner, "ingest", tmp_path / "missing.txt", "--project", project)
    assert r.exit_code == 1 and "[CC108]" in r.output


def test_decode_gbk_confidence():
    assert decode("基层治理".encode("gbk"), "x")[1] == "gb18030"
    with pytest.raises(CasecoderError) as exc:
        decode(b"\xff\xfe\xfd\x80\x81" * 20, "x")
    assert exc.value.code in ("CC103", "CC102")


def test_pdf_text_clean_view(tmp_path, project):
    seed = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "001_cf66e0fe1ac9f27d.txt"
    with Store(project) as store:
        ingest(store, [seed])
        src = store.sources()[0]
        sents = store.segments(source_id=src.id, kind="sentence")
    assert src.attributes["_layout"] == "pdf"
    from casecoder.segment import clean_view

    texts = [src.text[s.start_char:s.end_char] for s in sents]
    joined = [clean_view(src.text, s.start_char, s.end_char, True).text for s in sents]
    # a sentence broken over lines and a blank line is one sentence
    hit = [j for j in joined if j.startswith("从最初的“依靠和发动群众")]
    assert hit and "坚持矛盾不上交" in hit[0] and "①" not in hit[0]
    assert any("\n" in t for t in texts)  # raw slices keep the hard breaks
    assert not any(j.strip() in ("·９·", "·１０·") for j in joined)


def test_status_and_sources_cli(project, runner):
    invoke(runner, "ingest", CASES, "--project", project)
    r = invoke(runner, "status", "--project", project, "--json")
    data = json.loads(r.output)
    assert r.exit_code == 0 and data["cases"] == 22 and data["sources"] >= 28
    r = invoke(runner, "sources", "list", "--project", project, "--json")
    assert r.exit_code == 0 and any(x["kind"] == "interview" for x in json.loads(r.output))
    r = invoke(runner, "sources", "show", "C01", "--project", project)
    assert r.exit_code == 0 and "case" in r.output
    r = invoke(runner, "sources", "show", "nope", "--project", project)
    assert r.exit_code == 1 and "[CC005]" in r.output


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_segments(tmp_path, project, runner, fmt):
    f = _write(tmp_path / "qa.txt", TRANSCRIPT_QA)
    invoke(runner, "ingest", f, "--project", project)
    out = tmp_path / f"seg.{fmt}"
    r = invoke(runner, "export", "segments", "--project", project, "--format", fmt, "--out", out)
    assert r.exit_code == 0
    from casecoder.records import read

    recs = [rec for _, rec in read(out)]
    assert {"source", "kind", "start_char", "end_char", "text", "role", "speaker"} <= set(recs[0])
    raw = f.read_text(encoding="utf-8")
    for rec in recs:
        assert raw[int(rec["start_char"]):int(rec["end_char"])] == rec["text"]
    r = invoke(runner, "export", "segments", "--project", project, "--format", "xml", "--out", out)
    assert r.exit_code == 1 and "[CC501]" in r.output


def test_case_index_is_up_to_date(runner, tmp_path):
    out = tmp_path / "index.csv"
    r = invoke(runner, "cases", "index", CASES, "--out", out)
    assert r.exit_code == 0 and "22 cases" in r.output
    assert out.read_text(encoding="utf-8") == (CASES / "index.csv").read_text(encoding="utf-8")
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 23
    interviews = sum(len(x.split(",")[-3].split()) for x in rows[1:] if "interviews/" in x)
    assert interviews >= 6


def test_bulk_transaction_checks_references_and_rolls_back(project):
    with Store(project) as store:
        before = store.count("codings")
        with pytest.raises(CasecoderError) as err, store.transaction(bulk=("codings",)):
            store.db.execute(
                "INSERT INTO passes (name, coder, options) VALUES ('p', 'me', '{}')")
            store.add_codings([("p", 999999, "x", 0, 1, "[]", "", 1.0, "me", 1, None)])
        assert err.value.code == "CC009"
        assert store.count("codings") == before
        assert store.db.execute("SELECT 1 FROM passes WHERE name = 'p'").fetchone() is None
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_store_of_an_older_schema_is_migrated_in_place(tmp_path):
    import sqlite3

    from casecoder.store import DB_NAME, MIGRATIONS, SCHEMA_VERSION

    # a store as the first release wrote it: schema 1 only, with a source in it
    (tmp_path / "old").mkdir()
    db = sqlite3.connect(tmp_path / "old" / DB_NAME)
    db.executescript(MIGRATIONS[0][1])
    db.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
               " applied TEXT NOT NULL)")
    db.execute("INSERT INTO migrations VALUES (1, 'initial schema', '2026-11-22T00:00:00')")
    db.commit()
    db.close()
    case = next(CASES.glob("C01*.md"))
    with Store(tmp_path / "old") as store:
        assert store.schema_version() == SCHEMA_VERSION >= 3
        ingest(store, [case])
    with Store(tmp_path / "old") as store:
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert "codings_code" not in names and "codings_pass" in names
        columns = {r[1] for r in store.db.execute("PRAGMA table_info(metrics)")}
        assert {"qualifier", "before_qualifier"} <= columns
        assert [s.name for s in store.sources()] == [case.name]


def test_a_same_named_file_from_another_folder_is_noted(tmp_path, project, runner):
    (tmp_path / "in").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "in" / "g.txt").write_text("问：你好\n答：我们建了调解室。\n", encoding="utf-8")
    (tmp_path / "other" / "g.txt").write_text("问：好\n答：有平台。\n", encoding="utf-8")
    assert invoke(runner, "ingest", tmp_path / "in" / "g.txt", "--project", project
                  ).exit_code == 0
    r = invoke(runner, "ingest", tmp_path / "other" / "g.txt", "--project", project, "--json")
    assert r.exit_code == 0
    moved = json.loads(r.stdout)["moved"]
    assert moved == [["g.txt", str(tmp_path / "in" / "g.txt"), str(tmp_path / "other" / "g.txt")]]
    r = invoke(runner, "ingest", tmp_path / "in" / "g.txt", "--project", project)
    assert "note: g.txt is now read from" in r.stderr


def test_status_counts_codings_on_older_versions(tmp_path, project, runner):
    from casecoder.codebook import load_codebook
    from casecoder.coding import code

    f = tmp_path / "g.txt"
    f.write_text("问：你好\n答：我们建了调解室。\n", encoding="utf-8")
    with Store(project) as store:
        ingest(store, [f])
        code(store, load_codebook(CASES.parent / "codebooks" / "governance.yaml"))
    f.write_text("问：你好\n答：我们建了调解室，还有平台。\n", encoding="utf-8")
    assert invoke(runner, "ingest", f, "--project", project).exit_code == 0
    r = invoke(runner, "status", "--project", project, "--json")
    (p,) = json.loads(r.stdout)["passes"]
    assert p["n"] > 0 and p["n_current"] == 0
    r = invoke(runner, "status", "--project", project)
    assert f"{p['n']} on older versions of sources" in r.stdout
