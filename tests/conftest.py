from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casecoder.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CASES = ROOT / "cases"
CODEBOOK = Path(os.environ.get("CASECODER_TEST_CODEBOOK", ROOT / "codebooks" / "governance.yaml"))


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
