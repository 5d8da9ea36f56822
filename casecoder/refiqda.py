"""REFI-QDA exchange: codebooks (``.qdc``) and projects (``.qdpx``), REFI-QDA 1.5 / QDA-XML 1.0.

What travels and how it maps (``docs/refiqda.md`` has the full tables):

* **codes** — a REFI ``Code`` per casecoder code, nested by parent. ``name`` is the label;
  the ``Description`` is a small YAML mapping whose first line is ``id: <code id>``,
  followed by the code's definition, include/exclude notes, layer, examples and rules,
  so a codebook comes back whole. Codes from other tools get an id built from their
  place in the tree (``parent.child``). ``isCodable="false"`` is the ``group`` layer.
  GUIDs are ``uuid5`` of the code id unless the code came from another tool, whose GUID
  is kept (in the store for projects, as a ``# refi-qda:`` comment in YAML codebooks).
* **passes ↔ users** — one ``User`` per pass; each coding's ``creatingUser`` is the
  user of its pass. Imported users become passes (``nvivo:<user name>``).
* **sources** — each current source is a ``TextSource`` with its raw text as
  ``sources/<guid>.txt`` (UTF-8, LF); selections count code points of that text.
* **cases** — ``Case`` with ``Variables`` (attributes, ``ctx.*`` conditions, ``result``,
  ``outcome.*``, ``transfers``) and ``SourceRef`` to the case's sources.
* **memos** — ``Note`` with ``NoteRef`` on the code or source; a case memo is a ``Link``
  from the note to the case (the ``Case`` element has no ``NoteRef``).
* **links** — a ``Link`` from the cause code to the effect code per causal claim, a
  second ``Link`` from the evidence selection to the claim, and a ``Graph`` per pass.

Exports are deterministic: GUIDs are ``uuid5`` of stable keys, no clock is read, zip
entries carry a fixed date and are sorted, so two exports of one store are byte-identical.

Imports are defensive: archive limits (entries, total size, compression ratio), no
absolute or ``..`` entry names, no DTDs (entity expansion), no network, schema
validation, and every write inside one store transaction.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from casecoder import __version__
from casecoder.errors import CasecoderError
from casecoder.fileio import write_bytes, write_text
from casecoder.models import Case, Code, Codebook, CodeRules, Coding, Link, Source
from casecoder.store import Store

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
ORIGIN = f"casecoder {__version__}"

#: Archive limits applied before anything is decompressed.
MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 500 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, checked for entries above RATIO_FLOOR bytes
RATIO_FLOOR = 1024 * 1024
MAX_QDC_BYTES = 50 * 1024 * 1024

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_GUID_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/casecoder/casecoder/refi-qda")
_GUID_RX = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{12}\}?$")
_ID = re.compile(r"^[^\s.]+(\.[^\s.]+)*$")  # as casecoder.codebook
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DATE = re.compile(r"^-?\d{4,}-\d\d-\d\d(Z|[+-]\d\d:\d\d)?$")
_DATETIME = re.compile(r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
DETAILS_HEAD = "casecoder codings:"
SOURCE_KIND_VAR = "source.kind"
META_CODEBOOK = "refiqda.codebook"
META_VARIABLES = "refiqda.variables"
META_PROJECT = "refiqda.project"
LINK_VERBS = {1: "promotes", -1: "hinders"}
LINK_COLORS = {1: "#2E7D32", -1: "#C62828"}
CASE_MEMO_LINK = "Memo-Case Relation"
EVIDENCE_LINK = "evidence"

# The codebook exchange schema, printed in section 5.2 of the REFI-QDA 1.5 specification
# (MIT licence, REFI www.qdasoftware.org). Project.xsd ships as a separate file.
CODEBOOK_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns="urn:QDA-XML:codebook:1.0" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  targetNamespace="urn:QDA-XML:codebook:1.0" elementFormDefault="qualified"
  attributeFormDefault="unqualified" version="1.0">
  <xsd:element name="CodeBook" type="CodeBookType"/>
  <xsd:complexType name="CodeBookType">
    <xsd:sequence>
      <xsd:element name="Codes" type="CodesType"/>
      <xsd:element name="Sets" type="SetsType" minOccurs="0"/>
    </xsd:sequence>
    <xsd:attribute name="origin" type="xsd:string"/>
  </xsd:complexType>
  <xsd:complexType name="CodesType">
    <xsd:sequence>
      <xsd:element name="Code" type="CodeType" maxOccurs="unbounded"/>
    </xsd:sequence>
  </xsd:complexType>
  <xsd:complexType name="SetsType">
    <xsd:sequence>
      <xsd:element name="Set" type="SetType" maxOccurs="unbounded"/>
    </xsd:sequence>
  </xsd:complexType>
  <xsd:complexType name="CodeType">
    <xsd:sequence>
      <xsd:element name="Description" type="xsd:string" minOccurs="0"/>
      <xsd:element name="Code" type="CodeType" minOccurs="0" maxOccurs="unbounded"/>
    </xsd:sequence>
    <xsd:attribute name="guid" type="GUIDType" use="required"/>
    <xsd:attribute name="name" type="xsd:string" use="required"/>
    <xsd:attribute name="isCodable" type="xsd:boolean" use="required"/>
    <xsd:attribute name="color" type="RGBType"/>
  </xsd:complexType>
  <xsd:complexType name="SetType">
    <xsd:sequence>
      <xsd:element name="Description" type="xsd:string" minOccurs="0"/>
      <xsd:element name="MemberCode" type="MemberCodeType" minOccurs="0"
        maxOccurs="unbounded"/>
    </xsd:sequence>
    <xsd:attribute name="guid" type="GUIDType" use="required"/>
    <xsd:attribute name="name" type="xsd:string" use="required"/>
  </xsd:complexType>
  <xsd:complexType name="MemberCodeType">
    <xsd:attribute name="guid" type="GUIDType" use="required"/>
  </xsd:complexType>
  <xsd:simpleType name="GUIDType">
    <xsd:restriction base="xsd:token">
      <xsd:pattern value="@GUID@"/>
    </xsd:restriction>
  </xsd:simpleType>
  <xsd:simpleType name="RGBType">
    <xsd:restriction base="xsd:token">
      <xsd:pattern value="#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})"/>
    </xsd:restriction>
  </xsd:simpleType>
</xsd:schema>
""".replace("@GUID@", "(@HEX@)|(\\{@HEX@\\})").replace(
    "@HEX@", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# -- schemas and safe parsing ---------------------------------------------------------------

def project_xsd_path() -> Path:
    """Where ``Project.xsd`` is read from.

    In order: ``$CASECODER_REFIQDA_XSD``, ``casecoder/data/Project.xsd`` (package data),
    ``../shared/refi-qda/Project.xsd`` beside the repository.

    Raises
    ------
    FileNotFoundError
        When none exists (an installation problem, not a user error).
    """
    here = Path(__file__).resolve()
    candidates = [os.environ.get("CASECODER_REFIQDA_XSD"),
                  here.parent / "data" / "Project.xsd",
                  here.parents[2] / "shared" / "refi-qda" / "Project.xsd"]
    for cand in candidates:
        if cand and Path(cand).is_file():
            return Path(cand)
    raise FileNotFoundError("Project.xsd (REFI-QDA 1.5) not found; set CASECODER_REFIQDA_XSD "
                            "or install it as casecoder/data/Project.xsd")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           load_dtd=False, dtd_validation=False)


@functools.lru_cache(maxsize=2)
def _schema(kind: str) -> etree.XMLSchema:
    if kind == "codebook":
        doc = etree.fromstring(CODEBOOK_XSD.encode("utf-8"), _parser())
    else:
        doc = etree.fromstring(project_xsd_path().read_bytes(), _parser())
    return etree.XMLSchema(doc)


def _parse_xml(data: bytes, path: str, member: str) -> etree._Element:
    """Parse untrusted XML: DTDs refused (CC603), syntax errors named by line (CC601)."""
    import defusedxml
    import defusedxml.ElementTree as safe_et

    try:
        safe_et.fromstring(data, forbid_dtd=True, forbid_entities=True,
                           forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise CasecoderError(
            "CC603", path=path,
            reason=f"{member} declares a DTD or entities ({type(exc).__name__}); REFI-QDA "
            "files have none, and entity declarations can expand without bound") from None
    except Exception:  # noqa: BLE001 - syntax errors are reported by lxml below, with lines
        pass
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else 0)
        raise CasecoderError("CC601", path=path,
                             reason=f"{member} line {line}: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise CasecoderError("CC603", path=path,
                             reason=f"{member} declares a DTD; REFI-QDA files have none")
    return root


def _schema_errors(root: etree._Element, kind: str) -> str | None:
    schema = _schema(kind)
    if schema.validate(root):
        return None
    err = schema.error_log[0]
    return f"line {err.line}: {err.message}"


def validate(source: str | os.PathLike[str] | bytes) -> str:
    """Validate a REFI-QDA file or its XML against the standard's schema.

    Parameters
    ----------
    source : str, path-like or bytes
        A ``.qdpx`` archive (its ``project.qde`` is checked), a ``.qde`` project XML or a
        ``.qdc`` codebook XML, as a path or as bytes.

    Returns
    -------
    str
        ``"project"`` or ``"codebook"``: the schema the file was checked against
        (``Project.xsd`` or the codebook schema of section 5.2).

    Raises
    ------
    CasecoderError
        CC606 when the XML is malformed or does not validate, naming the line; CC601
        when the archive or an entry of it is damaged.
    """
    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), "<bytes>"
        if data[:4] == b"PK\x03\x04":
            with _Archive(Path(label), data) as archive:
                info = archive.find("project.qde")
                if info is None:
                    raise CasecoderError("CC606", reason=f"{label} has no project.qde")
                data = archive.read(info)
    else:
        p = Path(source)
        label = str(p)
        if not p.is_file():
            raise CasecoderError("CC108", path=label)
        if zipfile.is_zipfile(p):
            with _Archive(p) as archive:
                info = archive.find("project.qde")
                if info is None:
                    raise CasecoderError("CC606", reason=f"{label} has no project.qde")
                data = archive.read(info)
        else:
            data = p.read_bytes()
    try:
        root = _parse_xml(data, label, "the XML")
    except CasecoderError as exc:
        raise CasecoderError("CC606", reason=exc.message) from None
    kind = "codebook" if etree.QName(root).namespace == CODEBOOK_NS else "project"
    problem = _schema_errors(root, kind)
    if problem:
        raise CasecoderError("CC606", reason=f"{label} {problem}")
    return kind


# -- archives -------------------------------------------------------------------------------

class _Archive:
    """A .qdpx archive opened for reading, with its entries checked before any is read."""

    def __init__(self, path: Path, data: bytes | None = None) -> None:
        self.path = str(path)
        try:
            self.zf = zipfile.ZipFile(path if data is None else io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            raise CasecoderError("CC601", path=self.path,
                                 reason=f"it is not a ZIP archive ({exc})") from None
        try:
            self._check()
        except BaseException:
            self.zf.close()
            raise

    def _check(self) -> None:
        infos = self.zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise CasecoderError("CC603", path=self.path,
                                 reason=f"{len(infos)} entries, more than {MAX_ENTRIES}")
        total = 0
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            parts = re.split(r"[\\/]", name)
            if ("\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name)
                    or ".." in parts):
                raise CasecoderError("CC603", path=self.path,
                                     reason=f"entry {name!r} is an absolute path or climbs "
                                     "out of the archive with '..'")
            if info.flag_bits & 0x1:
                raise CasecoderError("CC603", path=self.path,
                                     reason=f"entry {name!r} is encrypted")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise CasecoderError("CC603", path=self.path,
                                     reason="the entries unpack to more than "
                                     f"{MAX_TOTAL_BYTES // (1024 * 1024)} MB")
            if info.file_size > RATIO_FLOOR and \
                    info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise CasecoderError("CC603", path=self.path,
                                     reason=f"entry {name!r} is compressed more than "
                                     f"{MAX_RATIO}:1 (a ZIP bomb?)")
            key = name.replace("\\", "/").lower()
            if key in self.entries:
                raise CasecoderError("CC603", path=self.path,
                                     reason=f"entry {name!r} appears twice")
            self.entries[key] = info

    def find(self, name: str) -> zipfile.ZipInfo | None:
        """The entry called ``name`` (matched without regard to case, as the spec's own
        example writes ``Sources/…TXT`` for ``internal://….txt``)."""
        return self.entries.get(name.lower())

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """The entry's bytes; a damaged entry (bad CRC, broken deflate data, cut short) is
        refused with CC601 naming it."""
        out = bytearray()
        try:
            with self.zf.open(info) as fh:
                while True:
                    chunk = fh.read(1 << 20)
                    if not chunk:
                        break
                    out += chunk
                    if len(out) > info.file_size:
                        raise CasecoderError("CC603", path=self.path,
                                             reason=f"entry {info.filename!r} unpacks to "
                                             "more than its declared size")
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            why = str(exc).replace(f" for file {info.filename!r}", "") or "it ends early"
            raise CasecoderError("CC601", path=self.path,
                                 reason=f"the entry {info.filename!r} is damaged ({why}); the "
                                 "archive was changed or cut short after it was written. "
                                 "Export it again from the tool that made it") from None
        except NotImplementedError as exc:
            raise CasecoderError("CC601", path=self.path,
                                 reason=f"the entry {info.filename!r} cannot be unpacked "
                                 f"({exc}); save the project again with ordinary ZIP "
                                 "(deflate) compression") from None
        return bytes(out)

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zf.close()


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    """A deterministic ZIP: sorted entries, fixed dates and permissions."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


# -- small helpers --------------------------------------------------------------------------

def _guid(*parts: object) -> str:
    return str(uuid.uuid5(_GUID_NS, "\x1f".join(str(p) for p in parts)))


def _norm_guid(value: str) -> str:
    return value.strip().strip("{}").lower()


def _xml_safe(text: str) -> str:
    return _XML_BAD.sub("\ufffd", text)


def _preview(text: str, n: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[:n] + "…"


def _slug(name: str) -> str:
    s = re.sub(r"[\s.]+", "_", name.strip()).strip("_")
    return "".join(ch.lower() if ch.isascii() else ch for ch in s) or "code"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _kids(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and _local(c) == name]


def _kid(el: etree._Element, name: str) -> etree._Element | None:
    found = _kids(el, name)
    return found[0] if found else None


def _text(el: etree._Element | None) -> str:
    return "" if el is None else (el.text or "")


def _sub(parent: etree._Element, ns: str, tag: str, attrs: dict[str, Any] | None = None,
         text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for key, value in (attrs or {}).items():
        if value is not None:
            el.set(key, _xml_safe(str(value)))
    if text is not None:
        el.text = _xml_safe(text)
    return el


def _xml_bytes(root: etree._Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(
        root, encoding="UTF-8", xml_declaration=False, pretty_print=True)


def _checked_bytes(root: etree._Element, kind: str) -> bytes:
    """The serialised XML, validated as written (so errors name real lines)."""
    data = _xml_bytes(root)
    problem = _schema_errors(etree.fromstring(data, _parser()), kind)
    if problem:
        what = "project.qde" if kind == "project" else "the codebook"
        raise CasecoderError("CC606", reason=f"{what} {problem}")
    return data


def _meta(store: Store, key: str) -> Any:
    row = store.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def _set_meta(store: Store, key: str, value: Any) -> None:
    store.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (key, json.dumps(value, ensure_ascii=False, sort_keys=True)))


# -- codes <-> REFI Code elements ---------------------------------------------------------------

def code_description(code: Code) -> str:
    """The ``Description`` of a code's REFI element: a YAML mapping opening ``id: <id>``.

    Holds every field of the code except its label (the element's ``name``) and parent
    (the nesting), leaving out empty ones, so the code comes back whole on import.
    """
    meta: dict[str, Any] = {"id": code.id}
    for key in ("gloss", "definition", "include", "exclude"):
        if getattr(code, key):
            meta[key] = getattr(code, key)
    meta["layer"] = code.layer
    if code.theory:
        meta["theory"] = list(code.theory)
    if code.manual:
        meta["manual"] = True
    for key in ("examples", "counter_examples", "see_also"):
        if getattr(code, key, None):
            meta[key] = list(getattr(code, key))
    rules = _rules_dict(code.rules)
    if rules:
        meta["rules"] = rules
    return yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10**6,
                          default_flow_style=False).rstrip("\n")


def _rules_dict(rules: CodeRules) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("keywords", "synonyms", "negative_keywords", "patterns", "exclusions"):
        if getattr(rules, key):
            out[key] = list(getattr(rules, key))
    if rules.proximity:
        out["proximity"] = [dict(p) for p in rules.proximity]
    if rules.negation != "veto":
        out["negation"] = rules.negation
    if rules.speakers is not None:
        out["speakers"] = list(rules.speakers)
    return out


def _has_rules(code: Code) -> bool:
    """True when a rule can fire (as :mod:`casecoder.codebook` counts them)."""
    r = code.rules
    return bool(r.keywords or r.synonyms or r.negative_keywords or r.patterns or r.proximity)


def _parse_description(text: str) -> dict[str, Any] | None:
    """The casecoder mapping of a code ``Description``, or None for free text."""
    if not text.startswith("id:") or len(text) > 1_000_000:
        return None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                return None
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
            or not _ID.match(data["id"]):
        return None
    return data


def _strs(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def _code_from_meta(meta: dict[str, Any], label: str) -> Code:
    code = Code(id=meta["id"], label=label or meta["id"])
    for key in ("gloss", "definition", "include", "exclude"):
        if isinstance(meta.get(key), str):
            setattr(code, key, meta[key])
    if isinstance(meta.get("layer"), str):
        code.layer = meta["layer"]
    code.theory = _strs(meta.get("theory"))
    code.manual = meta.get("manual") is True
    code.examples = _strs(meta.get("examples"))
    code.counter_examples = _strs(meta.get("counter_examples"))
    code.see_also = _strs(meta.get("see_also"))
    r = meta.get("rules") if isinstance(meta.get("rules"), dict) else {}
    rules = CodeRules()
    for key in ("keywords", "synonyms", "negative_keywords", "patterns", "exclusions"):
        setattr(rules, key, _strs(r.get(key)))
    rules.proximity = [p for p in r.get("proximity") or [] if isinstance(p, dict)]
    if isinstance(r.get("negation"), str):
        rules.negation = r["negation"]
    if isinstance(r.get("speakers"), list):
        rules.speakers = _strs(r["speakers"])
    code.rules = rules
    return code


@dataclass
class CodeTree:
    """Codes read from REFI XML, with what casecoder's model has no field for.

    Attributes
    ----------
    codes : dict
        Code id -> :class:`~casecoder.models.Code`, in document order (parents first).
    guids : dict
        Code id -> the GUID in the file (normalised: lower case, no braces).
    colors : dict
        Code id -> ``#rrggbb`` colour, where the file gives one.
    warnings : list of str
        What was changed or dropped on the way in.
    by_guid : dict
        GUID -> code id (the inverse of ``guids``).
    note_refs : dict
        Code id -> GUIDs of the notes its element refers to.
    """

    codes: dict[str, Code] = field(default_factory=dict)
    guids: dict[str, str] = field(default_factory=dict)
    colors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    by_guid: dict[str, str] = field(default_factory=dict)
    note_refs: dict[str, list[str]] = field(default_factory=dict)


def _read_codes(codes_el: etree._Element, path: str) -> CodeTree:
    tree = CodeTree()
    elements: list[tuple[etree._Element, str | None]] = []

    def walk(el: etree._Element, parent_guid: str | None) -> None:
        for child in _kids(el, "Code"):
            elements.append((child, parent_guid))
            walk(child, _norm_guid(child.get("guid", "")))

    walk(codes_el, None)
    metas: dict[int, dict[str, Any] | None] = {}
    reserved: set[str] = set()
    for n, (el, _parent) in enumerate(elements):
        meta = _parse_description(_text(_kid(el, "Description")))
        if meta is not None and meta["id"] in reserved:
            tree.warnings.append(f"code id {meta['id']!r} appears twice (line "
                                 f"{el.sourceline}); the second gets a new id")
            meta = None
        if meta is not None:
            reserved.add(meta["id"])
        metas[n] = meta
    used: set[str] = set()
    for n, (el, parent_guid) in enumerate(elements):
        guid = _norm_guid(el.get("guid", ""))
        if guid in tree.by_guid:
            raise CasecoderError("CC602", path=path, line=el.sourceline,
                                 reason=f"code GUID {guid} is used twice")
        name = el.get("name", "")
        parent_id = tree.by_guid.get(parent_guid) if parent_guid else None
        meta = metas[n]
        if meta is not None:
            code = _code_from_meta(meta, name)
        else:
            base = _slug(name)
            if parent_id:
                base = f"{parent_id}.{base}"
            cid, k = base, 2
            while cid in used or cid in reserved:
                cid, k = f"{base}_{k}", k + 1
            code = Code(id=cid, label=name or cid,
                        definition=_text(_kid(el, "Description")).strip(), manual=True)
        code.parent = parent_id
        if el.get("isCodable", "true").strip() in ("false", "0"):
            code.layer = "group"
        used.add(code.id)
        tree.codes[code.id] = code
        tree.guids[code.id] = guid
        tree.by_guid[guid] = code.id
        if el.get("color"):
            tree.colors[code.id] = el.get("color").strip()
        refs = [_norm_guid(r.get("targetGUID", "")) for r in _kids(el, "NoteRef")]
        if refs:
            tree.note_refs[code.id] = refs
    parents = {c.parent for c in tree.codes.values() if c.parent}
    for code in tree.codes.values():
        if not code.manual and not _has_rules(code) and code.id not in parents:
            code.manual = True  # a leaf no rule can fire: coded by hand only
        dropped = [s for s in code.see_also if s not in tree.codes]
        if dropped:
            tree.warnings.append(f"code {code.id!r}: see_also {', '.join(dropped)} dropped "
                                 "(not in the file)")
            code.see_also = [s for s in code.see_also if s in tree.codes]
    return tree


def _children(codes: dict[str, Code]) -> tuple[list[str], dict[str, list[str]]]:
    roots: list[str] = []
    kids: dict[str, list[str]] = {}
    for cid, code in codes.items():
        if code.parent is not None and code.parent in codes and code.parent != cid:
            kids.setdefault(code.parent, []).append(cid)
        else:
            roots.append(cid)
    return roots, kids


def _code_elements(parent: etree._Element, ns: str, codes: dict[str, Code],
                   guids: dict[str, str], colors: dict[str, str],
                   notes: dict[str, list[str]] | None = None) -> None:
    roots, kids = _children(codes)
    seen: set[str] = set()

    def emit(where: etree._Element, cid: str) -> None:
        if cid in seen:
            return
        seen.add(cid)
        code = codes[cid]
        el = _sub(where, ns, "Code", {"guid": guids[cid], "name": code.label or cid,
                                      "isCodable": "false" if code.layer == "group" else "true",
                                      "color": colors.get(cid)})
        _sub(el, ns, "Description", text=code_description(code))
        for note in (notes or {}).get(cid, []):
            _sub(el, ns, "NoteRef", {"targetGUID": note})
        for child in kids.get(cid, []):
            emit(el, child)

    for cid in roots:
        emit(parent, cid)


def _with_used(codes: dict[str, Code], used: list[str]) -> dict[str, Code]:
    """``codes`` plus a bare manual code for every used id it lacks (parent: the longest
    dotted prefix that is a code)."""
    out = dict(codes)
    for cid in sorted(set(used) - set(codes)):
        parts = cid.split(".")
        parent = next((".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)
                       if ".".join(parts[:n]) in out), None)
        out[cid] = Code(id=cid, label=cid, parent=parent, manual=True)
    return out


_COMMENT = re.compile(r"^\s*-?\s*id:\s*(?P<id>.+?)\s+#\s*refi-qda:\s*guid=(?P<guid>[0-9a-fA-F{}-]+)"
                      r"(?:;\s*color=(?P<color>#[0-9A-Fa-f]{3,6}))?\s*$")


def _yaml_refi_comments(codebook: Codebook) -> tuple[dict[str, str], dict[str, str]]:
    """GUIDs and colours kept as ``# refi-qda:`` comments in the codebook's YAML file.

    Read only when the file is the one the codebook was loaded from (same SHA-256).
    """
    guids: dict[str, str] = {}
    colors: dict[str, str] = {}
    p = Path(codebook.path) if codebook.path else None
    if p is None or not p.is_file():
        return guids, colors
    data = p.read_bytes()
    if hashlib.sha256(data).hexdigest() != codebook.sha256:
        return guids, colors
    for line in data.decode("utf-8-sig", errors="replace").splitlines():
        m = _COMMENT.match(line)
        if not m:
            continue
        try:
            cid = yaml.safe_load(m.group("id"))
        except yaml.YAMLError:
            continue
        if isinstance(cid, str) and cid in codebook.codes and _GUID_RX.match(m.group("guid")):
            guids[cid] = _norm_guid(m.group("guid"))
            if m.group("color"):
                colors[cid] = m.group("color")
    return guids, colors


def _code_guids(codes: dict[str, Code], *known: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: set[str] = set()
    for cid in codes:
        guid = next((k[cid] for k in known if cid in k), None) or _guid("code", cid)
        if guid in taken:  # a GUID claimed twice: keep the first, derive the second
            guid = _guid("code", cid)
        taken.add(guid)
        out[cid] = guid
    return out


# -- QDC ----------------------------------------------------------------------------------

def export_qdc(codebook: Codebook, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``codebook`` as a REFI-QDA codebook file (``.qdc``), atomically.

    Parameters
    ----------
    codebook : Codebook
        The codebook (see :func:`casecoder.codebook.load_codebook`).
    path : str or path-like
        The ``.qdc`` file to write.

    Returns
    -------
    dict
        ``path`` and ``codes`` (the number written).

    Raises
    ------
    CasecoderError
        CC606 if the XML does not validate (a bug); CC007 if the file cannot be written.
    """
    guids, colors = _yaml_refi_comments(codebook)
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS})
    root.set("origin", ORIGIN)
    codes_el = _sub(root, CODEBOOK_NS, "Codes")
    _code_elements(codes_el, CODEBOOK_NS, codebook.codes,
                   _code_guids(codebook.codes, guids), colors)
    write_bytes(path, _checked_bytes(root, "codebook"))
    return {"path": str(path), "codes": len(codebook.codes)}


def read_qdc(path: str | os.PathLike[str]) -> tuple[Codebook, CodeTree]:
    """Read a ``.qdc`` file: the codebook and what the model has no field for.

    Returns
    -------
    (Codebook, CodeTree)
        The codebook (``name`` from the file stem, ``sha256`` of the file's bytes) and the
        tree with the file's GUIDs, colours and any warnings.

    Raises
    ------
    CasecoderError
        CC108 missing file; CC603 too large or with a DTD; CC601 malformed XML; CC602 not
        valid against the codebook schema (naming the line).
    """
    p = Path(path)
    if not p.is_file():
        raise CasecoderError("CC108", path=str(p))
    if p.stat().st_size > MAX_QDC_BYTES:
        raise CasecoderError("CC603", path=str(p),
                             reason=f"larger than {MAX_QDC_BYTES // (1024 * 1024)} MB")
    data = p.read_bytes()
    root = _parse_xml(data, str(p), p.name)
    if root.tag != f"{{{CODEBOOK_NS}}}CodeBook":
        raise CasecoderError("CC601", path=str(p),
                             reason=f"the root element is {root.tag}; expected CodeBook in "
                             f"namespace {CODEBOOK_NS}")
    problem = _schema_errors(root, "codebook")
    if problem:
        line, _, reason = problem.partition(": ")
        raise CasecoderError("CC602", path=str(p), line=line.removeprefix("line "),
                             reason=reason)
    tree = _read_codes(_kid(root, "Codes"), str(p))
    cb = Codebook(name=_slug(p.stem).replace(".", "_"), path=str(p),
                  sha256=hashlib.sha256(data).hexdigest(), codes=tree.codes)
    return cb, tree


def import_qdc(path: str | os.PathLike[str],
               out: str | os.PathLike[str] | None = None) -> Codebook:
    """Read a REFI-QDA codebook; with ``out``, write it as a casecoder YAML codebook.

    Codes keep their hierarchy; codes without rules are ``manual: true``. With ``out`` the
    YAML is written atomically, loaded back with :func:`casecoder.codebook.load_codebook`
    (so it is known to be valid) and that codebook is returned.

    Raises
    ------
    CasecoderError
        As :func:`read_qdc`, and the codebook loader's errors if the YAML does not load.
    """
    cb, tree = read_qdc(path)
    if out is None:
        return cb
    write_codebook_yaml(cb, out, tree.guids, tree.colors, note=f"imported from {Path(path).name}")
    from casecoder.codebook import load_codebook

    return load_codebook(out)


def write_codebook_yaml(codebook: Codebook, path: str | os.PathLike[str],
                        guids: dict[str, str] | None = None,
                        colors: dict[str, str] | None = None, note: str = "") -> None:
    """Write ``codebook`` atomically as a casecoder YAML codebook (see ``docs/codebook.md``).

    GUIDs and colours from another tool go in ``# refi-qda: guid=…; color=…`` comments on
    each code's ``id:`` line, where :func:`export_qdc` finds them again.

    Raises
    ------
    CasecoderError
        CC007 when ``path`` cannot be written; nothing is written then.
    """
    guids, colors = guids or {}, colors or {}
    head = [f"# casecoder codebook{' ' + note if note else ''} ({ORIGIN}).",
            "# Codes without rules are manual: true. `# refi-qda:` comments keep the GUIDs and",
            "# colours of the REFI-QDA file; `casecoder export qdc` writes them back.",
            yaml.safe_dump({"codebook": codebook.name}, allow_unicode=True).rstrip("\n")]
    for key in ("title", "version"):
        if getattr(codebook, key):
            head.append(yaml.safe_dump({key: getattr(codebook, key)}, allow_unicode=True,
                                       width=10**6).rstrip("\n"))
    lines = head + ["codes:"]
    parents = {c.parent for c in codebook.codes.values() if c.parent}
    for cid, code in codebook.codes.items():
        item: dict[str, Any] = {"id": cid, "label": code.label or cid}
        if code.parent:
            item["parent"] = code.parent
        meta = yaml.safe_load(code_description(code))
        meta.pop("id")
        item.update(meta)
        if not code.manual and not _has_rules(code) and cid not in parents:
            item["manual"] = True
        text = yaml.safe_dump([item], allow_unicode=True, sort_keys=False, width=10**6,
                              default_flow_style=False).rstrip("\n").split("\n")
        if (cid in guids and guids[cid] != _guid("code", cid)) or cid in colors:
            text[0] += f"  # refi-qda: guid={guids.get(cid) or _guid('code', cid)}"
            if cid in colors:
                text[0] += f"; color={colors[cid]}"
        lines += ["  " + t for t in text]
    write_text(path, "\n".join(lines) + "\n")


# -- project export ------------------------------------------------------------------------------

@dataclass
class _User:
    guid: str
    name: str
    id: str | None = None


class _Variables:
    """Project-level variables: one type per name, values typed at the end."""

    def __init__(self, known: dict[str, dict[str, Any]]) -> None:
        self.known = known
        self.values: dict[str, list[Any]] = {}

    def add(self, name: str, value: Any) -> None:
        if value is not None:
            self.values.setdefault(name, []).append(value)

    def type_of(self, name: str) -> str:
        vals = self.values.get(name, [])
        want = self.known.get(name, {}).get("type")
        if want in ("Date", "DateTime") and all(
                isinstance(v, str) and (_DATE if want == "Date" else _DATETIME).match(v)
                for v in vals):
            return want
        if vals and all(isinstance(v, bool) for v in vals):
            return "Boolean"
        if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return "Integer"
        if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and v == v and v not in (float("inf"), float("-inf")) for v in vals):
            return "Float"
        return "Text"

    def guid(self, name: str) -> str:
        return self.known.get(name, {}).get("guid") or _guid("variable", name)


def _value_text(value: Any, kind: str) -> str:
    if kind == "Boolean":
        return "true" if value else "false"
    if kind == "Float":
        return format(Decimal(repr(float(value))), "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


_VALUE_TAGS = {"Text": "TextValue", "Boolean": "BooleanValue", "Integer": "IntegerValue",
               "Float": "FloatValue", "Date": "DateValue", "DateTime": "DateTimeValue"}


def _case_variables(case: Case) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in sorted(case.attributes.items()):
        if not str(key).startswith("_"):
            out.append((str(key), value))
    for key, value in sorted(case.conditions.items()):
        out.append((str(key), value))
    for key, value in sorted(case.outcome.items()):
        out.append(("result" if key == "result" else f"outcome.{key}", value))
    if case.transfers:
        out.append(("transfers", case.transfers))
    return out


def _memo_rows(store: Store) -> list[dict[str, Any]]:
    from casecoder.memos import list_memos

    return list_memos(store)


def export_qdpx(store: Store, path: str | os.PathLike[str], codebook: Codebook | None = None,
                passes: list[str] | None = None, include_graph: bool = True) -> dict[str, Any]:
    """Write the project as a REFI-QDA project archive (``.qdpx``), atomically.

    Parameters
    ----------
    store : Store
        The open project store.
    path : str or path-like
        The ``.qdpx`` file to write.
    codebook : Codebook, optional
        Codes to export with their labels, definitions and hierarchy. Without it, the
        codebook kept from a REFI-QDA import is used. Either way, every code used by an
        exported coding, link or memo is included.
    passes : list of str, optional
        Passes to export (default: all). Each pass is a ``User``.
    include_graph : bool, default=True
        Add a ``Graph`` per pass that has links.

    Returns
    -------
    dict
        Counts of what was written (``sources``, ``codes``, ``users``, ``selections``,
        ``codings``, ``cases``, ``notes``, ``links``) and ``skipped`` memos whose target
        is not in the export.

    Raises
    ------
    CasecoderError
        CC004 no sources; CC006 unknown pass; CC606 invalid XML (a bug); CC007 unwritable.
    """
    from casecoder.links import stored_links

    sources = store.sources()
    if not sources:
        raise CasecoderError("CC004", what="sources",
                             hint="Ingest sources first: `casecoder ingest cases/`.")
    all_passes = store.passes()
    if passes is not None:
        for name in passes:
            store.require_pass(name)
        pass_rows = [p for p in all_passes if p["name"] in set(passes)]
    else:
        pass_rows = all_passes
    by_id = {s.id: s for s in sources}
    codings: list[Coding] = []
    links: list[Link] = []
    for p in pass_rows:
        codings += [c for c in store.codings(pass_name=p["name"]) if c.source_id in by_id]
        links += [lk for lk in stored_links(store, p["name"]) if lk.source_id in by_id]
    cases = store.cases()
    memos = _memo_rows(store)
    stored = _stored_codebook(store)
    if codebook is not None:
        yaml_guids, colors = _yaml_refi_comments(codebook)
        codes = dict(codebook.codes)
        known = [stored.guids, yaml_guids]
        colors = {**colors, **stored.colors}
    else:
        codes, known, colors = dict(stored.codes), [stored.guids], dict(stored.colors)
    used = [c.code for c in codings] + [lk.from_code for lk in links] + \
        [lk.to_code for lk in links] + [m["target_id"] for m in memos if m["target_type"] == "code"
                                        and _ID.match(m["target_id"])]
    codes = _with_used(codes, used)
    code_guid = _code_guids(codes, *known)

    # users: one per pass, then memo authors who are not already a user
    users: dict[str, _User] = {}
    pass_user: dict[str, _User] = {}
    pass_coder: dict[str, str] = {}
    for p in pass_rows:
        opts = (p["options"] or {}).get("refiqda", {}) if isinstance(p["options"], dict) else {}
        user = _User(opts.get("user_guid") or _guid("pass", p["name"]),
                     opts.get("user_name") or p["name"], opts.get("user_id") or p["coder"])
        if user.guid in users or user.name in {u.name for u in users.values()}:
            # the same file imported twice: two passes, one original user; keep them apart
            user = _User(_guid("pass", p["name"]), p["name"], p["coder"])
        users[user.guid] = user
        pass_user[p["name"]] = user
        pass_coder[p["name"]] = p["coder"]
    by_user_name = {u.name: u for u in users.values()}
    author_user: dict[str, _User] = {}
    for m in memos:
        a = m["author"]
        if a in author_user:
            continue
        user = by_user_name.get(a) or (pass_user.get(a))
        if user is None:
            user = _User(_guid("author", a), a)
            users[user.guid] = user
            by_user_name[a] = user
        author_user[a] = user

    source_guid = {s.id: (s.attributes.get("_refiqda") or {}).get("guid")
                   or _guid("source", s.name) for s in sources}
    case_guid = {c.id: _guid("case", c.id) for c in cases}
    notes, note_targets, skipped = _notes(memos, author_user, codes, sources, source_guid,
                                          case_guid)
    code_notes: dict[str, list[str]] = {}
    source_notes: dict[int, list[str]] = {}
    case_notes: list[tuple[str, str]] = []
    for note_guid, (ttype, target) in note_targets:
        if ttype == "code":
            code_notes.setdefault(target, []).append(note_guid)
        elif ttype == "source":
            source_notes.setdefault(target, []).append(note_guid)
        else:
            case_notes.append((note_guid, target))

    root = etree.Element(f"{{{PROJECT_NS}}}Project", nsmap={None: PROJECT_NS})
    root.set("name", _xml_safe(_meta(store, META_PROJECT) or store.project.resolve().name))
    root.set("origin", ORIGIN)
    ns = PROJECT_NS
    if users:
        users_el = _sub(root, ns, "Users")
        for user in sorted(users.values(), key=lambda u: (u.name, u.guid)):
            _sub(users_el, ns, "User", {"guid": user.guid, "name": user.name, "id": user.id})
    if codes:
        book = _sub(root, ns, "CodeBook")
        _code_elements(_sub(book, ns, "Codes"), ns, codes, code_guid, colors, code_notes)

    variables = _Variables(_meta(store, META_VARIABLES) or {})
    case_vars = {c.id: _case_variables(c) for c in cases}
    for pairs in case_vars.values():
        for name, value in pairs:
            variables.add(name, value)
    source_vars: dict[int, list[tuple[str, Any]]] = {}
    for s in sources:
        pairs = [(SOURCE_KIND_VAR, s.kind)]
        extra = (s.attributes.get("_refiqda") or {}).get("variables") or {}
        pairs += sorted((k, v) for k, v in extra.items() if k != SOURCE_KIND_VAR)
        source_vars[s.id] = pairs
        for name, value in pairs:
            variables.add(name, value)
    var_names = sorted(variables.values)
    var_type = {n: variables.type_of(n) for n in var_names}
    if var_names:
        vars_el = _sub(root, ns, "Variables")
        for name in var_names:
            _sub(vars_el, ns, "Variable", {"guid": variables.guid(name), "name": name,
                                           "typeOfVariable": var_type[name]})

    def values(parent: etree._Element, pairs: list[tuple[str, Any]]) -> None:
        for name, value in pairs:
            if value is None:
                continue
            vv = _sub(parent, ns, "VariableValue")
            _sub(vv, ns, "VariableRef", {"targetGUID": variables.guid(name)})
            _sub(vv, ns, _VALUE_TAGS[var_type[name]], text=_value_text(value, var_type[name]))

    if cases:
        cases_el = _sub(root, ns, "Cases")
        for case in cases:
            el = _sub(cases_el, ns, "Case", {"guid": case_guid[case.id], "name": case.id})
            if case.title and case.title != case.id:
                _sub(el, ns, "Description", text=case.title)
            values(el, case_vars[case.id])
            for s in sources:
                if s.case_id == case.id:
                    _sub(el, ns, "SourceRef", {"targetGUID": source_guid[s.id]})

    # selections: one per span of a source, holding the codings on it
    spans: dict[int, dict[tuple[int, int], list[Coding]]] = {s.id: {} for s in sources}
    for c in codings:
        spans[c.source_id].setdefault((c.start_char, c.end_char), []).append(c)
    for lk in links:
        spans[lk.source_id].setdefault((lk.start_char, lk.end_char), [])
    n_sel = n_cod = 0
    sel_guid: dict[tuple[int, int, int], str] = {}
    files: dict[str, bytes] = {}
    sources_el = _sub(root, ns, "Sources")
    for s in sources:
        sguid = source_guid[s.id]
        info = s.attributes.get("_refiqda") or {}
        creator = info.get("creating_user") if info.get("creating_user") in users else None
        el = _sub(sources_el, ns, "TextSource", {
            "guid": sguid, "name": s.name, "plainTextPath": f"internal://{sguid}.txt",
            "creatingUser": creator, "creationDateTime": info.get("created")})
        files[f"sources/{sguid}.txt"] = s.text.encode("utf-8")
        for (start, end), group in sorted(spans[s.id].items()):
            g = _guid("selection", sguid, start, end)
            sel_guid[(s.id, start, end)] = g
            n_sel += 1
            sel = _sub(el, ns, "PlainTextSelection", {
                "guid": g, "name": _preview(s.text[start:end]), "startPosition": start,
                "endPosition": end})
            group = sorted(group, key=lambda c: (pass_user[c.pass_name].name, c.code,
                                                 c.polarity, c.rule, c.id or 0))
            details, coding_els = [], []
            seen: dict[tuple[str, str], int] = {}
            for c in group:
                key = (c.pass_name, c.code)
                seen[key] = seen.get(key, -1) + 1
                cg = _guid("coding", g, pass_user[c.pass_name].guid, c.code, seen[key])
                coding_els.append((cg, c))
                d = _coding_details(c, pass_coder[c.pass_name])
                if d is not None:
                    details.append({"coding": cg, **d})
            if details:
                _sub(sel, ns, "Description", text=DETAILS_HEAD + "\n" + "\n".join(
                    json.dumps(d, ensure_ascii=False, sort_keys=True) for d in details))
            for cg, c in coding_els:
                cel = _sub(sel, ns, "Coding", {"guid": cg,
                                               "creatingUser": pass_user[c.pass_name].guid})
                _sub(cel, ns, "CodeRef", {"targetGUID": code_guid[c.code]})
                n_cod += 1
        for note_guid in source_notes.get(s.id, []):
            _sub(el, ns, "NoteRef", {"targetGUID": note_guid})
        values(el, source_vars[s.id])

    if notes:
        notes_el = _sub(root, ns, "Notes")
        for note in notes:
            el = _sub(notes_el, ns, "Note", {
                "guid": note["guid"], "name": note["name"],
                "creatingUser": note["user"], "creationDateTime": note["created"]})
            _sub(el, ns, "PlainTextContent", text=note["text"])

    link_els: list[dict[str, Any]] = []
    claims: dict[str, list[tuple[str, Link]]] = {}
    seen_links: dict[tuple, int] = {}
    for lk in sorted(links, key=lambda lk: (pass_user[lk.pass_name].name, by_id[lk.source_id].name,
                                            lk.start_char, lk.end_char, lk.from_code,
                                            lk.to_code, lk.connective, lk.evidence_type,
                                            lk.polarity)):
        user = pass_user[lk.pass_name]
        key = (user.guid, source_guid[lk.source_id], lk.start_char, lk.end_char, lk.from_code,
               lk.to_code, lk.connective, lk.evidence_type, lk.polarity)
        seen_links[key] = seen_links.get(key, -1) + 1
        claim = _guid("link", *key, seen_links[key])
        pol = 1 if lk.polarity >= 0 else -1
        link_els.append({"guid": claim, "name": " · ".join(
            [LINK_VERBS[pol], lk.connective, lk.evidence_type, user.name]),
            "direction": "OneWay", "color": LINK_COLORS[pol],
            "originGUID": code_guid[lk.from_code], "targetGUID": code_guid[lk.to_code]})
        link_els.append({"guid": _guid("evidence", claim), "name": EVIDENCE_LINK,
                         "direction": "OneWay",
                         "originGUID": sel_guid[(lk.source_id, lk.start_char, lk.end_char)],
                         "targetGUID": claim})
        claims.setdefault(lk.pass_name, []).append((claim, lk))
    for note_guid, case_id in case_notes:
        link_els.append({"guid": _guid("memo-link", note_guid), "name": CASE_MEMO_LINK,
                         "direction": "OneWay", "originGUID": note_guid,
                         "targetGUID": case_guid[case_id]})
    if link_els:
        links_el = _sub(root, ns, "Links")
        for attrs in link_els:
            _sub(links_el, ns, "Link", attrs)
    if include_graph and claims:
        _graphs(_sub(root, ns, "Graphs"), claims, codes, code_guid, pass_user)

    files["project.qde"] = _checked_bytes(root, "project")
    write_bytes(path, _zip_bytes(files))
    return {"path": str(path), "sources": len(sources), "codes": len(codes),
            "users": len(users), "selections": n_sel, "codings": n_cod, "cases": len(cases),
            "notes": len(notes), "links": len(links), "skipped": skipped}


def _coding_details(c: Coding, pass_coder: str) -> dict[str, Any] | None:
    """casecoder fields of a coding that REFI-QDA has no place for, or None if all default."""
    evidence = [list(e) for e in c.evidence]
    if (c.rule == "" and c.confidence == 1.0 and c.polarity == 1 and c.coder == pass_coder
            and evidence in ([], [[c.start_char, c.end_char]])):
        return None
    return {"rule": c.rule, "confidence": c.confidence, "polarity": c.polarity,
            "evidence": evidence, "coder": c.coder}


def _notes(memos: list[dict[str, Any]], author_user: dict[str, _User], codes: dict[str, Code],
           sources: list[Source], source_guid: dict[int, str], case_guid: dict[str, str]
           ) -> tuple[list[dict[str, Any]], list[tuple[str, tuple[str, Any]]], list[str]]:
    by_name = {s.name: s.id for s in sources}
    notes: list[dict[str, Any]] = []
    targets: list[tuple[str, tuple[str, Any]]] = []
    skipped: list[str] = []
    seen: dict[tuple, int] = {}
    for m in sorted(memos, key=lambda m: (m["target_type"], m["target_id"], m["created"],
                                          m["author"], m["text"], m["id"])):
        ttype, tid = m["target_type"], m["target_id"]
        if ttype == "code" and tid in codes:
            target: tuple[str, Any] = ("code", tid)
        elif ttype == "source" and tid in by_name:
            target = ("source", by_name[tid])
        elif ttype == "case" and tid in case_guid:
            target = ("case", tid)
        else:
            skipped.append(f"memo {m['id']} on {ttype} {tid!r}: the target is not exported")
            continue
        key = (ttype, tid, m["author"], m["created"], m["text"])
        seen[key] = seen.get(key, -1) + 1
        g = _guid("note", *key, seen[key])
        created = m["created"] if _DATETIME.match(m["created"] or "") else None
        notes.append({"guid": g, "name": f"memo on {ttype} {tid}", "text": m["text"],
                      "user": author_user[m["author"]].guid, "created": created})
        targets.append((g, target))
    return notes, targets, skipped


def _graphs(graphs_el: etree._Element, claims: dict[str, list[tuple[str, Link]]],
            codes: dict[str, Code], code_guid: dict[str, str],
            pass_user: dict[str, _User]) -> None:
    ns = PROJECT_NS
    order = {cid: n for n, cid in enumerate(codes)}
    for pass_name in sorted(claims, key=lambda p: pass_user[p].name):
        user = pass_user[pass_name]
        g = _guid("graph", user.guid)
        graph = _sub(graphs_el, ns, "Graph", {"guid": g, "name": f"mechanisms · {user.name}"})
        used = sorted({c for _, lk in claims[pass_name] for c in (lk.from_code, lk.to_code)},
                      key=lambda c: (order.get(c, 10**9), c))
        columns: dict[str, list[str]] = {}
        for cid in used:
            columns.setdefault(cid.split(".")[0], []).append(cid)
        vertex: dict[str, str] = {}
        for col, (_, members) in enumerate(columns.items()):
            for row, cid in enumerate(members):
                x, y = 40 + 240 * col, 40 + 80 * row
                vertex[cid] = _guid("vertex", g, cid)
                _sub(graph, ns, "Vertex", {
                    "guid": vertex[cid], "representedGUID": code_guid[cid],
                    "name": codes[cid].label or cid, "firstX": x, "firstY": y,
                    "secondX": x + 200, "secondY": y + 48, "shape": "RoundedRectangle"})
        for claim, lk in claims[pass_name]:
            pol = 1 if lk.polarity >= 0 else -1
            _sub(graph, ns, "Edge", {
                "guid": _guid("edge", claim), "representedGUID": claim,
                "sourceVertex": vertex[lk.from_code], "targetVertex": vertex[lk.to_code],
                "color": LINK_COLORS[pol], "direction": "OneWay",
                "lineStyle": "solid" if pol > 0 else "dashed"})


def _stored_codebook(store: Store) -> CodeTree:
    """The codebook kept in the store by REFI-QDA imports (empty if none)."""
    tree = CodeTree()
    for row in _meta(store, META_CODEBOOK) or []:
        meta = _parse_description(row["description"]) if row.get("description") else None
        code = _code_from_meta(meta, row["label"]) if meta else Code(id=row["id"],
                                                                      label=row["label"])
        code.parent = row.get("parent")
        tree.codes[code.id] = code
        tree.guids[code.id] = row["guid"]
        if row.get("color"):
            tree.colors[code.id] = row["color"]
    return tree


def stored_codebook(store: Store) -> tuple[Codebook, CodeTree]:
    """The codebook kept in the store by REFI-QDA imports, as a Codebook and its tree.

    Raises
    ------
    CasecoderError
        CC004 when no REFI-QDA import left a codebook in the project.
    """
    tree = _stored_codebook(store)
    if not tree.codes:
        raise CasecoderError("CC004", what="imported codebook",
                             hint="Import a .qdpx project first: `casecoder import qdpx FILE`.")
    data = json.dumps(_meta(store, META_CODEBOOK), sort_keys=True).encode("utf-8")
    cb = Codebook(name="imported", path=str(store.path), sha256=hashlib.sha256(data).hexdigest(),
                  codes=tree.codes)
    return cb, tree


# -- project import --------------------------------------------------------------------------

@dataclass
class _ISource:
    guid: str
    name: str
    text: str
    line: int
    kind: str = "auto"
    variables: dict[str, Any] = field(default_factory=dict)
    created: str | None = None
    creating_user: str | None = None
    case_id: str | None = None
    id: int | None = None


@dataclass
class _ICoding:
    source: str  # source guid
    start: int
    end: int
    code: str
    user: str | None
    guid: str
    line: int = 0
    details: dict[str, Any] | None = None


@dataclass
class _IClaim:
    guid: str
    from_code: str
    to_code: str
    name: str
    line: int


def _offset_map(raw: str) -> tuple[str, Callable[[int], int]]:
    """LF text and the map from offsets in ``raw`` (CRLF/CR line ends) to offsets in it.

    Each CRLF loses its CR, so an offset moves back by the CRs of CRLFs before it; a lone
    CR becomes LF in place.
    """
    crs = [m.start() for m in re.finditer("\r\n", raw)]
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not crs:
        return text, lambda n: n
    return text, lambda n: n - bisect.bisect_left(crs, n) if 0 <= n <= len(raw) else n


def _origin_tag(origin: str) -> str:
    first = origin.strip().split(" ")[0] if origin.strip() else ""
    tag = re.sub(r"[^\w.-]+", "", first.lower())
    return tag or "refiqda"


class _ProjectReader:
    """Reads a validated project.qde into plain records; touches no store."""

    def __init__(self, root: etree._Element, archive: _Archive, path: str) -> None:
        self.root, self.archive, self.path = root, archive, path
        self.origin = root.get("origin", "")
        self.ours = self.origin.startswith("casecoder")
        self.skipped: list[str] = []
        self.warnings: list[str] = []
        self.users: dict[str, _User] = {}
        self.sources: list[_ISource] = []
        self.codings: list[_ICoding] = []
        self.memos: list[tuple[str, str, str, str]] = []  # note guid, type, target, prefix
        self.notes: dict[str, dict[str, Any]] = {}
        self.cases: list[dict[str, Any]] = []
        self.variables: dict[str, dict[str, Any]] = {}
        self.claims: list[_IClaim] = []
        self.evidence: list[tuple[str, str, int]] = []  # selection guid, claim guid, line
        self.selections: dict[str, tuple[str, int, int]] = {}
        self.tree = CodeTree()

    def fail(self, el: etree._Element, reason: str) -> CasecoderError:
        return CasecoderError("CC602", path=self.path, line=el.sourceline, reason=reason)

    def section(self, container: str, name: str) -> list[etree._Element]:
        el = _kid(self.root, container)
        return [] if el is None else _kids(el, name)

    def read(self) -> None:
        for el in self.section("Users", "User"):
            g = _norm_guid(el.get("guid"))
            self.users[g] = _User(g, el.get("name") or el.get("id") or g, el.get("id"))
        book = _kid(self.root, "CodeBook")
        if book is not None:
            self.tree = _read_codes(_kid(book, "Codes"), self.path)
            self.warnings += self.tree.warnings
            for cid, refs in self.tree.note_refs.items():
                self.memos += [(r, "code", cid, "") for r in refs]
        for el in self.section("Variables", "Variable"):
            self.variables[_norm_guid(el.get("guid"))] = {
                "name": el.get("name"), "type": el.get("typeOfVariable"),
                "guid": _norm_guid(el.get("guid"))}
        self.read_sources()
        self.read_cases()
        self.read_notes()
        self.read_links()
        for name in ("Sets", "Graphs"):
            el = _kid(self.root, name)
            if el is not None and not (self.ours and name == "Graphs"):
                self.skipped.append(f"{len(el)} {name.lower()[:-1]}(s): casecoder has no "
                                    f"{name.lower()} (line {el.sourceline})")
        for el in _kids(self.root, "NoteRef"):
            self.skipped.append(f"project note {el.get('targetGUID')}: memos belong to a code, "
                                "case or source")

    # -- sources ------------------------------------------------------------------------
    def read_sources(self) -> None:
        sources_el = _kid(self.root, "Sources")
        if sources_el is None:
            return
        names: set[str] = set()
        for el in sources_el:
            if not isinstance(el.tag, str):
                continue
            kind = _local(el)
            if kind == "TextSource":
                self.read_text_source(el, el.get("name"), names)
            elif kind == "PDFSource" and _kid(el, "Representation") is not None:
                rep = _kid(el, "Representation")
                self.read_text_source(rep, el.get("name") or rep.get("name"), names)
                if _kids(el, "PDFSelection") or _kids(el, "Coding"):
                    self.skipped.append(f"PDF {el.get('name')!r}: page-area selections and "
                                        "codings on the PDF itself (line "
                                        f"{el.sourceline}); its text representation is "
                                        "imported")
            else:
                self.skipped.append(f"{kind} {el.get('name')!r} (line {el.sourceline}): "
                                    "casecoder imports text sources only")

    def _plain_text(self, el: etree._Element, what: str) -> str | None:
        content = _kid(el, "PlainTextContent")
        if content is not None:
            return content.text or ""
        ptp = (el.get("plainTextPath") or "").strip()
        if not ptp:
            return None
        if not ptp.lower().startswith("internal://"):
            self.skipped.append(f"{what} (line {el.sourceline}): its text is outside the "
                                f"archive ({ptp}); casecoder reads only internal files")
            return None
        name = ptp[len("internal://"):]
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise CasecoderError("CC603", path=self.path,
                                 reason=f"plainTextPath {ptp!r} (line {el.sourceline}) is "
                                 "not a file name in sources/")
        info = self.archive.find(f"sources/{name}")
        if info is None:
            raise CasecoderError("CC601", path=self.path,
                                 reason=f"sources/{name}, the text of {what} (project.qde "
                                 f"line {el.sourceline}), is missing from the archive")
        data = self.archive.read(info)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CasecoderError("CC601", path=self.path,
                                 reason=f"sources/{name} is not UTF-8 text (byte {exc.start}); "
                                 "REFI-QDA plain text is UTF-8") from None

    def read_text_source(self, el: etree._Element, name: str | None, names: set[str]) -> None:
        guid = _norm_guid(el.get("guid"))
        raw = self._plain_text(el, f"source {name!r}")
        if raw is None:
            if el.get("plainTextPath") is None and _kid(el, "PlainTextContent") is None:
                self.skipped.append(f"source {name!r} (line {el.sourceline}): no plain text")
            return
        if el.get("richTextPath"):
            self.skipped.append(f"source {name!r}: the rich-text file {el.get('richTextPath')} "
                                "(casecoder keeps the plain text, which selections count in)")
        text, omap = _offset_map(raw)
        base = (name or guid).strip() or guid
        unique, k = base, 2
        while unique in names:
            unique, k = f"{base} ({k})", k + 1
        if unique != base:
            self.warnings.append(f"source name {base!r} appears twice; the second is {unique!r}")
        names.add(unique)
        src = _ISource(guid=guid, name=unique, text=text, line=el.sourceline,
                       created=el.get("creationDateTime"),
                       creating_user=_norm_guid(el.get("creatingUser") or "") or None)
        for vv in _kids(el, "VariableValue"):
            vname, value = self.variable_value(vv)
            if vname == SOURCE_KIND_VAR and value in ("case", "interview"):
                src.kind = value
            elif vname is not None:
                src.variables[vname] = value
        self.sources.append(src)

        def pos(value: str | None, sel: etree._Element) -> int:
            try:
                return omap(int(value or ""))
            except ValueError:
                raise self.fail(sel, f"position {value!r} is not a whole number") from None

        for sel in _kids(el, "PlainTextSelection"):
            sguid = _norm_guid(sel.get("guid"))
            start = pos(sel.get("startPosition"), sel)
            end = pos(sel.get("endPosition"), sel)
            self.selections[sguid] = (guid, start, end)
            codings = _kids(sel, "Coding")
            for c in codings:
                self.coding(c, src, start, end, sel)
            desc = _text(_kid(sel, "Description"))
            details = self.details(desc, sel) if desc.startswith(DETAILS_HEAD) else {}
            for c in self.codings[len(self.codings) - len(codings):]:
                c.details = details.get(c.guid)
            if desc and not desc.startswith(DETAILS_HEAD):
                self.memos.append((f"desc:{sguid}", "source", guid, f"[{start}:{end}] "))
                self.notes[f"desc:{sguid}"] = {"text": desc, "user": _norm_guid(
                    sel.get("creatingUser") or "") or None, "created": sel.get(
                    "creationDateTime") or "", "line": sel.sourceline}
            for ref in _kids(sel, "NoteRef") + [r for c in codings for r in _kids(c, "NoteRef")]:
                self.memos.append((_norm_guid(ref.get("targetGUID")), "source", guid,
                                   f"[{start}:{end}] "))
        for c in _kids(el, "Coding"):
            self.coding(c, src, 0, len(text), c)
        for ref in _kids(el, "NoteRef"):
            self.memos.append((_norm_guid(ref.get("targetGUID")), "source", guid, ""))
        desc = _text(_kid(el, "Description"))
        if desc:
            self.memos.append((f"desc:{guid}", "source", guid, ""))
            self.notes[f"desc:{guid}"] = {"text": desc, "user": src.creating_user,
                                          "created": src.created or "", "line": el.sourceline}

    def coding(self, el: etree._Element, src: _ISource, start: int, end: int,
               where: etree._Element) -> None:
        ref = _kid(el, "CodeRef")
        target = _norm_guid(ref.get("targetGUID")) if ref is not None else ""
        code = self.tree.by_guid.get(target)
        if code is None:
            raise CasecoderError("CC604", path=self.path, line=el.sourceline, code=target,
                                 source=src.name, start=start, end=end,
                                 reason="the code GUID is not in the file's codebook")
        if not 0 <= start <= end <= len(src.text):
            raise CasecoderError("CC604", path=self.path, line=where.sourceline, code=code,
                                 source=src.name, start=start, end=end,
                                 reason=f"the selection lies outside the source text "
                                 f"(length {len(src.text)} code points)")
        self.codings.append(_ICoding(src.guid, start, end, code,
                                     _norm_guid(el.get("creatingUser") or "") or None,
                                     _norm_guid(el.get("guid")), where.sourceline))

    def details(self, desc: str, sel: etree._Element) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for line in desc.split("\n")[1:]:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                raise self.fail(sel, f"a casecoder coding record is not JSON: {line[:60]!r}") \
                    from None
            if not isinstance(d, dict) or not isinstance(d.get("coding"), str):
                raise self.fail(sel, "a casecoder coding record has no coding GUID")
            out[_norm_guid(d["coding"])] = d
        return out

    def variable_value(self, vv: etree._Element) -> tuple[str | None, Any]:
        ref = _kid(vv, "VariableRef")
        var = self.variables.get(_norm_guid(ref.get("targetGUID"))) if ref is not None else None
        if var is None:
            self.warnings.append(f"a variable value (line {vv.sourceline}) names no declared "
                                 "variable; dropped")
            return None, None
        for el in vv:
            if not isinstance(el.tag, str) or _local(el) == "VariableRef":
                continue
            tag, raw = _local(el), (el.text or "").strip()
            if tag == "TextValue":
                return var["name"], el.text or ""
            if tag == "BooleanValue":
                return var["name"], raw in ("true", "1")
            if tag == "IntegerValue":
                return var["name"], int(raw)
            if tag == "FloatValue":
                try:
                    return var["name"], float(Decimal(raw))
                except InvalidOperation:
                    raise self.fail(el, f"{raw!r} is not a decimal number") from None
            return var["name"], raw
        return var["name"], None

    # -- cases ----------------------------------------------------------------------------
    def read_cases(self) -> None:
        for el in self.section("Cases", "Case"):
            guid = _norm_guid(el.get("guid"))
            case = {"guid": guid, "id": (el.get("name") or guid).strip() or guid,
                    "title": _text(_kid(el, "Description")).strip(), "vars": {},
                    "sources": [_norm_guid(r.get("targetGUID")) for r in _kids(el, "SourceRef")],
                    "line": el.sourceline}
            for vv in _kids(el, "VariableValue"):
                name, value = self.variable_value(vv)
                if name is not None:
                    case["vars"][name] = value
            if _kids(el, "CodeRef") or _kids(el, "SelectionRef"):
                self.skipped.append(f"case {case['id']!r}: codes and selections of the case "
                                    f"(line {el.sourceline}); casecoder groups whole sources")
            self.cases.append(case)

    # -- notes and links --------------------------------------------------------------------
    def read_notes(self) -> None:
        for el in self.section("Notes", "Note"):
            guid = _norm_guid(el.get("guid"))
            text = self._plain_text(el, f"note {el.get('name')!r}")
            if text is None:
                continue
            self.notes[guid] = {"text": text, "user": _norm_guid(el.get("creatingUser") or "")
                                or None, "created": el.get("creationDateTime") or "",
                                "line": el.sourceline, "name": el.get("name")}

    def read_links(self) -> None:
        case_ids = {c["guid"]: c["id"] for c in self.cases}
        source_guids = {s.guid for s in self.sources}
        for el in self.section("Links", "Link"):
            origin = _norm_guid(el.get("originGUID") or "")
            target = _norm_guid(el.get("targetGUID") or "")
            name = el.get("name") or ""
            if origin in self.notes and target in case_ids:
                self.memos.append((origin, "case", case_ids[target], ""))
            elif origin in self.notes and target in self.tree.by_guid:
                self.memos.append((origin, "code", self.tree.by_guid[target], ""))
            elif origin in self.notes and target in source_guids:
                self.memos.append((origin, "source", target, ""))
            elif origin in self.notes and target in self.selections:
                sguid, start, end = self.selections[target]
                self.memos.append((origin, "source", sguid, f"[{start}:{end}] "))
            elif origin in self.tree.by_guid and target in self.tree.by_guid:
                self.claims.append(_IClaim(_norm_guid(el.get("guid")),
                                           self.tree.by_guid[origin], self.tree.by_guid[target],
                                           name, el.sourceline))
            elif name == EVIDENCE_LINK and origin in self.selections:
                self.evidence.append((origin, target, el.sourceline))
            else:
                self.skipped.append(f"link {name!r} (line {el.sourceline}): its ends are not "
                                    "a note and a code/case/selection, nor two codes")


def import_qdpx(store: Store, path: str | os.PathLike[str],
                codebook_out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Import a REFI-QDA project archive (``.qdpx``) into the store, all or nothing.

    Text sources (with their text in the archive) become sources with segments; each
    user becomes a pass holding that user's codings (``<origin>:<user name>`` for files
    from other tools, the user name for casecoder's own exports, made unique); codes keep
    their GUIDs and hierarchy in the store; cases, variables, notes (as memos) and
    casecoder's causal links come along.

    Parameters
    ----------
    store : Store
        The open project store.
    path : str or path-like
        The ``.qdpx`` file.
    codebook_out : str or path-like, default=None
        Also write the project's codebook (as :func:`stored_codebook` gives it after the
        import) to this YAML file. It is written inside the import's transaction, as its
        last step: when it cannot be written, the import is rolled back.

    Returns
    -------
    dict
        ``origin``, ``sources`` (added and reused names), ``codes``, ``passes`` (name ->
        number of codings), ``codings``, ``cases``, ``memos``, ``links``, ``skipped``
        (what casecoder cannot represent) and ``warnings``.

    Raises
    ------
    CasecoderError
        CC108 missing file; CC601 not a REFI-QDA archive, a damaged entry, no project.qde,
        malformed XML or a missing text file; CC602 invalid against Project.xsd or
        conflicting with the project (naming the line); CC603 archive or XML refused for
        safety; CC604 a coding that does not fit its source; CC007 ``codebook_out``
        cannot be written; CC004 the project holds no codes to write to ``codebook_out``.
        Nothing is written when any is raised.
    """
    p = Path(path)
    if not p.is_file():
        raise CasecoderError("CC108", path=str(p))
    with _Archive(p) as archive:
        info = archive.find("project.qde")
        if info is None:
            raise CasecoderError("CC601", path=str(p), reason="the archive has no project.qde")
        root = _parse_xml(archive.read(info), str(p), "project.qde")
        if root.tag != f"{{{PROJECT_NS}}}Project":
            raise CasecoderError("CC601", path=str(p),
                                 reason=f"project.qde has the root {root.tag}; expected "
                                 f"Project in namespace {PROJECT_NS}")
        problem = _schema_errors(root, "project")
        if problem:
            line, _, reason = problem.partition(": ")
            raise CasecoderError("CC602", path=f"{p}: project.qde",
                                 line=line.removeprefix("line "), reason=reason)
        reader = _ProjectReader(root, archive, str(p))
        reader.read()
    with store.transaction():
        report = _write_import(store, reader, p)
        if codebook_out is not None:
            cb, tree = stored_codebook(store)
            write_codebook_yaml(cb, codebook_out, tree.guids, tree.colors, note=f"of {p.name}")
        return report


def _write_import(store: Store, r: _ProjectReader, path: Path) -> dict[str, Any]:
    from casecoder.ingest import _number, build_source
    from casecoder.memos import add_memo
    from casecoder.readers import ReadResult, split_front_matter

    run_id = store.start_run("import", {"file": path.name, "format": "qdpx", "origin": r.origin})
    report: dict[str, Any] = {"origin": r.origin, "sources": {"added": [], "reused": []},
                              "codes": len(r.tree.codes), "passes": {}, "codings": 0,
                              "cases": [], "memos": 0, "links": 0,
                              "skipped": r.skipped, "warnings": r.warnings}
    # case membership from <Case>/<SourceRef>, unless a source already names its case
    case_of: dict[str, str] = {}
    for case in r.cases:
        for sguid in case["sources"]:
            if sguid in case_of and case_of[sguid] != case["id"]:
                r.skipped.append(f"source {sguid} is also in case {case['id']!r}; casecoder "
                                 f"keeps one case per source ({case_of[sguid]!r})")
            case_of.setdefault(sguid, case["id"])
    fm_cases: dict[str, Case] = {}
    next_id = (store.db.execute("SELECT MAX(id) FROM segments").fetchone()[0] or 0) + 1
    by_guid: dict[str, _ISource] = {}
    for src in r.sources:
        by_guid[src.guid] = src
        fm: dict[str, Any] = {}
        lines: dict[str, int] = {}
        body = 0
        try:
            fm, lines, body = split_front_matter(src.text, src.name)
        except CasecoderError as exc:
            r.warnings.append(f"source {src.name!r}: front matter not read ({exc.message})")
        read = ReadResult(text=src.text, encoding="utf-8", newline="LF", front_matter=fm,
                          front_lines=lines, body_start=body)
        source, case, spans = build_source(read, src.name, f"{path.name}#{src.guid}", src.kind)
        if source.case_id is None and src.guid in case_of:
            source.case_id = case_of[src.guid]
        src.case_id = source.case_id
        info = {"guid": src.guid}
        if src.created and _DATETIME.match(src.created):
            info["created"] = src.created
        if src.creating_user:
            info["creating_user"] = src.creating_user
        if src.variables:
            info["variables"] = src.variables
        source.attributes["_refiqda"] = info
        prev = store.db.execute(
            "SELECT id, sha256, case_id FROM sources WHERE name = ? AND current = 1",
            (src.name,)).fetchone()
        if prev is not None:
            if prev["sha256"] != source.sha256:
                raise CasecoderError(
                    "CC602", path=f"{path}: project.qde", line=src.line,
                    reason=f"the project already has a source named {src.name!r} with "
                    "different text; import into a new project (`casecoder init`) or rename "
                    "the source")
            src.id, src.case_id = prev["id"], prev["case_id"]
            report["sources"]["reused"].append(src.name)
            continue
        store.add_source(source, f"{path.name}#{src.guid}", run_id)
        src.id = source.id
        if case is not None:
            case.source_id = source.id
            fm_cases[case.id] = case
        segs, next_id = _number(source.id, spans, next_id)
        store.add_segments(segs)
        report["sources"]["added"].append(src.name)
    existing_cases = {row[0] for row in store.db.execute("SELECT id FROM cases")}
    for case in fm_cases.values():
        if case.id not in existing_cases:
            store.upsert_case(case)
            existing_cases.add(case.id)
            report["cases"].append(case.id)
    for c in r.cases:
        if c["id"] in fm_cases:
            continue
        if c["id"] in existing_cases:
            r.warnings.append(f"case {c['id']!r} is already in the project; kept as it was")
            continue
        members = [by_guid[g].id for g in c["sources"] if g in by_guid]
        store.upsert_case(_case_from_vars(c, members[0] if members else None))
        existing_cases.add(c["id"])
        report["cases"].append(c["id"])

    # passes: one per user (casecoder's own memo authors are users but not passes)
    tag = _origin_tag(r.origin)
    taken = {row[0] for row in store.db.execute("SELECT name FROM passes")}

    def unique(base: str) -> str:
        name, k = base, 2
        while name in taken:
            name, k = f"{base}-{k}", k + 1
        taken.add(name)
        return name

    user_pass: dict[str | None, str] = {}
    coders = {c.user for c in r.codings}
    users = list(r.users.values())
    if any(u not in r.users for u in coders):
        users.append(_User("", "unknown"))
    for user in users:
        if r.ours and user.guid == _guid("author", user.name) and user.guid not in coders:
            continue  # a memo author of a casecoder export, not a pass
        name = unique(user.name if r.ours else f"{tag}:{user.name}")
        coder = (user.id or user.name) if r.ours else name
        opts = {"imported_from": path.name, "origin": r.origin,
                "refiqda": {k2: v for k2, v in (("user_guid", user.guid or None),
                                                ("user_name", user.name),
                                                ("user_id", user.id)) if v}}
        store.replace_pass(name, coder, None, None, opts, run_id)
        user_pass[user.guid or None] = name
        report["passes"][name] = 0
    coder_of = {name: (store.db.execute("SELECT coder FROM passes WHERE name = ?", (name,))
                       .fetchone()[0]) for name in user_pass.values()}
    seg_cache: dict[int, dict[tuple[int, int], int]] = {}
    rows = []
    for c in r.codings:
        pass_name = user_pass[c.user if c.user in r.users else None]
        src = by_guid[c.source]
        d = _details(c.details or {}, c, src, r.path, coder_of[pass_name])
        rows.append((pass_name, src.id, c.code, c.start, c.end, json.dumps(d["evidence"]),
                     d["rule"], d["confidence"], d["coder"], d["polarity"],
                     _segment_id(store, seg_cache, src.id, c.start, c.end)))
        report["passes"][pass_name] += 1
    store.add_codings(rows)
    report["codings"] = len(rows)

    # causal links: a claim between two codes with an evidence link from a selection
    claims = {cl.guid: cl for cl in r.claims}
    pass_by_user_name = {r.users[g].name: p for g, p in user_pass.items() if g in r.users}
    for sel_guid, claim_guid, line in r.evidence:
        claim = claims.pop(claim_guid, None)
        if claim is None:
            r.skipped.append(f"evidence link (line {line}) points to no causal claim")
            continue
        parts = claim.name.split(" · ", 3)
        verb = {v: k for k, v in LINK_VERBS.items()}
        if len(parts) != 4 or parts[0] not in verb or parts[3] not in pass_by_user_name:
            r.skipped.append(f"link {claim.name!r} (line {claim.line}): not a casecoder "
                             "causal claim")
            continue
        sguid, start, end = r.selections[sel_guid]
        src = by_guid[sguid]
        store.db.execute(
            "INSERT INTO links (pass, source_id, case_id, from_code, to_code, polarity,"
            " start_char, end_char, connective, evidence_type) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (pass_by_user_name[parts[3]], src.id, src.case_id, claim.from_code, claim.to_code,
             verb[parts[0]], start, end, parts[1], parts[2]))
        report["links"] += 1
    for claim in claims.values():
        r.skipped.append(f"link {claim.name!r} (line {claim.line}) between two codes has no "
                         "evidence in a source; casecoder links need one")

    # memos
    for note_guid, ttype, target, prefix in r.memos:
        note = r.notes.get(note_guid)
        if note is None:
            r.skipped.append(f"note {note_guid}: referenced but not in the file")
            continue
        user = r.users.get(note["user"] or "")
        author = user.name if user else "unknown"
        if ttype == "source":
            if target not in by_guid:
                r.skipped.append(f"note {note_guid}: on a source that was not imported")
                continue
            target = by_guid[target].name
        add_memo(store, ttype, target, prefix + note["text"], author, created=note["created"])
        report["memos"] += 1
    referenced = {m[0] for m in r.memos}
    for guid, note in r.notes.items():
        if guid not in referenced:
            r.skipped.append(f"note {note.get('name')!r} (line {note['line']}): attached to "
                             "nothing casecoder has (memos belong to a code, case or source)")

    _merge_meta(store, r)
    store.end_run(run_id)
    return report


def _details(d: dict[str, Any], c: _ICoding, src: _ISource, path: str,
             coder: str) -> dict[str, Any]:
    """The casecoder fields of an imported coding, checked (they come from the file)."""
    out = {"rule": d.get("rule", ""), "confidence": d.get("confidence", 1.0),
           "polarity": d.get("polarity", 1), "coder": d.get("coder", coder),
           "evidence": d.get("evidence", [[c.start, c.end]])}
    ev = out["evidence"]
    ok = (isinstance(out["rule"], str) and isinstance(out["coder"], str)
          and isinstance(out["confidence"], (int, float)) and not isinstance(
              out["confidence"], bool) and out["polarity"] in (-1, 1)
          and isinstance(ev, list) and all(
              isinstance(e, list) and len(e) == 2 and all(
                  isinstance(x, int) and not isinstance(x, bool) for x in e)
              and 0 <= e[0] <= e[1] <= len(src.text) for e in ev))
    if not ok:
        raise CasecoderError("CC604", path=path, line=c.line, code=c.code, source=src.name,
                             start=c.start, end=c.end,
                             reason="its casecoder record (rule, confidence, polarity, "
                             "evidence inside the text, coder) is malformed")
    out["confidence"] = float(out["confidence"])
    return out


def _segment_id(store: Store, cache: dict[int, dict[tuple[int, int], int]], source_id: int,
                start: int, end: int) -> int | None:
    if source_id not in cache:
        spans: dict[tuple[int, int], int] = {}
        for sid, _kind, s, e in store.db.execute(
                "SELECT id, kind, start_char, end_char FROM segments WHERE source_id = ? "
                "ORDER BY kind != 'sentence', id", (source_id,)):
            spans.setdefault((s, e), sid)
        cache[source_id] = spans
    return cache[source_id].get((start, end))


def _case_from_vars(c: dict[str, Any], source_id: int | None) -> Case:
    attributes: dict[str, Any] = {}
    conditions: dict[str, str] = {}
    outcome: dict[str, Any] = {}
    transfers: list[dict[str, Any]] = []

    def decoded(value: Any) -> Any:
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    for name, value in c["vars"].items():
        if name.startswith("ctx."):
            conditions[name] = str(value)
        elif name == "result":
            outcome["result"] = value
        elif name.startswith("outcome."):
            outcome[name[len("outcome."):]] = decoded(value)
        elif name == "transfers" and isinstance(decoded(value), list):
            transfers = decoded(value)
        else:
            attributes[name] = value
    return Case(id=c["id"], title=c["title"] or c["id"], attributes=attributes,
                conditions=conditions, outcome=outcome, transfers=transfers,
                source_id=source_id)


def _merge_meta(store: Store, r: _ProjectReader) -> None:
    rows = {row["id"]: row for row in _meta(store, META_CODEBOOK) or []}
    order = list(rows)
    for cid, code in r.tree.codes.items():
        if cid not in rows:
            order.append(cid)
        rows[cid] = {"id": cid, "label": code.label, "parent": code.parent,
                     "guid": r.tree.guids[cid], "color": r.tree.colors.get(cid),
                     "description": code_description(code)}
    if order:
        _set_meta(store, META_CODEBOOK, [rows[cid] for cid in order])
    variables = _meta(store, META_VARIABLES) or {}
    for var in r.variables.values():
        if var["name"]:
            variables[var["name"]] = {"guid": var["guid"], "type": var["type"]}
    if variables:
        _set_meta(store, META_VARIABLES, variables)
    if _meta(store, META_PROJECT) is None and r.root.get("name"):
        _set_meta(store, META_PROJECT, r.root.get("name"))
