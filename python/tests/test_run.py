"""Running scenarios: frames, summary, pressure, outputs, the GIL."""

from __future__ import annotations

import csv as csv_module
import io
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kneetrack
from conftest import SCENARIOS, cli

# frames.csv's per-frame columns (after a run kind's leading columns), with their units.
FRAME_COLUMNS = [
    "knee_flexion_deg", "knee_varus_deg", "tibial_rotation_deg",
    "tibia_coupled_adduction_deg", "tibia_coupled_rotation_deg", "tibia_anterior_mm",
    "tibia_proximal_mm", "tibia_lateral_mm", "quad_scale_n", "rf_force_n", "vi_force_n",
    "vl_force_n", "vlo_force_n", "vml_force_n", "vmo_force_n", "quadriceps_force_n",
    "pt_force_n", "mpfl_force_n", "lateral_retinaculum_force_n", "itb_patellar_force_n",
    "extensor_moment_nm", "pt_moment_arm_mm", "pf_force_n", "pf_force_bw",
    "pf_lateral_force_n", "lateral_share", "contact_area_mm2", "lateral_contact_area_mm2",
    "mean_pressure_mpa", "peak_pressure_mpa", "peak_lateral_pressure_mpa",
    "peak_medial_pressure_mpa", "medial_mean_pressure_mpa", "cop_anterior_mm",
    "cop_proximal_mm", "cop_lateral_mm", "lateral_shift_mm", "lateral_tilt_deg",
    "lateral_spin_deg", "patellar_flexion_deg", "patella_proximal_mm",
    "patella_anterior_mm", "bisect_offset", "holding_force_n", "status", "iterations",
    "residual_force_n", "residual_moment_nmm",
]

GAIT_LEAD = [
    "frame", "cycle", "cycle_pct", "time_s", "stance", "hip_flexion_deg",
    "hip_adduction_deg", "hip_rotation_deg", "net_extensor_moment_nm",
    "hip_abductor_moment_nm", "extensor_target_nm", "itb_tension_n", "rf_passive_n",
    "bf_passive_n", "glute_med_deficit_nm", "tfl_force_n",
]


def test_flexion_run_frames_and_summary(quick_text: str) -> None:
    sc = kneetrack.Scenario.from_toml(quick_text)
    assert sc.kind == "flexion" and sc.name == "quick"
    res = kneetrack.run(sc)
    df = res.frames
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["frame"] + FRAME_COLUMNS
    assert df["knee_flexion_deg"].tolist() == pytest.approx([20.0, 40.0, 60.0, 80.0])
    assert (df["status"] == "converged").all()
    assert (df["pf_force_n"] > 0).all()
    s = res.summary
    assert s["elements"] == sc.elements
    assert s["scenario"]["muscles"]["vmo"] == 1.0
    m = s["metrics"]
    assert m["frames_total"] == 4
    assert m["peak_pf_force_n"] == df["pf_force_n"].max()


def test_gait_run_has_the_gait_columns() -> None:
    sc = kneetrack.load(SCENARIOS / "runner_parametric.toml")
    sc.set("gait.frames_per_cycle", 24)
    res = kneetrack.run(sc)
    df = res.frames
    assert list(df.columns) == GAIT_LEAD + FRAME_COLUMNS
    assert len(df) == 24
    assert res.summary["metrics"]["peak_lateral_force_n"] == df["pf_lateral_force_n"].max()


def test_frames_are_frames_csv_bit_for_bit(quick_file: Path, tmp_path: Path) -> None:
    res = kneetrack.run(quick_file)
    written = res.write(tmp_path / "out")
    names = {p.name for p in written}
    assert {"frames.csv", "summary.json"} <= names
    csv = (tmp_path / "out" / "frames.csv").read_text()
    assert csv == res.frames_csv
    # every number of the DataFrame is the file's decimal read exactly (empty cell = NaN)
    df = res.frames
    rows = list(csv_module.reader(io.StringIO(csv)))
    assert rows[0] == list(df.columns)
    for r, cells in enumerate(rows[1:]):
        for c, cell in enumerate(cells):
            v = df.iat[r, c]
            if isinstance(v, str):
                assert v == cell
            elif cell == "":
                assert np.isnan(v)
            else:
                assert float(v) == float(cell), (rows[0][c], cell, v)


def test_same_frames_as_the_cli(quick_file: Path, tmp_path: Path) -> None:
    p = cli("run", str(quick_file), "--out", str(tmp_path / "cli"))
    assert p.returncode == 0, p.stderr
    res = kneetrack.run(kneetrack.load(quick_file))
    assert (tmp_path / "cli" / "frames.csv").read_text() == res.frames_csv


def test_pressure_field_matches_the_frame(quick_text: str) -> None:
    res = kneetrack.run(kneetrack.Scenario.from_toml(quick_text))
    df = res.frames
    for i in range(len(df)):
        p = res.pressure(i)
        n = len(p.area_mm2)
        assert p.centroid_mm.shape == (n, 3) and p.centroid_femur_mm.shape == (n, 3)
        assert p.pressure_mpa.shape == (n,) and p.lateral.dtype == bool
        assert (p.pressure_mpa >= 0).all()
        row = df.iloc[i]
        assert p.peak_mpa == pytest.approx(row["peak_pressure_mpa"], rel=1e-9)
        assert p.contact_area_mm2 == pytest.approx(row["contact_area_mm2"], rel=1e-9)
        lat = float(p.area_mm2[p.lateral & (p.pressure_mpa > 0)].sum())
        assert lat == pytest.approx(row["lateral_contact_area_mm2"], rel=1e-9)
    assert res.pressure(-1).frame == len(df) - 1
    with pytest.raises(IndexError):
        res.pressure(len(df))


def test_run_releases_the_gil() -> None:
    sc = kneetrack.load(SCENARIOS / "runner_parametric.toml").set("gait.cycles", 3)
    box = {}

    def work() -> None:
        box["t0"] = time.perf_counter()
        box["res"] = kneetrack.run(sc)
        box["t1"] = time.perf_counter()

    t = threading.Thread(target=work)
    ticks = []
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    t.join()
    inside = [x for x in ticks if box["t0"] < x < box["t1"]]
    # With the GIL held for the run this thread could not tick while Rust runs.
    assert len(inside) > 20, (len(inside), box["t1"] - box["t0"])
    assert len(box["res"].frames) == 300


def test_result_is_a_snapshot(quick_text: str) -> None:
    sc = kneetrack.Scenario.from_toml(quick_text)
    res = kneetrack.run(sc)
    sc.set("muscles.vmo", 0.5)
    assert res.scenario.get("muscles.vmo") == 1.0
    assert res.summary["scenario"]["muscles"]["vmo"] == 1.0
    weak = kneetrack.run(sc)
    assert weak.summary["scenario"]["muscles"]["vmo"] == 0.5
    # a weaker VMO carries less force
    assert (weak.frames["vmo_force_n"] < res.frames["vmo_force_n"]).all()


def test_stability_run_has_its_table() -> None:
    sc = kneetrack.load(SCENARIOS / "stability_flat_trochlea.toml")
    res = kneetrack.run(sc)
    st = res.stability
    assert st is not None
    assert list(st.columns) == ["flexion_deg", "direction", "restraining_force_n", "displaced_status"]
    assert list(res.frames.columns[:4]) == ["frame", "test_flexion_deg", "direction", "state"]
    assert np.isfinite(st["restraining_force_n"]).all()
