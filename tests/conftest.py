from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from casecoder.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CASES = ROOT / "cases"
CODEBOOK = Path(os.environ.get("CASECODER_TEST_CODEBOOK", ROOT / "codebooks" / "governance.yaml"))

# The test command is reproducible: property tests draw the same examples on every run
# (and keep no example database). `HYPOTHESIS_PROFILE=explore pytest` draws fresh ones,
# the way to hunt for new counter-examples before pinning them with @example.
settings.register_profile("default", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path, runner: CliRunner) -> Path:
    proj = tmp_path / "proj"
    result = invoke(runner, "init", "--project", proj)
    assert result.exit_code == 0, result.output
    return proj


def manual_project(tmp_path: Path, texts: dict[str, str],
                   passes: dict[str, list[tuple[str, str, str]]]) -> Path:
    """A project of ``texts`` (file name -> text) with hand-made passes: per pass name,
    codings as (source name, code, quote), each on the quote's first occurrence."""
    import json

    from casecoder.ingest import ingest
    from casecoder.store import Store

    root = tmp_path / "proj"
    files = []
    for name, text in texts.items():
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        files.append(f)
    with Store(root, create=True) as store:
        ingest(store, files)
        ids = {s.name: s for s in store.sources()}
        with store.transaction():
            for name, codings in passes.items():
                store.replace_pass(name, f"human:{name}", None, None, {}, None)
                rows = []
                for src_name, code, quote in codings:
                    src = ids[src_name]
                    start = src.text.index(quote)
                    end = start + len(quote)
                    rows.append((name, src.id, code, start, end, json.dumps([[start, end]]),
                                 "manual", 1.0, f"human:{name}", 1, None))
                store.add_codings(rows)
    return root


def analyse_corpus(project: Path):  # noqa: ANN201
    """Ingest the bundled cases into ``project``, code them with the governance codebook
    and return the analysis of the graph stage and the sources' texts by name."""
    from casecoder.codebook import load_codebook
    from casecoder.coding import code
    from casecoder.graph import analyse
    from casecoder.ingest import ingest
    from casecoder.store import Store

    cb = load_codebook(CODEBOOK)
    with Store(project, create=True) as store:
        ingest(store, [CASES])
        code(store, cb)
        return analyse(store, "rules", cb), {s.name: s.text for s in store.sources()}
