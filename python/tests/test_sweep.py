"""Sweeps: the same table as `kneetrack sweep`, errors, threads, progress."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kneetrack
from conftest import SCENARIOS, cli

DATA = Path(__file__).parent / "data"

METRICS = [
    "peak_pf_force_n", "peak_pf_force_bw", "peak_lateral_force_n", "lateral_share_at_peak",
    "peak_pressure_mpa", "mean_pressure_at_peak_mpa", "contact_area_at_peak_mm2",
    "max_lateral_shift_mm", "max_lateral_tilt_deg", "peak_knee_flexion_stance_deg",
    "peak_extensor_moment_nm_per_kg", "peak_pt_force_bw", "impulse_per_step_bw_s",
    "steps_per_km", "load_per_km_bw_s", "frames_converged", "frames_total",
]


def read(path: Path) -> pd.DataFrame:
    return kneetrack._read_csv(path)


def test_twenty_variant_sweep_equals_the_cli(tmp_path: Path) -> None:
    """The shipped 4 × 5 VMO × Q-angle sweep on the real knee, from Python and the CLI."""
    spec = SCENARIOS / "sweeps" / "vmo_q_angle.toml"
    p = cli("sweep", str(spec), "--out", str(tmp_path / "cli"))
    assert p.returncode == 0, p.stderr
    cli_csv = tmp_path / "cli" / "sweep.csv"
    df = kneetrack.sweep(spec, progress=False, out=tmp_path / "py")
    assert len(df) == 20
    assert list(df.columns) == (
        ["variant", "muscles.vmo", "subject.q_angle_deg", "status"] + METRICS + ["error"]
    )
    assert (df["status"] == "ok").all()
    # the same file, byte for byte, and the same numbers, bit for bit
    assert (tmp_path / "py" / "sweep.csv").read_bytes() == cli_csv.read_bytes()
    pd.testing.assert_frame_equal(df, read(cli_csv), check_exact=True)
    assert df.attrs["sweep"] == "vmo_q_angle"
    assert df.attrs["plot"] == "peak_lateral_force_n"
    assert sorted(set(df["muscles.vmo"])) == [0.25, 0.5, 0.75, 1.0]
    assert sorted(set(df["subject.q_angle_deg"])) == [8.0, 12.0, 16.0, 20.0, 24.0]


def test_quick_sweep_threads_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    one = kneetrack.sweep(DATA / "quick_sweep.toml", threads=1, progress=True)
    err = capsys.readouterr().err
    assert "quick_sweep: 4/4 variants (100.0%)" in err
    two = kneetrack.sweep(DATA / "quick_sweep.toml", threads=2, progress=False)
    assert capsys.readouterr().err == ""
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert list(one["variant"]) == [0, 1, 2, 3]
    assert (one["status"] == "ok").all()
    assert one["error"].isna().all()
    # variant order: the first axis varies slowest
    assert list(one["muscles.vmo"]) == [0.5, 0.5, 1.0, 1.0]
    assert list(one["subject.q_angle_deg"]) == [10.0, 20.0, 10.0, 20.0]
    # the swept values reached the runs: each row equals a single run of that variant
    sc = kneetrack.load(DATA / "quick_flexion.toml").set("muscles.vmo", 0.5).set("subject.q_angle_deg", 20.0)
    m = kneetrack.run(sc).summary["metrics"]
    row = one.iloc[1]
    for k in ("peak_pf_force_n", "peak_lateral_force_n", "max_lateral_shift_mm"):
        assert row[k] == m[k]


def test_sweep_errors(tmp_path: Path) -> None:
    with pytest.raises(kneetrack.SweepError) as ei:
        kneetrack.sweep(DATA / "bad_axis.toml", progress=False)
    e = ei.value
    assert isinstance(e, kneetrack.ScenarioError)
    assert e.file == str(DATA / "bad_axis.toml")
    assert e.key == "muscles.vmo" and e.value == "9"
    assert e.line == 6
    assert "out of range: allowed 0 to 3" in str(e)
    with pytest.raises(kneetrack.SweepError, match="cannot read the sweep file"):
        kneetrack.sweep(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="threads=0: allowed 1 to"):
        kneetrack.sweep(DATA / "quick_sweep.toml", threads=0, progress=False)


def test_sweep_error_message_is_the_clis() -> None:
    with pytest.raises(kneetrack.SweepError) as ei:
        kneetrack.sweep(DATA / "bad_axis.toml", progress=False)
    p = cli("sweep", str(DATA / "bad_axis.toml"))
    assert p.returncode == 2
    assert p.stderr.strip() == f"error: {ei.value}"
