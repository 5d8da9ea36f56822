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
