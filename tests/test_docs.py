"""Docs stay true: every command has help with an example, every error is documented."""

from __future__ import annotations

from pathlib import Path

import click
import typer

from casecoder.cli.main import app
from casecoder.errors import CATALOGUE, render_docs

ROOT = Path(__file__).resolve().parents[1]


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}".strip()
        if isinstance(cmd, click.Group):
            yield path, cmd
            yield from _commands(cmd, path)
        else:
            yield path, cmd


def test_every_command_has_help_with_example():
    root = typer.main.get_command(app)
    missing = []
    for path, cmd in _commands(root):
        text = (cmd.help or "").strip()
        if not text or (not isinstance(cmd, click.Group) and "Example:" not in text):
            missing.append(path)
    assert missing == []


def test_every_error_documented():
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert doc == render_docs(), "run: python -m casecoder.errors > docs/errors.md"
    for code in CATALOGUE:
        assert f"| {code} |" in doc


def test_error_codes_grouped_by_stage_and_unique():
    stages = {"0": {"project"}, "1": {"ingest"}, "2": {"segment"}, "3": {"codebook", "coding"},
              "4": {"graph", "qca", "adapt"}, "5": {"export", "distill"}, "6": {"exchange"},
              "7": {"agree", "suggest", "review"}}
    for code, entry in CATALOGUE.items():
        assert code.startswith("CC") and len(code) == 5
        assert entry.stage in stages[code[2]], code


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = readme.split("```bash\n")[1:3]
    run_cmd, test_cmd = (b.split("\n```")[0].strip() for b in blocks)
    assert run_cmd.startswith("bash scripts/setup.sh") and "casecoder run" in run_cmd
    assert test_cmd.startswith("bash scripts/setup.sh --dev") and "pytest" in test_cmd
    assert test_cmd in ci


def test_architecture_lists_every_module():
    arch = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "casecoder").rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        assert path.stem in arch, f"{path.name} missing from docs/ARCHITECTURE.md"


def test_version_is_the_package_metadata_and_the_changelog_head():
    import re
    from importlib.metadata import version

    from typer.testing import CliRunner

    from casecoder import __version__

    out = CliRunner().invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"casecoder {__version__}"
    assert version("casecoder") == __version__
    head = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert head is not None and head.group(1) == __version__


def test_known_lists_say_when_they_are_cut():
    from casecoder.errors import known_list

    assert known_list([]) == "(none)"
    assert known_list(["a", "b"]) == "a, b"
    names = [f"C{i:02d}" for i in range(1, 23)]
    assert known_list(names) == ", ".join(names[:12]) + ", … (22 in all)"
