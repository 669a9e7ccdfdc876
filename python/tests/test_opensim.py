"""OpenSim .mot/.sto through the library's reader and writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kneetrack
from conftest import SCENARIOS


def test_read_shipped_mot() -> None:
    df = kneetrack.read_opensim(SCENARIOS / "data" / "runner_ik.mot")
    assert list(df.columns) == ["time", "hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r"]
    assert len(df) == 180
    assert df.attrs["in_degrees"] is True
    assert df.attrs["name"] == "kneetrack_builtin_ik"
    assert df["time"].is_monotonic_increasing
    assert df["knee_angle_r"].iloc[0] == -18.0


@pytest.mark.parametrize("name", ["runner_ik.mot", "runner_id.sto"])
def test_round_trip_is_exact(name: str, tmp_path: Path) -> None:
    src = SCENARIOS / "data" / name
    df = kneetrack.read_opensim(src)
    out = tmp_path / name
    kneetrack.write_opensim(df, out)
    back = kneetrack.read_opensim(out)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert back.attrs["in_degrees"] == df.attrs["in_degrees"]
    assert back.attrs["name"] == df.attrs["name"]
    # the library's writer reproduces the shipped file (written by the same writer)
    if df.attrs["in_degrees"] is not None:
        assert out.read_text() == src.read_text()


def test_write_a_new_frame_and_a_time_index(tmp_path: Path) -> None:
    t = np.linspace(0.0, 1.0, 11)
    df = pd.DataFrame({"knee_angle_r": -40 * np.sin(np.pi * t), "hip_flexion_r": 30 * np.cos(t)}, index=pd.Index(t, name="time"))
    kneetrack.write_opensim(df, tmp_path / "ik.mot", in_degrees=True, name="my_ik")
    back = kneetrack.read_opensim(tmp_path / "ik.mot")
    assert list(back.columns) == ["time", "knee_angle_r", "hip_flexion_r"]
    np.testing.assert_array_equal(back["time"].to_numpy(), t)
    np.testing.assert_array_equal(back["knee_angle_r"].to_numpy(), df["knee_angle_r"].to_numpy())
    assert back.attrs["name"] == "my_ik" and back.attrs["in_degrees"] is True
    kneetrack.write_opensim(df, tmp_path / "rad.sto", in_degrees=False)
    assert kneetrack.read_opensim(tmp_path / "rad.sto").attrs["in_degrees"] is False


def test_refused_files_are_not_written(tmp_path: Path) -> None:
    df = pd.DataFrame({"time": [0.0, 0.1, 0.1], "knee_angle_r": [1.0, 2.0, 3.0]})
    out = tmp_path / "bad.mot"
    with pytest.raises(kneetrack.OpenSimError) as ei:
        kneetrack.write_opensim(df, out)
    assert "time must increase" in str(ei.value) and ei.value.line is not None
    assert not out.exists()
    nan = pd.DataFrame({"time": [0.0, 0.1], "knee_angle_r": [1.0, float("nan")]})
    with pytest.raises(kneetrack.OpenSimError, match="not a finite number"):
        kneetrack.write_opensim(nan, out)
    assert not out.exists()
    with pytest.raises(ValueError, match="time"):
        kneetrack.write_opensim(pd.DataFrame({"a": [1.0, 2.0]}), out)


def test_read_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sto"
    bad.write_text("name\ninDegrees=Yes\nendheader\ntime\tx\n0\t1\n1\t2\n")
    with pytest.raises(kneetrack.OpenSimError) as ei:
        kneetrack.read_opensim(bad)
    assert (ei.value.file, ei.value.line) == (str(bad), 2)
    with pytest.raises(FileNotFoundError):
        kneetrack.read_opensim(tmp_path / "missing.mot")
