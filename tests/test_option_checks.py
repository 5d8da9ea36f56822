"""Options out of range or naming nothing are catalogued errors, never tracebacks or
silently wrong reports (audit of the analyst commands)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import manual_project
from typer.testing import CliRunner

from casecoder.cli.main import app
from casecoder.errors import CasecoderError
from casecoder.store import Store
from casecoder.suggest import cross_validate

ROOT = Path(__file__).resolve().parent.parent
TEXTS = {"k1.md": "---\nid: K1\ntitle: 甲\n---\n\n调解员上门化解纠纷。平台上线运行。\n"}
CODINGS = [("k1.md", "mech.mediation.tiered", "调解员上门化解纠纷"),
           ("k1.md", "mech.digital.platform", "平台上线运行")]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return manual_project(tmp_path, TEXTS, {"a": CODINGS, "b": CODINGS})


@pytest.mark.parametrize("args, option", [
    (["kwic", "调解", "--width", "-3"], "--width"),
    (["terms", "--top", "-5"], "--top"),
    (["terms", "--pass", "nope"], None),  # CC006
    (["agree", "a", "b", "--code", "mech.digital.platform"], "--code"),  # frame level
    (["suggest", "--train-pass", "a", "--min-positives", "-3"], "--min-positives"),
])
def test_bad_options_are_catalogued(proj: Path, args: list[str], option: str | None,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the default codebook
    r = CliRunner().invoke(app, [*args, "--project", str(proj)])
    assert r.exit_code == 1, r.output
    assert ("[CC008]" in r.output and option in r.output) if option else "[CC006]" in r.output
    assert "Traceback" not in r.output


def test_kwic_left_context_stops_at_the_front_matter(proj: Path) -> None:
    import json

    r = CliRunner().invoke(app, ["kwic", "调解", "--width", "30", "--json",
                                 "--project", str(proj)])
    assert r.exit_code == 0
    (hit,) = json.loads(r.output)
    assert hit["left"].strip() == ""  # nothing of "id: K1 … ---"


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_suggest_seed_out_of_range(proj: Path, seed: int) -> None:
    with Store(proj) as store, pytest.raises(CasecoderError) as exc:
        cross_validate(store, "a", seed=seed)
    assert exc.value.code == "CC008" and "--seed" in str(exc.value)
