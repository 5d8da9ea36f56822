"""The catalogue of user-facing errors.

Every error a person can act on has a numbered entry here, grouped by pipeline stage
(CC0xx project and store, CC1xx ingest, CC2xx segment and tokenize, CC3xx codebook and
coding, CC4xx graph, QCA and adaptation, CC5xx distill and export, CC6xx exchange
formats, CC7xx review, agreement and suggestions). Codes are never reused. Each message
says what was found, what was expected and what to do. ``docs/errors.md`` is generated
from this module (``python -m casecoder.errors``) and a test keeps the two in step.

The library raises :class:`CasecoderError`; the CLI prints ``Error: [CCnnn] ...`` to
stderr and exits with status 1.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDef:
    """One catalogue entry: the stage it belongs to and its message template."""

    stage: str
    template: str


CATALOGUE: dict[str, ErrorDef] = {
    # --- CC0xx project and store -------------------------------------------------
    "CC001": ErrorDef(
        "project",
        "No casecoder project in {path}. Expected a file {db}. "
        "Run `casecoder init --project {path}` first.",
    ),
    "CC002": ErrorDef(
        "project",
        "The project store {path} has schema version {found}, newer than this casecoder "
        "understands ({expected}). Upgrade casecoder.",
    ),
    "CC003": ErrorDef(
        "project",
        "The project store {path} could not be opened: {reason}. Check that the file is a "
        "casecoder SQLite store and is not locked by another process.",
    ),
    "CC004": ErrorDef(
        "project",
        "The project holds no {what}. {hint}",
    ),
    "CC005": ErrorDef(
        "project",
        "No source named {name!r} in the project. Known sources: {known}. "
        "Use `casecoder sources list` to see them.",
    ),
    "CC006": ErrorDef(
        "project",
        "No pass named {name!r} in the project. Known passes: {known}.",
    ),
    "CC007": ErrorDef(
        "project",
        "Cannot write {path}: {reason}. Nothing was written; choose another path.",
    ),
    "CC008": ErrorDef(
        "project",
        "Option {option} has the value {value!r}; expected {expected}.",
    ),
    "CC009": ErrorDef(
        "project",
        "Row {rowid} of table {table} refers to a missing row of {parent}. The whole "
        "change was rolled back; the project is as it was before the command.",
    ),
    "CC010": ErrorDef(
        "project",
        "No case or source attribute named {name!r} (option {option}). Known attributes: "
        "{known}.",
    ),
    # --- CC1xx ingest ------------------------------------------------------------
    "CC101": ErrorDef(
        "ingest",
        "{path} is empty (no text after decoding). Remove it or add its text.",
    ),
    "CC102": ErrorDef(
        "ingest",
        "{path} looks like a binary file ({reason}), not text. casecoder reads .txt, .md "
        "and .docx files.",
    ),
    "CC103": ErrorDef(
        "ingest",
        "{path}: the encoding could not be decided with confidence. Tried {tried}. "
        "Save the file as UTF-8 and ingest it again.",
    ),
    "CC104": ErrorDef(
        "ingest",
        "{path} is not a readable Word document: {reason}. Open it in Word or LibreOffice "
        "and save it again as .docx.",
    ),
    "CC105": ErrorDef(
        "ingest",
        "{path} line {line}: the YAML front matter is not valid: {reason}. "
        "Fix the front matter between the two `---` lines.",
    ),
    "CC106": ErrorDef(
        "ingest",
        "Case id {case_id!r} is declared twice: in {path} and in {other}. "
        "Give each case a unique id.",
    ),
    "CC107": ErrorDef(
        "ingest",
        "{path}: unsupported file type {suffix!r}. casecoder reads .txt, .md and .docx.",
    ),
    "CC108": ErrorDef(
        "ingest",
        "{path} does not exist. Check the path.",
    ),
    "CC109": ErrorDef(
        "ingest",
        "{path} line {line}: front matter field {field!r} has the value {value!r}; "
        "expected {expected}.",
    ),
    "CC110": ErrorDef(
        "ingest",
        "{path}: --kind {kind!r} is not one of case, interview, auto.",
    ),
    "CC111": ErrorDef(
        "ingest",
        "{where}: role mapping {value!r} is not of the form LABEL=ROLE with ROLE "
        "one of interviewer, respondent, other.",
    ),
    "CC112": ErrorDef(
        "ingest",
        "No .txt, .md or .docx files were found under {path}.",
    ),
    # --- CC2xx segment and tokenize --------------------------------------------------
    "CC201": ErrorDef(
        "segment",
        "Segment {start}:{end} of {source} falls outside its text (length {length}). "
        "This is a bug: please report it.",
    ),
    "CC202": ErrorDef(
        "segment",
        "Unit {unit!r} is not one of sentence, turn, paragraph.",
    ),
    "CC203": ErrorDef(
        "segment",
        "The term {term!r} does not occur in the stored corpus.",
    ),
    # --- CC3xx codebook and coding ------------------------------------------------------
    "CC301": ErrorDef(
        "codebook",
        "Code {code!r} in {path} line {line} is not defined. Known codes: {known}. "
        "Fix the id or add the code.",
    ),
    "CC302": ErrorDef(
        "codebook",
        "{path} line {line}: the codebook is not valid YAML: {reason}.",
    ),
    "CC303": ErrorDef(
        "codebook",
        "{path} line {line}: code id {code!r} is defined twice (first at line {first}). "
        "Give each code a unique id.",
    ),
    "CC304": ErrorDef(
        "codebook",
        "{path} line {line}: code {code!r} has parent {parent!r}, which is not defined. "
        "Known codes: {known}.",
    ),
    "CC305": ErrorDef(
        "codebook",
        "{path} line {line}: pattern {pattern!r} of code {code!r} is not a valid regular "
        "expression: {reason}.",
    ),
    "CC306": ErrorDef(
        "codebook",
        "{path} line {line}: code {code!r} has no way to match (no keywords, synonyms, "
        "patterns or proximity rules) and no sub-codes. Add a rule or mark it `manual: true`.",
    ),
    "CC307": ErrorDef(
        "codebook",
        "{path} line {line}: the frame ids {missing} are missing. The governance codebook "
        "must implement every id of shared/codebook-frame.md unchanged.",
    ),
    "CC308": ErrorDef(
        "codebook",
        "{path} line {line}: {problem}. Expected {expected}.",
    ),
    "CC309": ErrorDef(
        "codebook",
        "{path} does not exist. Pass --codebook with a YAML codebook such as "
        "codebooks/governance.yaml.",
    ),
    "CC310": ErrorDef(
        "coding",
        "The project has no segments to code. Ingest sources first: "
        "`casecoder ingest cases/`.",
    ),
    "CC311": ErrorDef(
        "coding",
        "{path} line {line}: code {code!r} forms a cycle of parents: {cycle}.",
    ),
    "CC312": ErrorDef(
        "coding",
        "--jobs must be at least 1; got {jobs}.",
    ),
    "CC313": ErrorDef(
        "codebook",
        "{path} line {line}: {kind} {term!r} of code {code!r} contains the code's own "
        "exclusion {exclusion!r}, so it can never code anything. Remove one of the two.",
    ),
    # --- CC4xx graph, QCA and adaptation -------------------------------------------
    "CC401": ErrorDef(
        "graph",
        "No codings in pass {name!r} to build a graph from. Run `casecoder code` first.",
    ),
    "CC402": ErrorDef(
        "qca",
        "{path} line {line}, column {column!r}: {reason}.",
    ),
    "CC403": ErrorDef(
        "qca",
        "Column {column!r} is not in {path}. Columns: {known}.",
    ),
    "CC404": ErrorDef(
        "adapt",
        "{path} line {line}: the target profile is not valid: {reason}. See "
        "docs/adapt.md for the profile format.",
    ),
    "CC405": ErrorDef(
        "graph",
        "Threshold {name} has the value {value!r}; expected {expected}.",
    ),
    "CC406": ErrorDef(
        "graph",
        "Unknown graph format {fmt!r}. Known formats: {known}.",
    ),
    "CC407": ErrorDef(
        "qca",
        "{path}: {reason}.",
    ),
    # --- CC5xx distill and export ------------------------------------------------
    "CC501": ErrorDef(
        "export",
        "Unknown export format {fmt!r} for {what}. Known formats: {known}.",
    ),
    "CC502": ErrorDef(
        "distill",
        "No case with id {case_id!r} in the project. Known cases: {known}.",
    ),
    "CC503": ErrorDef(
        "distill",
        "A citation in {document} does not stand in its source: {source} "
        "{start}:{end}. This is a bug: please report it.",
    ),
    "CC504": ErrorDef(
        "distill",
        "Language {lang!r} is not supported; use zh or en.",
    ),
    "CC505": ErrorDef(
        "export",
        "No CJK font is installed (looked for {families}); Chinese text would render as "
        "empty boxes. Run `bash scripts/setup.sh`, which installs fonts-noto-cjk.",
    ),
    "CC506": ErrorDef(
        "distill",
        "The pass {name!r} holds no codings for case {case_id!r}; nothing to distill.",
    ),
    # --- CC6xx exchange formats ---------------------------------------------------------
    "CC601": ErrorDef(
        "exchange",
        "{path} is not a valid REFI-QDA file: {reason}.",
    ),
    "CC602": ErrorDef(
        "exchange",
        "{path} line {line}: {reason}.",
    ),
    "CC603": ErrorDef(
        "exchange",
        "{path}: archive rejected for safety: {reason}.",
    ),
    "CC604": ErrorDef(
        "exchange",
        "{path} line {line}: coding of code {code!r} on source {source!r} "
        "{start}:{end}: {reason}.",
    ),
    "CC605": ErrorDef(
        "exchange",
        "{path} line {line}: the dictionary is not valid: {reason}.",
    ),
    "CC606": ErrorDef(
        "exchange",
        "The exported XML does not validate against the REFI-QDA schema: {reason}. "
        "This is a bug: please report it.",
    ),
    "CC607": ErrorDef(
        "exchange",
        "{path}: unsupported file type {suffix!r} for {what}. Use {known}.",
    ),
    "CC608": ErrorDef(
        "exchange",
        "The dictionary {path} does not exist. Check the path.",
    ),
    "CC609": ErrorDef(
        "exchange",
        "{path} cannot be read as text: {reason}. Save it as UTF-8 (in Excel: \"CSV UTF-8 "
        "(comma delimited)\") and import it again.",
    ),
    "CC610": ErrorDef(
        "exchange",
        "{path} holds no records ({found}); expected at least one coding in the layout of "
        "`casecoder export codings`. Nothing was imported; pass {name!r} is as it was.",
    ),
    # --- CC7xx review, agreement and suggestions -----------------------------------------
    "CC701": ErrorDef(
        "agree",
        "Passes {a!r} and {b!r} leave no source to compare (with --sources both: they share "
        "no coded source); agreement needs units both coders saw.",
    ),
    "CC702": ErrorDef(
        "suggest",
        "Pass {name!r} has too few codings to train on: {reason}.",
    ),
    "CC703": ErrorDef(
        "review",
        "{path} line {line}: decision {value!r} is not one of accept, reject, recode:CODE, "
        "skip.",
    ),
    "CC704": ErrorDef(
        "review",
        "Review needs an interactive terminal. Use `casecoder review export` and "
        "`casecoder review import` to review through a spreadsheet instead.",
    ),
    "CC705": ErrorDef(
        "review",
        "{path} line {line}: row {row_id} ({source} {start}:{end} code {code!r}) is not a "
        "coding of pass {name!r}; the pass changed after the review file was exported. "
        "Export the review file again and copy your decisions over.",
    ),
    "CC706": ErrorDef(
        "review",
        "{where}: recode needs {expected}; found {code!r}. Write the new code in the "
        "new_code column (or as recode:CODE), or type it after `c` in a review session.",
    ),
    "CC707": ErrorDef(
        "review",
        "Pass {name!r} holds no model probabilities, so it cannot be ordered by "
        "uncertainty. Use --order document, or review a suggestion pass "
        "(`casecoder suggest`).",
    ),
    "CC708": ErrorDef(
        "review",
        "The review state file {path} cannot be read: {reason}. Start again with "
        "`casecoder review start {name} --restart`, which discards it.",
    ),
}


class CasecoderError(Exception):
    """A user-facing error with a catalogue code.

    Parameters
    ----------
    code : str
        Catalogue code such as ``"CC101"``.
    **fields
        Values for the message template.
    """

    def __init__(self, error_code: str, /, **fields: object) -> None:
        if error_code not in CATALOGUE:
            raise KeyError(f"unknown error code {error_code}")
        self.code = error_code
        self.fields = fields
        self.message = CATALOGUE[error_code].template.format(**fields)
        super().__init__(f"[{error_code}] {self.message}")


def known_list(names: list[str], limit: int = 12) -> str:
    """Names for a "Known …" list in a message: the first ``limit``, and how many there
    are in all when there are more; ``(none)`` for none."""
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, … ({len(names)} in all)"


def render_docs() -> str:
    """Render ``docs/errors.md`` from the catalogue."""
    lines = [
        "# Error catalogue",
        "",
        "Generated from `casecoder/errors.py` by `python -m casecoder.errors > docs/errors.md`.",
        "Every error prints as `Error: [CCnnn] message` on stderr and exits with status 1.",
        "",
    ]
    stage = None
    for code in sorted(CATALOGUE):
        entry = CATALOGUE[code]
        if entry.stage != stage:
            stage = entry.stage
            lines += [f"## {stage}", "", "| code | message |", "|---|---|"]
        text = entry.template.replace("|", "\\|")
        lines.append(f"| {code} | {text} |")
        nxt = sorted(CATALOGUE)
        idx = nxt.index(code)
        if idx + 1 == len(nxt) or CATALOGUE[nxt[idx + 1]].stage != stage:
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_docs(), end="")
