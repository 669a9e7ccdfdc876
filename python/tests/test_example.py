"""The notebook-friendly example runs headless (Agg) and draws its figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_vmo_q_angle_example(tmp_path: Path) -> None:
    script = REPO / "examples" / "python" / "vmo_q_angle.py"
    out = tmp_path / "vmo_q_angle.png"
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run(
        [sys.executable, str(script), "--out", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
    assert f"wrote {out}" in p.stdout
    assert "vmo_q_angle: 20/20 variants" in p.stderr


def test_readme_python_block(tmp_path: Path) -> None:
    """The README's Python example runs as written (from a folder with `scenarios/`)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## From Python", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "scenarios").symlink_to(REPO / "scenarios")
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "out" / "vmo_half" / "frames.csv").is_file()
    assert (tmp_path / "out" / "runner_ik.mot").is_file()
