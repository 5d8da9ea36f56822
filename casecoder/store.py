"""The project store: one SQLite file per project directory.

The schema is versioned by an ordered list of migrations recorded in the
``migrations`` table. The database runs in WAL mode; every write happens inside
``Store.transaction()``, so a failure leaves the store as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casecoder.errors import CasecoderError, known_list
from casecoder.models import Case, Coding, Segment, Source

DB_NAME = "casecoder.sqlite"

MIGRATIONS: list[tuple[str, str]] = [
    (
        "initial schema",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            stage TEXT NOT NULL,
            options TEXT NOT NULL,
            versions TEXT NOT NULL,
            started TEXT NOT NULL,
            ended TEXT,
            status TEXT NOT NULL DEFAULT 'running'
        );
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            case_id TEXT,
            sha256 TEXT NOT NULL,
            text TEXT NOT NULL,
            encoding TEXT NOT NULL,
            attributes TEXT NOT NULL,
            body_start INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL,
            current INTEGER NOT NULL DEFAULT 1,
            run_id INTEGER REFERENCES runs(id),
            UNIQUE (name, version)
        );
        CREATE INDEX sources_current ON sources(current, name);
        CREATE TABLE cases (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            attributes TEXT NOT NULL,
            conditions TEXT NOT NULL,
            outcome TEXT NOT NULL,
            transfers TEXT NOT NULL,
            source_id INTEGER REFERENCES sources(id)
        );
        CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            kind TEXT NOT NULL,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            role TEXT,
            speaker TEXT,
            timestamp TEXT,
            parent_id INTEGER,
            CHECK (start_char >= 0 AND end_char >= start_char)
        );
        CREATE INDEX segments_source ON segments(source_id, kind, start_char);
        CREATE TABLE passes (
            name TEXT PRIMARY KEY,
            coder TEXT NOT NULL,
            codebook TEXT,
            codebook_sha256 TEXT,
            options TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id)
        );
        CREATE TABLE codings (
            id INTEGER PRIMARY KEY,
            pass TEXT NOT NULL REFERENCES passes(name),
            source_id INTEGER NOT NULL REFERENCES sources(id),
            code TEXT NOT NULL,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            evidence TEXT NOT NULL,
            rule TEXT NOT NULL,
            confidence REAL NOT NULL,
            coder TEXT NOT NULL,
            polarity INTEGER NOT NULL DEFAULT 1,
            segment_id INTEGER
        );
        CREATE INDEX codings_pass ON codings(pass, source_id, start_char);
        CREATE INDEX codings_code ON codings(code);
        CREATE TABLE metrics (
            id INTEGER PRIMARY KEY,
            pass TEXT NOT NULL REFERENCES passes(name),
            source_id INTEGER NOT NULL REFERENCES sources(id),
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            indicator TEXT NOT NULL,
            before REAL,
            after REAL,
            change REAL,
            unit TEXT NOT NULL,
            direction TEXT NOT NULL,
            quote TEXT NOT NULL
        );
        CREATE INDEX metrics_pass ON metrics(pass, source_id);
        CREATE TABLE links (
            id INTEGER PRIMARY KEY,
            pass TEXT NOT NULL REFERENCES passes(name),
            source_id INTEGER NOT NULL REFERENCES sources(id),
            case_id TEXT,
            from_code TEXT NOT NULL,
            to_code TEXT NOT NULL,
            polarity INTEGER NOT NULL,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            connective TEXT NOT NULL,
            evidence_type TEXT NOT NULL
        );
        CREATE INDEX links_pass ON links(pass, source_id);
        CREATE TABLE memos (
            id INTEGER PRIMARY KEY,
            target_type TEXT NOT NULL,
            target_id TEXT NOT NULL,
            text TEXT NOT NULL,
            author TEXT NOT NULL,
            created TEXT NOT NULL
        );
        """,
    ),
    (
        # codings(code) served no query: the code filters (``code = ? OR code LIKE ?``)
        # could only scan it, and keeping it up to date cost a coding pass about a sixth
        # of its time (docs/PERFORMANCE.md)
        "drop the unused index on codings(code)",
        "DROP INDEX IF EXISTS codings_code",
    ),
    (
        # the bound stated with a figure (不足50% is not 50%), before and after
        "metric qualifiers",
        """
        ALTER TABLE metrics ADD COLUMN qualifier TEXT NOT NULL DEFAULT '';
        ALTER TABLE metrics ADD COLUMN before_qualifier TEXT NOT NULL DEFAULT ''
        """,
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    """The current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def package_versions() -> dict[str, str]:
    """Versions of casecoder and the packages whose behaviour shapes results."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in ("casecoder", "jieba", "spacy", "scikit-learn", "networkx", "ahocorasick-rs"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


class Store:
    """A casecoder project store.

    Parameters
    ----------
    project : str or Path
        The project directory, holding ``casecoder.sqlite``.
    create : bool, default=False
        Create the directory and the store if they do not exist.
    """

    def __init__(self, project: str | Path, create: bool = False) -> None:
        self.project = Path(project)
        self.path = self.project / DB_NAME
        if not self.path.exists() and not create:
            raise CasecoderError("CC001", path=str(self.project), db=DB_NAME)
        if create:
            self.project.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise CasecoderError("CC003", path=str(self.path), reason=str(exc)) from exc
        self.db.row_factory = sqlite3.Row
        self._depth = 0
        self._migrate()

    # -- schema ---------------------------------------------------------------
    def _migrate(self) -> None:
        try:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
            )
            done = self.db.execute("SELECT COALESCE(MAX(version), 0) FROM migrations").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CasecoderError("CC003", path=str(self.path), reason=str(exc)) from exc
        if done > SCHEMA_VERSION:
            raise CasecoderError(
                "CC002", path=str(self.path), found=done, expected=SCHEMA_VERSION
            )
        for version, (name, sql) in enumerate(MIGRATIONS, start=1):
            if version <= done:
                continue
            with self.transaction():
                for statement in sql.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(
                    "INSERT INTO migrations (version, name, applied) VALUES (?, ?, ?)",
                    (version, name, now()),
                )

    def schema_version(self) -> int:
        return self.db.execute("SELECT MAX(version) FROM migrations").fetchone()[0]

    @contextmanager
    def transaction(self, bulk: tuple[str, ...] = ()) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction (nested blocks join the outer one).

        ``bulk`` names tables about to receive many rows: their foreign keys are
        checked once, table-wide, before the commit (``PRAGMA foreign_key_check``)
        instead of row by row, and a violation rolls the whole transaction back.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        if bulk:
            self.db.execute("PRAGMA foreign_keys=OFF")
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
            for table in bulk:
                bad = self.db.execute(f"PRAGMA foreign_key_check({table})").fetchone()
                if bad is not None:
                    raise CasecoderError("CC009", table=table, rowid=bad[1], parent=bad[2])
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            if bulk:
                self.db.execute("PRAGMA foreign_keys=ON")
            raise
        self._depth = 0
        self.db.execute("COMMIT")
        if bulk:
            self.db.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------
    def start_run(self, stage: str, options: dict[str, Any]) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (stage, options, versions, started) VALUES (?, ?, ?, ?)",
            (stage, json.dumps(options, sort_keys=True, ensure_ascii=False),
             json.dumps(package_versions(), sort_keys=True), now()),
        )
        return int(cur.lastrowid)

    def end_run(self, run_id: int, status: str = "ok") -> None:
        self.db.execute(
            "UPDATE runs SET ended = ?, status = ? WHERE id = ?", (now(), status, run_id)
        )

    def runs(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        return [
            {**dict(r), "options": json.loads(r["options"]), "versions": json.loads(r["versions"])}
            for r in rows
        ]

    # -- sources --------------------------------------------------------------
    def find_current(self, name: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT id, sha256, version, path FROM sources WHERE name = ? AND current = 1",
            (name,)
        ).fetchone()

    def add_source(self, src: Source, path: str, run_id: int | None) -> int:
        """Insert ``src`` as the newest version of its name; older versions stay."""
        prev = self.db.execute(
            "SELECT MAX(version) FROM sources WHERE name = ?", (src.name,)
        ).fetchone()[0]
        version = (prev or 0) + 1
        self.db.execute("UPDATE sources SET current = 0 WHERE name = ?", (src.name,))
        cur = self.db.execute(
            "INSERT INTO sources (name, path, kind, case_id, sha256, text, encoding, attributes,"
            " body_start, version, current, run_id) VALUES (?,?,?,?,?,?,?,?,?,?,1,?)",
            (src.name, path, src.kind, src.case_id, src.sha256, src.text, src.encoding,
             json.dumps(src.attributes, sort_keys=True, ensure_ascii=False), src.body_start,
             version, run_id),
        )
        src.id = int(cur.lastrowid)
        src.version = version
        return src.id

    def add_segments(self, segments: Iterable[Segment]) -> None:
        self.db.executemany(
            "INSERT INTO segments (source_id, kind, start_char, end_char, role, speaker,"
            " timestamp, parent_id) VALUES (?,?,?,?,?,?,?,?)",
            ((s.source_id, s.kind, s.start_char, s.end_char, s.role, s.speaker, s.timestamp,
              s.parent_id) for s in segments),
        )

    def upsert_case(self, case: Case) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO cases (id, title, attributes, conditions, outcome, transfers,"
            " source_id) VALUES (?,?,?,?,?,?,?)",
            (case.id, case.title, _dumps(case.attributes), _dumps(case.conditions),
             _dumps(case.outcome), _dumps(case.transfers), case.source_id),
        )

    def sources(self, current_only: bool = True, kind: str | None = None) -> list[Source]:
        sql = "SELECT * FROM sources"
        where, args = [], []
        if current_only:
            where.append("current = 1")
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY name, version", args).fetchall()
        return [_source(r) for r in rows]

    def source(self, source_id: int) -> Source:
        row = self.db.execute("SELECT * FROM sources WHERE id = ?", (source_id,)).fetchone()
        if row is None:
            raise CasecoderError("CC005", name=str(source_id), known=self._known_names())
        return _source(row)

    def source_by_name(self, name: str) -> Source:
        row = self.db.execute(
            "SELECT * FROM sources WHERE (name = ? OR case_id = ?) AND current = 1 "
            "ORDER BY kind LIMIT 1",
            (name, name),
        ).fetchone()
        if row is None:
            raise CasecoderError("CC005", name=name, known=self._known_names())
        return _source(row)

    def _known_names(self) -> str:
        return known_list([r[0] for r in self.db.execute(
            "SELECT name FROM sources WHERE current = 1 ORDER BY name")])

    def texts(self) -> dict[int, str]:
        """Raw text of every source, current or not, by id (for citation checks)."""
        return {r[0]: r[1] for r in self.db.execute("SELECT id, text FROM sources")}

    def segments(self, source_id: int | None = None, kind: str | None = None,
                 current_only: bool = True) -> list[Segment]:
        sql = ("SELECT s.* FROM segments s JOIN sources src ON src.id = s.source_id")
        where, args = [], []
        if current_only:
            where.append("src.current = 1")
        if source_id is not None:
            where.append("s.source_id = ?")
            args.append(source_id)
        if kind:
            where.append("s.kind = ?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY src.name, s.source_id, s.start_char, s.id"
        return [
            Segment(source_id=r["source_id"], kind=r["kind"], start_char=r["start_char"],
                    end_char=r["end_char"], role=r["role"], speaker=r["speaker"],
                    timestamp=r["timestamp"], id=r["id"], parent_id=r["parent_id"])
            for r in self.db.execute(sql, args)
        ]

    # -- cases ----------------------------------------------------------------
    def cases(self) -> list[Case]:
        rows = self.db.execute(
            "SELECT c.* FROM cases c LEFT JOIN sources s ON s.id = c.source_id "
            "WHERE s.current = 1 OR c.source_id IS NULL ORDER BY c.id"
        ).fetchall()
        return [
            Case(id=r["id"], title=r["title"], attributes=json.loads(r["attributes"]),
                 conditions=json.loads(r["conditions"]), outcome=json.loads(r["outcome"]),
                 transfers=json.loads(r["transfers"]), source_id=r["source_id"])
            for r in rows
        ]

    def case_of_source(self) -> dict[int, str | None]:
        return {r[0]: r[1] for r in self.db.execute("SELECT id, case_id FROM sources")}

    # -- passes and codings ------------------------------------------------------
    def passes(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT p.*, (SELECT COUNT(*) FROM codings c WHERE c.pass = p.name) AS n, "
            "(SELECT COUNT(*) FROM codings c JOIN sources s ON s.id = c.source_id "
            "WHERE c.pass = p.name AND s.current = 1) AS n_current "
            "FROM passes p ORDER BY p.name"
        ).fetchall()
        return [{**dict(r), "options": json.loads(r["options"])} for r in rows]

    def require_pass(self, name: str) -> None:
        row = self.db.execute("SELECT 1 FROM passes WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(p["name"] for p in self.passes()) or "(none)"
            raise CasecoderError("CC006", name=name, known=known)

    def replace_pass(self, name: str, coder: str, codebook: str | None,
                     codebook_sha256: str | None, options: dict[str, Any],
                     run_id: int | None) -> None:
        """Drop the codings, metrics and links of pass ``name`` on the current sources and
        (re)declare the pass.

        What the pass holds on superseded versions of a source stays: re-running a pass
        after a file changed never loses what was coded on the old text (queries read the
        current versions; the old ones keep their codings). Call inside a transaction
        together with the inserts of the new content.
        """
        for table in ("codings", "metrics", "links"):
            self.db.execute(
                f"DELETE FROM {table} WHERE pass = ? AND source_id IN "
                "(SELECT id FROM sources WHERE current = 1)", (name,))
        self.db.execute(
            "INSERT INTO passes (name, coder, codebook, codebook_sha256, options, run_id)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET coder = excluded.coder,"
            " codebook = excluded.codebook, codebook_sha256 = excluded.codebook_sha256,"
            " options = excluded.options, run_id = excluded.run_id",
            (name, coder, codebook, codebook_sha256, _dumps(options), run_id),
        )

    def add_codings(self, rows: Iterable[tuple]) -> None:
        """Insert coding rows ``(pass, source_id, code, start, end, evidence_json, rule,
        confidence, coder, polarity, segment_id)``."""
        self.db.executemany(
            "INSERT INTO codings (pass, source_id, code, start_char, end_char, evidence, rule,"
            " confidence, coder, polarity, segment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def codings(self, pass_name: str | None = None, code: str | None = None,
                current_only: bool = True) -> list[Coding]:
        sql = "SELECT c.* FROM codings c JOIN sources s ON s.id = c.source_id"
        where, args = [], []
        if current_only:
            where.append("s.current = 1")
        if pass_name:
            where.append("c.pass = ?")
            args.append(pass_name)
        if code:
            where.append("(c.code = ? OR c.code LIKE ?)")
            args += [code, code + ".%"]
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.name, c.start_char, c.end_char, c.code, c.pass"
        return [
            Coding(source_id=r["source_id"], code=r["code"], start_char=r["start_char"],
                   end_char=r["end_char"], evidence=[tuple(e) for e in json.loads(r["evidence"])],
                   pass_name=r["pass"], coder=r["coder"], rule=r["rule"],
                   confidence=r["confidence"], polarity=r["polarity"],
                   segment_id=r["segment_id"], id=r["id"])
            for r in self.db.execute(sql, args)
        ]

    def count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _source(r: sqlite3.Row) -> Source:
    return Source(
        name=r["name"], kind=r["kind"], text=r["text"], sha256=r["sha256"],
        encoding=r["encoding"], attributes=json.loads(r["attributes"]), case_id=r["case_id"],
        id=r["id"], version=r["version"], current=bool(r["current"]), body_start=r["body_start"],
    )


def open_store(project: str | Path) -> Store:
    """Open the store of an existing project."""
    return Store(project)
