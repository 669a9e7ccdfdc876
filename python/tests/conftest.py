"""Shared fixtures. Tests run from any folder; paths are resolved from this file.

KNEETRACK_BIN names the `kneetrack` command-line binary built from the same source; the
tests that compare with the CLI are skipped (with that reason) when it is not set.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"

# A quick scenario: the parametric knee through a short flexion rig.
PARAMETRIC_FLEXION = """\
# parametric knee, quick flexion rig
[scenario]
name = "quick"
kind = "flexion"

[anatomy]
model = "parametric"

[muscles]
vmo = 1.0

[flexion]
from_deg = 20
to_deg = 80
step_deg = 20
quadriceps_n = 400
"""


@pytest.fixture
def quick_text() -> str:
    return PARAMETRIC_FLEXION


@pytest.fixture
def quick_file(tmp_path: Path) -> Path:
    p = tmp_path / "quick.toml"
    p.write_text(PARAMETRIC_FLEXION)
    return p


def cli_bin() -> str:
    b = os.environ.get("KNEETRACK_BIN")
    if not b:
        pytest.skip("KNEETRACK_BIN is not set: it names the kneetrack CLI binary to compare with (.ci/run sets it)")
    if not Path(b).is_file():
        pytest.fail(f"KNEETRACK_BIN={b} is not a file")
    return b


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Runs the CLI; returns the completed process (text)."""
    cmd: List[str] = [cli_bin(), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
