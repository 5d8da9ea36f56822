"""REFI-QDA exchange: QDC and QDPX export, validation, import, round trips and hostile files."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from casecoder import refiqda
from casecoder.codebook import load_codebook
from casecoder.errors import CasecoderError
from casecoder.ingest import ingest
from casecoder.memos import add_memo, list_memos
from casecoder.store import Store

NVIVO = SHARED / "refi-qda" / "nvivo-mac-15-sample.qdpx"
NS = "{urn:QDA-XML:project:1.0}"
needs_nvivo = pytest.mark.skipif(not NVIVO.is_file(), reason="shared/refi-qda sample absent")

CASE_TEXT = """---
id: C90
title: 测试案例：数字调解
region: 华东
setting: urban_community
budget: 120
illustrative: true
conditions:
  ctx.economy: present
  ctx.infrastructure: absent
outcome:
  result: success
  figures:
    - "满意度从75%提升至96%"
transfers:
  - from: C01
    mode: adapted
    result: success
---

## 做法

社区通过APP平台收集群众诉求，从而提升了调解效率。网络薄弱导致部分老人无法参与。

## 成效

满意度从75%提升至96%。
"""

INTERVIEW_TEXT = """访谈编码：C90-I01
受访者身份：社区书记
案例：C90

问：平台怎么用？
答：群众通过APP提交矛盾，平台自动分流。化解时间从7天缩短至2天。𠀋字也能算。
"""

CODEBOOK_YAML = """codebook: mini
title: 测试码本
codes:
  - id: mech
    label: 机制
    layer: group
  - id: mech.digital
    label: 数字赋能
    parent: mech
    gloss: digital empowerment
    definition: Using digital platforms, data and devices to govern or serve.
    include: 平台, APP
    examples: ["群众通过APP提交矛盾"]
    rules:
      keywords: [APP, 平台]
      negation: polarity
  - id: ctx
    label: 情境条件
    layer: group
  - id: ctx.infrastructure
    label: 数字与网络基础
    parent: ctx
    layer: context
    rules:
      keywords: [网络薄弱]
      proximity:
        - {a: [网络], b: [薄弱], within: 4}
  - id: out
    label: 成效
    layer: outcome
    manual: true
    see_also: [mech.digital]
"""


def _span(text: str, phrase: str) -> tuple[int, int]:
    start = text.index(phrase)
    return start, start + len(phrase)


def _make_project(root: Path) -> tuple[Path, Path]:
    """A project with a case narrative, an interview, two passes, a link and memos."""
    files = root / "files"
    files.mkdir(parents=True)
    (files / "C90.md").write_text(CASE_TEXT, encoding="utf-8")
    (files / "C90-I01.txt").write_text(INTERVIEW_TEXT, encoding="utf-8")
    cb_path = root / "mini.yaml"
    cb_path.write_text(CODEBOOK_YAML, encoding="utf-8")
    proj = root / "proj"
    with Store(proj, create=True) as store:
        ingest(store, [files / "C90.md", files / "C90-I01.txt"])
        case = store.source_by_name("C90.md")
        iv = store.source_by_name("C90-I01.txt")
        s1, e1 = _span(case.text, "社区通过APP平台收集群众诉求，从而提升了调解效率。")
        k1, k2 = _span(case.text, "APP")
        s2, e2 = _span(case.text, "网络薄弱导致部分老人无法参与。")
        s3, e3 = _span(iv.text, "群众通过APP提交矛盾，平台自动分流。")
        s4, e4 = _span(iv.text, "𠀋字也能算。")
        with store.transaction():
            store.replace_pass("rules", "rules:mini@abc", "mini", "abc", {"unit": "sentence"},
                               None)
            store.add_codings([
                ("rules", case.id, "mech.digital", s1, e1, json.dumps([[k1, k2]]),
                 "keyword:APP | keyword:平台", 0.9, "rules:mini@abc", 1, None),
                ("rules", case.id, "out", s1, e1, json.dumps([[s1, e1]]), "", 1.0,
                 "rules:mini@abc", 1, None),
                ("rules", case.id, "ctx.infrastructure", s2, e2, json.dumps([[s2, s2 + 4]]),
                 "keyword:网络薄弱", 0.8, "rules:mini@abc", -1, None),
                ("rules", iv.id, "mech.digital", s3, e3, json.dumps([[s3 + 4, s3 + 7]]),
                 "keyword:APP", 0.85, "rules:mini@abc", 1, None),
            ])
            store.replace_pass("manual", "li", None, None, {}, None)
            store.add_codings([
                ("manual", case.id, "mech.digital", s1, e1, json.dumps([[s1, e1]]), "", 1.0,
                 "li", 1, None),
                ("manual", iv.id, "mech.digital.offline", s4, e4, json.dumps([[s4, e4]]), "",
                 1.0, "li", 1, None),
            ])
            store.db.execute(
                "INSERT INTO links (pass, source_id, case_id, from_code, to_code, polarity,"
                " start_char, end_char, connective, evidence_type) VALUES (?,?,?,?,?,?,?,?,?,?)",
                ("rules", case.id, "C90", "mech.digital", "out", 1, s1, e1, "…从而/因此/进而…",
                 "connective"))
            store.db.execute(
                "INSERT INTO links (pass, source_id, case_id, from_code, to_code, polarity,"
                " start_char, end_char, connective, evidence_type) VALUES (?,?,?,?,?,?,?,?,?,?)",
                ("rules", case.id, "C90", "ctx.infrastructure", "out", -1, s2, e2, "…导致…",
                 "connective"))
        add_memo(store, "case", "C90", "案例备忘：先看网络条件。", "li",
                 created="2024-11-04T08:00:00+00:00")
        add_memo(store, "code", "mech.digital", "代码备忘\n第二行", "wang",
                 created="2024-11-05T08:00:00+00:00")
        add_memo(store, "source", "C90-I01.txt", "访谈备忘", "li",
                 created="2024-11-06T08:00:00+00:00")
    return proj, cb_path


@pytest.fixture
def coded(tmp_path: Path) -> tuple[Path, Path]:
    return _make_project(tmp_path / "p")


def _qde(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as zf:
        return etree.fromstring(zf.read("project.qde"))


def _store_content(proj: Path) -> dict:
    """The store's content with ids replaced by names, for comparing two stores."""
    with Store(proj) as store:
        names = {s.id: s.name for s in store.sources(current_only=False)}
        return {
            "sources": sorted((s.name, s.kind, s.case_id, s.sha256) for s in store.sources()),
            "codings": sorted((c.pass_name, names[c.source_id], c.code, c.start_char,
                               c.end_char, json.dumps(c.evidence), c.rule, c.confidence,
                               c.coder, c.polarity) for c in store.codings()),
            "links": sorted(tuple(r) for r in store.db.execute(
                "SELECT pass, s.name, links.case_id, from_code, to_code, polarity, start_char,"
                " end_char, connective, evidence_type FROM links JOIN sources s"
                " ON s.id = links.source_id")),
            "cases": [(c.id, c.title, c.attributes, c.conditions, c.outcome, c.transfers)
                      for c in store.cases()],
            "memos": sorted((m["target_type"], m["target_id"], m["text"], m["author"],
                             m["created"]) for m in list_memos(store)),
            "passes": sorted(p["name"] for p in store.passes()),
        }


# -- export ------------------------------------------------------------------------------

def test_export_qdpx_validates_and_selections_land_on_the_text(coded, tmp_path):
    proj, cb_path = coded
    out = tmp_path / "out.qdpx"
    with Store(proj) as store:
        report = refiqda.export_qdpx(store, out, codebook=load_codebook(cb_path))
        texts = {s.name: s.text for s in store.sources()}
    assert refiqda.validate(out) == "project"
    assert report["codings"] == 6 and report["links"] == 2 and report["notes"] == 3
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names == sorted(names) and names[0] == "project.qde"
        assert all(i.date_time == refiqda.ZIP_DATE for i in zf.infolist())
        root = etree.fromstring(zf.read("project.qde"))
        users = {u.get("guid"): u.get("name") for u in root.iter(f"{NS}User")}
        assert {"rules", "manual"} <= set(users.values())
        for ts in root.iter(f"{NS}TextSource"):
            guid = ts.get("guid")
            assert ts.get("plainTextPath") == f"internal://{guid}.txt"
            raw = zf.read(f"sources/{guid}.txt")
            text = raw.decode("utf-8")
            assert text == texts[ts.get("name")] and b"\r" not in raw
            for sel in ts.iter(f"{NS}PlainTextSelection"):
                start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
                quote = text[start:end]
                assert " ".join(quote.split()).startswith(sel.get("name").rstrip("…"))
                for coding in sel.iter(f"{NS}Coding"):
                    assert users[coding.get("creatingUser")] in ("rules", "manual")
    # code points, not UTF-16 units: the astral character counts once
    sel = [s for s in root.iter(f"{NS}PlainTextSelection") if s.get("name").startswith("𠀋")]
    assert int(sel[0].get("endPosition")) - int(sel[0].get("startPosition")) == 6


def test_export_maps_codes_cases_variables_and_links(coded, tmp_path):
    proj, cb_path = coded
    out = tmp_path / "out.qdpx"
    with Store(proj) as store:
        refiqda.export_qdpx(store, out, codebook=load_codebook(cb_path))
    root = _qde(out)
    codes = {c.get("name"): c for c in root.iter(f"{NS}Code")}
    assert codes["机制"].get("isCodable") == "false"
    assert codes["数字赋能"].getparent() is codes["机制"]
    assert codes["数字赋能"].find(f"{NS}Description").text.startswith("id: mech.digital\n")
    assert "mech.digital.offline" in codes  # used by a coding, not in the codebook
    assert codes["mech.digital.offline"].getparent() is codes["数字赋能"]
    variables = {v.get("guid"): (v.get("name"), v.get("typeOfVariable"))
                 for v in root.iter(f"{NS}Variable")}
    case = root.find(f"{NS}Cases/{NS}Case")
    assert case.get("name") == "C90"
    values = {variables[vv.find(f"{NS}VariableRef").get("targetGUID")]:
              vv[1].text for vv in case.iter(f"{NS}VariableValue")}
    assert values[("ctx.infrastructure", "Text")] == "absent"
    assert values[("result", "Text")] == "success"
    assert values[("budget", "Integer")] == "120"
    assert values[("illustrative", "Boolean")] == "true"
    assert len(case.findall(f"{NS}SourceRef")) == 2
    links = root.findall(f"{NS}Links/{NS}Link")
    claims = [lk for lk in links if lk.get("name").startswith(("promotes", "hinders"))]
    assert len(claims) == 2
    evidence = {lk.get("targetGUID"): lk.get("originGUID") for lk in links
                if lk.get("name") == refiqda.EVIDENCE_LINK}
    selections = {s.get("guid") for s in root.iter(f"{NS}PlainTextSelection")}
    assert all(evidence[c.get("guid")] in selections for c in claims)
    edges = root.findall(f"{NS}Graphs/{NS}Graph/{NS}Edge")
    assert {e.get("representedGUID") for e in edges} == {c.get("guid") for c in claims}


def test_two_exports_are_byte_identical(coded, tmp_path):
    proj, cb_path = coded
    with Store(proj) as store:
        cb = load_codebook(cb_path)
        refiqda.export_qdpx(store, tmp_path / "a.qdpx", codebook=cb)
        refiqda.export_qdpx(store, tmp_path / "b.qdpx", codebook=cb)
    assert (tmp_path / "a.qdpx").read_bytes() == (tmp_path / "b.qdpx").read_bytes()


def test_export_import_export_round_trips(coded, tmp_path):
    proj, cb_path = coded
    first, second = tmp_path / "first.qdpx", tmp_path / "second.qdpx"
    with Store(proj) as store:
        refiqda.export_qdpx(store, first, codebook=load_codebook(cb_path))
    fresh = tmp_path / "fresh"
    with Store(fresh, create=True) as store:
        report = refiqda.import_qdpx(store, first)
        assert report["skipped"] == [] and report["warnings"] == []
        assert report["passes"] == {"manual": 2, "rules": 4}
        refiqda.export_qdpx(store, second)  # no codebook: the imported one is kept
    assert second.read_bytes() == first.read_bytes()
    assert _store_content(fresh) == _store_content(proj)


def test_export_with_a_pass_subset_and_no_graph(coded, tmp_path):
    proj, _ = coded
    out = tmp_path / "m.qdpx"
    with Store(proj) as store:
        report = refiqda.export_qdpx(store, out, passes=["manual"], include_graph=False)
        with pytest.raises(CasecoderError) as exc:
            refiqda.export_qdpx(store, out, passes=["nope"])
    assert exc.value.code == "CC006"
    assert report["codings"] == 2 and report["links"] == 0
    root = _qde(out)
    assert root.find(f"{NS}Graphs") is None
    assert "rules" not in {u.get("name") for u in root.iter(f"{NS}User")}


def test_export_of_an_empty_project_is_refused(tmp_path):
    with Store(tmp_path / "empty", create=True) as store:
        with pytest.raises(CasecoderError) as exc:
            refiqda.export_qdpx(store, tmp_path / "x.qdpx")
    assert exc.value.code == "CC004"
    assert not (tmp_path / "x.qdpx").exists()


def test_validate_reports_the_line_of_an_invalid_file(tmp_path):
    bad = tmp_path / "bad.qde"
    bad.write_text('<?xml version="1.0"?>\n<Project xmlns="urn:QDA-XML:project:1.0">\n'
                   '<Users><User name="x"/></Users></Project>\n', encoding="utf-8")
    with pytest.raises(CasecoderError) as exc:
        refiqda.validate(bad)
    assert exc.value.code == "CC606" and "line 2" in exc.value.message


# -- QDC ------------------------------------------------------------------------------------

def test_qdc_export_validates_and_round_trips_through_yaml(tmp_path):
    cb_path = tmp_path / "mini.yaml"
    cb_path.write_text(CODEBOOK_YAML, encoding="utf-8")
    cb = load_codebook(cb_path)
    first, second = tmp_path / "a.qdc", tmp_path / "b.qdc"
    refiqda.export_qdc(cb, first)
    assert refiqda.validate(first) == "codebook"
    back = refiqda.import_qdc(first, tmp_path / "back.yaml")
    assert list(back.codes) == list(cb.codes)
    for cid, code in cb.codes.items():
        got = back.codes[cid]
        for attr in ("label", "parent", "layer", "gloss", "definition", "include", "examples",
                     "see_also", "rules"):
            assert getattr(got, attr) == getattr(code, attr), (cid, attr)
    refiqda.export_qdc(back, second)
    assert second.read_bytes() == first.read_bytes()


FOREIGN_QDC = """<?xml version="1.0" encoding="UTF-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="ATLAS.ti 8">
<Codes>
<Code guid="{5215CC69-B628-4E02-AFB9-9BEEAEE55808}" name="Topics" isCodable="false">
<Code guid="{D7AA29DA-519B-4946-9B90-253B6DB8FD0A}" name="Economy" isCodable="true"
 color="#ffff00"><Description>Anything about jobs or taxes</Description></Code>
<Code guid="0dcef2f5-e55c-49da-8c33-9b0803c7aeb4" name="Health care" isCodable="true"/>
<Code guid="0dcef2f5-e55c-49da-8c33-9b0803c7aeb5" name="Health.care" isCodable="true"/>
</Code>
<Code guid="12365523-1035-4afa-9e7b-281fe0bc51c5" name="社区 参与" isCodable="true"/>
</Codes>
</CodeBook>
"""


def test_foreign_qdc_becomes_a_loadable_yaml_codebook(tmp_path):
    src = tmp_path / "atlas.qdc"
    src.write_text(FOREIGN_QDC, encoding="utf-8")
    out = tmp_path / "codebooks" / "atlas.yaml"
    cb = refiqda.import_qdc(src, out)
    assert list(cb.codes) == ["topics", "topics.economy", "topics.health_care",
                              "topics.health_care_2", "社区_参与"]
    assert cb.codes["topics"].layer == "group"
    assert cb.codes["topics.economy"].parent == "topics"
    assert cb.codes["topics.economy"].definition == "Anything about jobs or taxes"
    assert cb.codes["topics.economy"].label == "Economy"
    assert all(c.manual for c in cb.codes.values())
    again = tmp_path / "again.qdc"
    refiqda.export_qdc(cb, again)
    root = etree.fromstring(again.read_bytes())
    by_name = {c.get("name"): c for c in root.iter("{urn:QDA-XML:codebook:1.0}Code")}
    assert by_name["Economy"].get("guid") == "d7aa29da-519b-4946-9b90-253b6db8fd0a"
    assert by_name["Economy"].get("color") == "#ffff00"
    assert by_name["Topics"].get("isCodable") == "false"


def test_qdc_that_does_not_validate_names_the_line(tmp_path):
    src = tmp_path / "bad.qdc"
    src.write_text('<?xml version="1.0"?>\n<CodeBook xmlns="urn:QDA-XML:codebook:1.0">\n'
                   '<Codes>\n<Code name="x" isCodable="true"/>\n</Codes>\n</CodeBook>\n',
                   encoding="utf-8")
    with pytest.raises(CasecoderError) as exc:
        refiqda.import_qdc(src, tmp_path / "x.yaml")
    assert exc.value.code == "CC602" and "line 4" in str(exc.value)
    assert not (tmp_path / "x.yaml").exists()


# -- the NVivo sample ---------------------------------------------------------------------------

@needs_nvivo
def test_nvivo_sample_imports_whole(tmp_path):
    with zipfile.ZipFile(NVIVO) as zf:
        src_root = etree.fromstring(zf.read("project.qde"))
        texts = {ts.get("guid"): zf.read(ts.get("plainTextPath").replace("internal://",
                                                                         "sources/"))
                 for ts in src_root.iter(f"{NS}TextSource")}
    proj = tmp_path / "nv"
    with Store(proj, create=True) as store:
        report = refiqda.import_qdpx(store, NVIVO)
        cb, tree = refiqda.stored_codebook(store)
        sources = store.sources()
        passes = {p["name"]: p for p in store.passes()}
        codings = store.codings()
        out = tmp_path / "nv.qdpx"
        refiqda.export_qdpx(store, out)
    assert report["codes"] == 262 and len(cb.codes) == 262
    # nesting: every code's parent is the code it sits in
    parent_of = {}
    for el in src_root.iter(f"{NS}Code"):
        up = el.getparent()
        parent_of[el.get("guid")] = up.get("guid") if etree.QName(up).localname == "Code" \
            else None
    by_guid = {g: cid for cid, g in tree.guids.items()}
    for guid, parent in parent_of.items():
        code = cb.codes[by_guid[guid]]
        assert code.parent == (by_guid[parent] if parent else None)
    assert {s.attributes["_refiqda"]["guid"] for s in sources} == set(texts)
    for s in sources:
        assert s.text.encode("utf-8") == texts[s.attributes["_refiqda"]["guid"]]
    assert set(passes) == {"nvivo:chrisp", "nvivo:cp"}
    assert passes["nvivo:chrisp"]["options"]["refiqda"]["user_id"] == "CP"
    n_selections = sum(1 for _ in src_root.iter(f"{NS}PlainTextSelection"))
    assert len(codings) == n_selections == report["codings"]
    text_of = {s.id: s.text for s in sources}
    for c in codings:  # every coding lands on the text of its selection
        assert 0 <= c.start_char <= c.end_char <= len(text_of[c.source_id])
    assert any("rich-text" in s for s in report["skipped"])
    # and out again: same code GUIDs, names and nesting, same users and source GUIDs
    back = _qde(out)

    def code_tree(el: etree._Element) -> list:
        return [(c.get("guid"), c.get("name"), code_tree(c)) for c in el.findall(f"{NS}Code")]

    assert code_tree(back.find(f"{NS}CodeBook/{NS}Codes")) == \
        code_tree(src_root.find(f"{NS}CodeBook/{NS}Codes"))
    assert sorted((u.get("guid"), u.get("name"), u.get("id")) for u in back.iter(f"{NS}User")) \
        == sorted((u.get("guid"), u.get("name"), u.get("id")) for u in src_root.iter(f"{NS}User"))


# -- a foreign project with codings (NVivo-like conventions) -------------------------------------

G = {k: f"{n:08X}-0000-4000-8000-{n:012X}" for n, k in enumerate(
    ["user_a", "user_b", "group", "digital", "visit", "visit2", "var_region", "var_age",
     "case", "source", "sel1", "sel2", "cod1", "cod2", "cod3", "note", "set", "pic",
     "note2", "cod4"], start=1)}
RAW = "第一段：居民通过APP反映诉求。\r\n第二段：网格员上门走访。\r\n"


def _foreign_xml(sel2_end: int | None = None, code_ref: str | None = None) -> str:
    raw = RAW
    s1 = raw.index("居民通过APP反映诉求")
    e1 = s1 + len("居民通过APP反映诉求")
    s2 = raw.index("网格员上门走访")
    e2 = sel2_end if sel2_end is not None else s2 + len("网格员上门走访")
    return f"""<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="社区研究" origin="NVivo 14.23.0 (Windows)"
 creationDateTime="2024-05-01T10:00:00Z">
  <Users>
    <User guid="{G['user_a']}" name="李华" id="LH"/>
    <User guid="{{{G['user_b']}}}" name="王敏" id="WM"/>
  </Users>
  <CodeBook><Codes>
    <Code guid="{G['group']}" name="治理" isCodable="false">
      <Code guid="{G['digital']}" name="数字化" isCodable="true" color="#FF0000">
        <Description>使用平台</Description>
      </Code>
      <Code guid="{G['visit']}" name="走访" isCodable="true"/>
      <Code guid="{G['visit2']}" name="走访" isCodable="true"/>
    </Code>
  </Codes></CodeBook>
  <Variables>
    <Variable guid="{G['var_region']}" name="region" typeOfVariable="Text"/>
    <Variable guid="{G['var_age']}" name="age" typeOfVariable="Integer"/>
  </Variables>
  <Cases>
    <Case guid="{G['case']}" name="社区A">
      <VariableValue><VariableRef targetGUID="{G['var_region']}"/><TextValue>华东</TextValue>
      </VariableValue>
      <VariableValue><VariableRef targetGUID="{G['var_age']}"/><IntegerValue>67</IntegerValue>
      </VariableValue>
      <SourceRef targetGUID="{G['source']}"/>
    </Case>
  </Cases>
  <Sources>
    <TextSource guid="{G['source']}" name="访谈一.docx"
     plainTextPath="internal://{G['source']}.txt" creatingUser="{G['user_a']}"
     creationDateTime="2024-05-01T10:00:00Z">
      <PlainTextSelection guid="{G['sel1']}" startPosition="{s1}" endPosition="{e1}">
        <Coding guid="{G['cod1']}" creatingUser="{G['user_a']}">
          <CodeRef targetGUID="{code_ref or G['digital']}"/>
        </Coding>
        <NoteRef targetGUID="{G['note']}"/>
      </PlainTextSelection>
      <PlainTextSelection guid="{G['sel2']}" startPosition="{s2}" endPosition="{e2}"
       creatingUser="{G['user_b']}">
        <Description>这里说的是定期走访</Description>
        <Coding guid="{G['cod2']}" creatingUser="{G['user_b']}">
          <CodeRef targetGUID="{G['visit']}"/>
        </Coding>
      </PlainTextSelection>
      <Coding guid="{G['cod3']}" creatingUser="{G['user_b']}">
        <CodeRef targetGUID="{G['digital']}"/>
      </Coding>
      <Coding guid="{G['cod4']}">
        <CodeRef targetGUID="{G['visit2']}"/>
      </Coding>
    </TextSource>
    <PictureSource guid="{G['pic']}" name="照片.jpg" path="internal://{G['pic']}.jpg"/>
  </Sources>
  <Notes>
    <Note guid="{G['note']}" name="注释" creatingUser="{G['user_a']}"
     creationDateTime="2024-05-02T09:30:00Z">
      <PlainTextContent>居民主要用APP</PlainTextContent>
    </Note>
    <Note guid="{G['note2']}" name="研究计划">
      <PlainTextContent>项目总备忘</PlainTextContent>
    </Note>
  </Notes>
  <Sets>
    <Set guid="{G['set']}" name="访谈"><MemberSource targetGUID="{G['source']}"/></Set>
  </Sets>
</Project>
"""


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _foreign(path: Path, **kw) -> Path:
    return _zip(path, {
        "Project.qde": _foreign_xml(**kw).encode("utf-8"),
        # upper-case folder and extension, UTF-8 with BOM, CRLF line ends
        f"Sources/{G['source']}.TXT": b"\xef\xbb\xbf" + RAW.encode("utf-8"),
        f"Sources/{G['pic']}.jpg": b"\xff\xd8\xff",
    })


def test_foreign_project_codings_land_on_the_same_text(tmp_path):
    qdpx = _foreign(tmp_path / "nvivo.qdpx")
    proj = tmp_path / "proj"
    with Store(proj, create=True) as store:
        report = refiqda.import_qdpx(store, qdpx)
        (source,) = store.sources()
        quotes = sorted((c.pass_name, c.code, source.text[c.start_char:c.end_char])
                        for c in store.codings())
        memos = list_memos(store)
        (case,) = store.cases()
        cb, _ = refiqda.stored_codebook(store)
        refiqda.export_qdpx(store, tmp_path / "back.qdpx")
    assert "\r" not in source.text and not source.text.startswith("\ufeff")
    assert source.name == "访谈一.docx" and source.case_id == "社区A"
    assert quotes == sorted([
        ("nvivo:李华", "治理.数字化", "居民通过APP反映诉求"),
        ("nvivo:王敏", "治理.走访", "网格员上门走访"),
        ("nvivo:王敏", "治理.数字化", source.text),
        ("nvivo:unknown", "治理.走访_2", source.text),
    ])
    assert cb.codes["治理"].layer == "group"
    assert cb.codes["治理.数字化"].definition == "使用平台"
    assert case.attributes == {"region": "华东", "age": 67}
    assert {(m["target_type"], m["text"], m["author"], m["created"]) for m in memos} == {
        ("source", f"[{RAW.index('居民')}:{RAW.index('居民') + 11}] 居民主要用APP", "李华",
         "2024-05-02T09:30:00Z"),
        ("source", f"[{RAW.index('网格员') - 1}:{RAW.index('网格员') + 6}] 这里说的是定期走访",
         "王敏", ""),
    }
    skipped = " ".join(report["skipped"])
    assert "PictureSource" in skipped and "sets" in skipped and "研究计划" in skipped
    back = _qde(tmp_path / "back.qdpx")
    code = next(c for c in back.iter(f"{NS}Code") if c.get("name") == "数字化")
    assert code.get("guid") == G["digital"].lower() and code.get("color") == "#FF0000"
    src = back.find(f"{NS}Sources/{NS}TextSource")
    assert src.get("guid") == G["source"].lower()
    assert src.get("creationDateTime") == "2024-05-01T10:00:00Z"
    ages = [vv for vv in back.iter(f"{NS}VariableValue") if vv.find(f"{NS}IntegerValue")
            is not None]
    assert [vv.find(f"{NS}IntegerValue").text for vv in ages] == ["67"]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spans=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1,
                      max_size=6))
def test_property_any_span_round_trips_to_the_same_text(tmp_path_factory, spans):
    root = tmp_path_factory.mktemp("prop")
    text = "第一句在这里。\n第二句😀有表情。\n\n第三句：数字赋能与群众参与。\n"
    f = root / "t.txt"
    f.write_text(text, encoding="utf-8")
    with Store(root / "a", create=True) as store:
        ingest(store, [f])
        (src,) = store.sources()
        n = len(src.text)
        rows = []
        for a, b in spans:
            s, e = sorted((min(a, n), min(b, n)))
            rows.append(("p", src.id, "c.x", s, e, json.dumps([[s, e]]), "", 1.0, "p", 1, None))
        with store.transaction():
            store.replace_pass("p", "p", None, None, {}, None)
            store.add_codings(rows)
        want = sorted(src.text[r[3]:r[4]] for r in rows)
        refiqda.export_qdpx(store, root / "a.qdpx")
    with Store(root / "b", create=True) as store:
        refiqda.import_qdpx(store, root / "a.qdpx")
        (src,) = store.sources()
        assert sorted(src.text[c.start_char:c.end_char] for c in store.codings()) == want


# -- hostile and broken files ---------------------------------------------------------------

def _raises(path: Path, tmp_path: Path) -> CasecoderError:
    with Store(tmp_path / "victim", create=True) as store:
        with pytest.raises(CasecoderError) as exc:
            refiqda.import_qdpx(store, path)
        assert store.count("sources") == 0 and store.count("passes") == 0
    return exc.value


def test_entry_climbing_out_with_dotdot_is_refused(tmp_path):
    good = _foreign_xml().encode("utf-8")
    bad = _zip(tmp_path / "evil.qdpx", {"project.qde": good, "../x": b"owned"})
    err = _raises(bad, tmp_path)
    assert err.code == "CC603" and "'../x'" in err.message


def test_absolute_entry_is_refused(tmp_path):
    bad = _zip(tmp_path / "abs.qdpx", {"project.qde": b"<x/>", "/etc/cron.d/x": b"x"})
    assert _raises(bad, tmp_path).code == "CC603"


def test_too_many_entries_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(refiqda, "MAX_ENTRIES", 10)
    entries = {f"sources/{n}.txt": b"x" for n in range(11)}
    bad = _zip(tmp_path / "many.qdpx", {"project.qde": b"<x/>", **entries})
    err = _raises(bad, tmp_path)
    assert err.code == "CC603" and "12 entries" in err.message


def test_default_entry_limit_is_ten_thousand(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for n in range(refiqda.MAX_ENTRIES + 1):
            zf.writestr(f"sources/{n}.txt", b"")
    path = tmp_path / "many.qdpx"
    path.write_bytes(buf.getvalue())
    assert _raises(path, tmp_path).code == "CC603"


def test_zip_bomb_ratio_is_refused(tmp_path):
    bad = _zip(tmp_path / "bomb.qdpx", {"project.qde": b"<x/>",
                                         "sources/a.txt": b"\0" * (4 * 1024 * 1024)})
    err = _raises(bad, tmp_path)
    assert err.code == "CC603" and "compressed more than" in err.message


def test_entity_expansion_is_refused(tmp_path):
    laughs = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
              b'<Project xmlns="urn:QDA-XML:project:1.0" name="&lol3;"/>\n')
    bad = _zip(tmp_path / "laughs.qdpx", {"project.qde": laughs})
    err = _raises(bad, tmp_path)
    assert err.code == "CC603" and "DTD" in err.message


def test_missing_project_qde_is_refused(tmp_path):
    bad = _zip(tmp_path / "empty.qdpx", {"sources/a.txt": b"text"})
    err = _raises(bad, tmp_path)
    assert err.code == "CC601" and "project.qde" in err.message


def test_malformed_xml_names_file_and_line(tmp_path):
    bad = _zip(tmp_path / "broken.qdpx", {
        "project.qde": b'<?xml version="1.0"?>\n<Project name="x">\n<Users>\n</Project>\n'})
    err = _raises(bad, tmp_path)
    assert err.code == "CC601"
    assert "project.qde line 4" in err.message and "broken.qdpx" in err.message


def test_not_a_zip_is_refused(tmp_path):
    bad = tmp_path / "plain.qdpx"
    bad.write_text("hello", encoding="utf-8")
    assert _raises(bad, tmp_path).code == "CC601"


def test_schema_invalid_project_names_the_line(tmp_path):
    xml = _foreign_xml().replace(f'<Code guid="{G["visit"]}" ', '<Code ')
    bad = _zip(tmp_path / "invalid.qdpx", {"project.qde": xml.encode("utf-8")})
    err = _raises(bad, tmp_path)
    line = xml.split("\n").index('      <Code name="走访" isCodable="true"/>') + 1
    assert err.code == "CC602" and f"line {line}" in err.message


def test_selection_outside_the_text_is_refused(tmp_path):
    bad = _foreign(tmp_path / "long.qdpx", sel2_end=len(RAW) + 5)
    err = _raises(bad, tmp_path)
    assert err.code == "CC604" and "outside the source text" in err.message


def test_coding_of_an_unknown_code_is_refused(tmp_path):
    bad = _foreign(tmp_path / "ghost.qdpx", code_ref="99999999-0000-4000-8000-000000000000")
    assert _raises(bad, tmp_path).code == "CC604"


def test_tampered_casecoder_record_is_refused(coded, tmp_path):
    proj, _ = coded
    out = tmp_path / "mine.qdpx"
    with Store(proj) as store:
        refiqda.export_qdpx(store, out)
    with zipfile.ZipFile(out) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    entries["project.qde"] = entries["project.qde"].replace(b'"polarity": -1',
                                                            b'"polarity": 5')
    err = _raises(_zip(tmp_path / "tampered.qdpx", entries), tmp_path)
    assert err.code == "CC604" and "malformed" in err.message


def test_validate_accepts_bytes(coded, tmp_path):
    proj, cb_path = coded
    with Store(proj) as store:
        refiqda.export_qdpx(store, tmp_path / "a.qdpx")
    refiqda.export_qdc(load_codebook(cb_path), tmp_path / "a.qdc")
    assert refiqda.validate((tmp_path / "a.qdpx").read_bytes()) == "project"
    assert refiqda.validate((tmp_path / "a.qdc").read_bytes()) == "codebook"
    with pytest.raises(CasecoderError) as exc:
        refiqda.validate(b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'/>")
    assert exc.value.code == "CC606"


def test_missing_text_file_is_refused(tmp_path):
    bad = _zip(tmp_path / "notext.qdpx", {"project.qde": _foreign_xml().encode("utf-8")})
    err = _raises(bad, tmp_path)
    assert err.code == "CC601" and "missing from the archive" in err.message


# -- all or nothing -------------------------------------------------------------------------------

TABLES = ("sources", "segments", "cases", "passes", "codings", "links", "memos", "runs", "meta")


def _counts(proj: Path) -> dict[str, int]:
    with Store(proj) as store:
        return {t: store.count(t) for t in TABLES}


def test_conflicting_source_rolls_back_the_whole_import(coded, tmp_path):
    proj, cb_path = coded
    out = tmp_path / "mine.qdpx"
    with Store(proj) as store:
        refiqda.export_qdpx(store, out, codebook=load_codebook(cb_path))
    # the same export, but the interview's text differs from the one in the project
    with zipfile.ZipFile(out) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    root = etree.fromstring(entries["project.qde"])
    guid = next(t.get("guid") for t in root.iter(f"{NS}TextSource")
                if t.get("name") == "C90.md")
    entries[f"sources/{guid}.txt"] = entries[f"sources/{guid}.txt"].replace(
        "平台".encode(), "系统".encode())
    changed = _zip(tmp_path / "changed.qdpx", entries)
    before = _counts(proj)
    with Store(proj) as store:
        with pytest.raises(CasecoderError) as exc:
            refiqda.import_qdpx(store, changed)
    assert exc.value.code == "CC602" and "C90.md" in exc.value.message
    assert _counts(proj) == before


def test_failure_while_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    qdpx = _foreign(tmp_path / "nvivo.qdpx")
    proj = tmp_path / "proj"
    Store(proj, create=True).close()
    before = _counts(proj)

    def boom(self, rows):
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(Store, "add_codings", boom)
    with Store(proj) as store:
        with pytest.raises(sqlite3.OperationalError):
            refiqda.import_qdpx(store, qdpx)
    assert _counts(proj) == before


def _damaged(path: Path, member: str, method: int) -> Path:
    """A copy of the archive ``path`` with bytes flipped inside ``member``'s data."""
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    out = path.with_name(f"damaged-{path.name}")
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    data = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo(member)
    head = info.header_offset
    start = head + 30 + int.from_bytes(data[head + 26:head + 28], "little") \
        + int.from_bytes(data[head + 28:head + 30], "little")
    for i in range(start + 2, start + 10):
        data[i] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED],
                         ids=["bad-crc", "bad-deflate"])
@pytest.mark.parametrize("member", ["Project.qde", f"Sources/{G['source']}.TXT"])
def test_damaged_entry_is_refused_naming_file_and_entry(tmp_path, member, method):
    bad = _damaged(_foreign(tmp_path / "nvivo.qdpx"), member, method)
    err = _raises(bad, tmp_path)
    assert err.code == "CC601"
    assert err.message.startswith(f"{bad} is not a valid REFI-QDA file: the entry {member!r} "
                                  "is damaged (")
    proj = tmp_path / "proj"
    Store(proj, create=True).close()
    r = _run("import", "qdpx", bad, "--project", proj)
    assert r.exit_code == 1 and r.output.startswith("Error: [CC601] ")
    assert "Traceback" not in r.output and _counts(proj) == _counts(tmp_path / "victim")


def test_codebook_out_that_cannot_be_written_leaves_the_store_unchanged(coded, tmp_path):
    proj, cb_path = coded
    out = tmp_path / "mine.qdpx"
    with Store(proj) as store:
        refiqda.export_qdpx(store, out, codebook=load_codebook(cb_path))
    fresh = tmp_path / "fresh"
    Store(fresh, create=True).close()
    before = _counts(fresh)
    (tmp_path / "keep.csv").write_text("a file, not a folder", encoding="utf-8")
    blocked = tmp_path / "keep.csv" / "cb.yaml"
    with Store(fresh) as store:
        with pytest.raises(CasecoderError) as exc:
            refiqda.import_qdpx(store, out, codebook_out=blocked)
    assert exc.value.code == "CC007" and str(blocked) in exc.value.message
    assert _counts(fresh) == before
    r = _run("import", "qdpx", out, "--project", fresh, "--codebook-out", blocked)
    assert r.exit_code == 1 and r.output.startswith(f"Error: [CC007] Cannot write {blocked}")
    assert _counts(fresh) == before
    # a retry with a good path imports once: the passes keep their names (no "rules-2")
    good = tmp_path / "cb.yaml"
    r = _run("import", "qdpx", out, "--project", fresh, "--codebook-out", good, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["passes"] == {"manual": 2, "rules": 4}
    assert set(load_codebook(good).codes) >= {"mech", "mech.digital"}


def test_reimport_reuses_sources_and_keeps_passes_apart(coded, tmp_path):
    proj, cb_path = coded
    out = tmp_path / "mine.qdpx"
    with Store(proj) as store:
        refiqda.export_qdpx(store, out, codebook=load_codebook(cb_path))
        n_sources = store.count("sources")
        report = refiqda.import_qdpx(store, out)
        assert store.count("sources") == n_sources
        assert report["sources"]["reused"] == ["C90-I01.txt", "C90.md"]
        assert report["passes"] == {"manual-2": 2, "rules-2": 4}
        assert store.count("cases") == 1
        # exported again, the copies stay separate users and come back as separate passes
        refiqda.export_qdpx(store, tmp_path / "twice.qdpx")
    users = [u.get("name") for u in _qde(tmp_path / "twice.qdpx").iter(f"{NS}User")]
    assert len(users) == len(set(users))
    with Store(tmp_path / "fresh", create=True) as store:
        report = refiqda.import_qdpx(store, tmp_path / "twice.qdpx")
    assert report["passes"] == {"manual": 2, "manual-2": 2, "rules": 4, "rules-2": 4}


# -- the command line ----------------------------------------------------------------------------

def _cli():
    """The exchange commands wired as casecoder.cli.main is asked to wire them."""
    import typer

    from casecoder.cli import exchange_cmd
    from casecoder.cli.common import CatalogueGroup

    app = typer.Typer(cls=CatalogueGroup, add_completion=False, rich_markup_mode=None,
                      pretty_exceptions_show_locals=False)
    export = typer.Typer()
    export.command("qdpx")(exchange_cmd.export_qdpx_command)
    export.command("qdc")(exchange_cmd.export_qdc_command)
    app.add_typer(export, name="export")
    app.add_typer(exchange_cmd.import_app, name="import")
    app.add_typer(exchange_cmd.memo_app, name="memo")
    return app


def _run(*args):
    return CliRunner().invoke(_cli(), [str(a) for a in args], catch_exceptions=False)


def test_cli_export_then_import(coded, tmp_path):
    proj, cb_path = coded
    out = tmp_path / "cli.qdpx"
    r = _run("export", "qdpx", "--out", out, "--project", proj, "--codebook", cb_path)
    assert r.exit_code == 0, r.output
    assert "6 codings by 4 users" in r.output
    fresh = tmp_path / "fresh"
    Store(fresh, create=True).close()
    yaml_out = tmp_path / "cb.yaml"
    r = _run("import", "qdpx", out, "--project", fresh, "--codebook-out", yaml_out)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("imported 2 sources (0 already present), 6 codes, 6 codings")
    assert set(load_codebook(yaml_out).codes) >= {"mech", "mech.digital", "out"}
    r = _run("import", "qdpx", out, "--project", fresh, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["sources"]["reused"]


def test_cli_qdc_both_ways(tmp_path):
    cb_path = tmp_path / "mini.yaml"
    cb_path.write_text(CODEBOOK_YAML, encoding="utf-8")
    r = _run("export", "qdc", "--out", tmp_path / "m.qdc", "--codebook", cb_path)
    assert r.exit_code == 0 and r.output == f"wrote 5 codes to {tmp_path / 'm.qdc'}\n"
    r = _run("import", "qdc", tmp_path / "m.qdc", "--out", tmp_path / "back.yaml")
    assert r.exit_code == 0 and r.output == f"wrote 5 codes to {tmp_path / 'back.yaml'}\n"


def test_cli_refused_file_exits_1_with_its_code(tmp_path):
    bad = _zip(tmp_path / "evil.qdpx", {"project.qde": b"<x/>", "../x": b"x"})
    proj = tmp_path / "proj"
    Store(proj, create=True).close()
    r = _run("import", "qdpx", bad, "--project", proj)
    assert r.exit_code == 1 and "Error: [CC603]" in r.output


def test_cli_import_lists_what_was_not_imported(tmp_path):
    qdpx = _foreign(tmp_path / "nvivo.qdpx")
    proj = tmp_path / "proj"
    Store(proj, create=True).close()
    r = CliRunner().invoke(_cli(), ["import", "qdpx", str(qdpx), "--project", str(proj)])
    assert r.exit_code == 0, r.output
    assert "pass      nvivo:李华: 1 codings" in r.stdout
    assert "Not imported: PictureSource" in r.stderr


def test_every_command_has_help_with_an_example():
    from casecoder.cli import exchange_cmd

    funcs = [exchange_cmd.import_qdpx, exchange_cmd.import_qdc, exchange_cmd.memo_add,
             exchange_cmd.memo_list, exchange_cmd.export_qdpx_command,
             exchange_cmd.export_qdc_command]
    for f in funcs:
        assert "Example: casecoder " in (f.__doc__ or ""), f.__name__
    for app in (exchange_cmd.import_app, exchange_cmd.memo_app):
        assert "Example: casecoder " in app.info.help
