"""kneetrack from Python: load scenarios, run them, sweep them, read and write OpenSim files.

The Rust library does every computation (the same code as the ``kneetrack`` command line);
this package hands its results over as pandas DataFrames and numpy arrays. Units follow
the CLI: every column name carries its unit (``_deg`` degrees, ``_mm`` millimetres, ``_n``
newtons, ``_bw`` body weights, ``_mpa`` megapascals, ``_nm`` newton-metres, ``_s``
seconds); fractions have no suffix.

Example::

    import kneetrack

    sc = kneetrack.load("scenarios/runner_baseline.toml")
    sc.set("muscles.vmo", 0.5)            # checked at once, as the CLI checks the file
    res = kneetrack.run(sc)               # the GIL is released while Rust runs
    res.frames["pf_lateral_force_n"].max()  # N
    res.summary["metrics"]["peak_pf_force_bw"]
    table = kneetrack.sweep("scenarios/sweeps/vmo_q_angle.toml")  # = sweep.csv
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
import pandas as pd

from . import _kneetrack as _native
from ._errors import KneetrackError, OpenSimError, ScenarioError, SweepError

__all__ = [
    "Scenario",
    "Result",
    "Pressure",
    "load",
    "run",
    "sweep",
    "read_opensim",
    "write_opensim",
    "KneetrackError",
    "ScenarioError",
    "SweepError",
    "OpenSimError",
    "__version__",
]

__version__: str = _native.version()

PathLike = Union[str, "os.PathLike[str]"]

#: The name a scenario made from text has in messages unless one is given.
TEXT_NAME = "<string>"


# The tables hold Rust's shortest round-trip decimals; they must read back bit-exact. pandas
# 3 parses exactly by default (and deprecates the option); older pandas needs "round_trip".
_EXACT: Dict[str, Any] = (
    {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
)


def _read_csv(text_or_path: Any) -> pd.DataFrame:
    return pd.read_csv(text_or_path, **_EXACT)


class Scenario:
    """A scenario: a TOML file's text and its checked, compiled model and run plan.

    Make one with :func:`load` (a file) or :meth:`Scenario.from_toml` (text). Keys are the
    scenario file's dotted keys (``section.key``), documented in the README's "Scenario
    reference"; values are in the units of their key (e.g. ``subject.q_angle_deg`` in
    degrees, ``muscles.vmo`` a fraction of normal strength, ``itb.tension_n`` in newtons).
    """

    __slots__ = ("_native",)

    def __init__(self, native: Any) -> None:
        """Internal: use :func:`load` or :meth:`from_toml`."""
        self._native = native

    @classmethod
    def load(cls, path: PathLike) -> "Scenario":
        """Reads and checks a scenario file, as ``kneetrack check FILE`` does.

        Raises:
            ScenarioError: the file cannot be read, or a key or value is wrong (the message
                names the file, line, key, value and allowed range).
        """
        return cls(_native.Scenario.load(os.fspath(path)))

    @classmethod
    def from_toml(cls, text: str, path: Optional[PathLike] = None) -> "Scenario":
        """Checks scenario text (a scenario file's contents).

        Args:
            text: the TOML text.
            path: the name used in error messages; relative file names in the scenario
                (``anatomy.osim``, OpenSim files) are relative to its folder. Default
                ``"<string>"`` (relative to the working directory).

        Raises:
            ScenarioError: as for a file.
        """
        name = TEXT_NAME if path is None else os.fspath(path)
        return cls(_native.Scenario.from_toml(text, name))

    def set(self, key: str, value: Any) -> "Scenario":
        """Sets one key, e.g. ``set("muscles.vmo", 0.5)``, and checks the scenario again.

        The value is written into the scenario's text (in place of the file's value, or
        added to its section) and the text is checked exactly as the CLI checks a file, so
        an error is the one ``kneetrack check`` prints for the edited file. On an error the
        scenario is unchanged.

        Args:
            key: dotted key, ``section.key``.
            value: a bool, int, float, str, or list of them, in the key's unit.

        Returns:
            The scenario itself (calls chain).

        Raises:
            ScenarioError: unknown key, wrong type, value out of range (``min``, ``max``
                and ``unit`` set), or values that do not fit together.
            TypeError: a value TOML cannot hold.
        """
        self._native.set(key, value)
        return self

    def get(self, key: str) -> Any:
        """The value of a dotted key with every default resolved (as in summary.json).

        Raises:
            KeyError: no such key.
        """
        return json.loads(self._native.get_json(key))

    @property
    def spec(self) -> Dict[str, Any]:
        """The whole scenario with every default resolved (summary.json's ``scenario``)."""
        return json.loads(self._native.spec_json())

    def to_toml(self) -> str:
        """The scenario's text with every :meth:`set` written in (comments kept): saved
        as a file, ``kneetrack run`` on it gives the same results."""
        return self._native.to_toml()

    def copy(self) -> "Scenario":
        """An independent copy (its own :meth:`set`)."""
        return Scenario(self._native.copy())

    @property
    def path(self) -> str:
        """The file (or the name given to :meth:`from_toml`)."""
        return self._native.path

    @property
    def name(self) -> str:
        """The scenario's name (``scenario.name`` or the file name without ``.toml``)."""
        return self._native.name

    @property
    def kind(self) -> str:
        """``"flexion"``, ``"stability"``, ``"gait"`` or ``"dynamic"``."""
        return self._native.kind

    @property
    def elements(self) -> int:
        """Number of patella contact elements of the knee."""
        return self._native.elements

    @property
    def q_angle_effective_deg(self) -> float:
        """Frontal-plane Q-angle the model has with its tuberosity, degrees."""
        return self._native.q_angle_effective_deg

    def __repr__(self) -> str:
        return f"<kneetrack.Scenario {self.name!r} ({self.kind}) from {self.path!r}>"


def load(path: PathLike) -> Scenario:
    """Reads and checks a scenario file (see :meth:`Scenario.load`)."""
    return Scenario.load(path)


@dataclass(frozen=True)
class Pressure:
    """The patellofemoral pressure field of one solved frame, per patella contact element.

    Arrays have one entry (row) per element, in the knee's element order.

    Attributes:
        frame: the row of :attr:`Result.frames` it belongs to.
        centroid_mm: element centroids, patella frame, mm, shape (n, 3): x anterior,
            y proximal, z lateral (right knee; medial for a left knee).
        centroid_femur_mm: the same centroids in the femur frame at this frame's solved
            patella pose, mm, shape (n, 3).
        area_mm2: element areas, mm², shape (n,).
        lateral: True for lateral-facet elements, shape (n,).
        pressure_mpa: contact pressure, MPa (0 where not in contact), shape (n,).
    """

    frame: int
    centroid_mm: np.ndarray
    centroid_femur_mm: np.ndarray
    area_mm2: np.ndarray
    lateral: np.ndarray
    pressure_mpa: np.ndarray

    @property
    def load_n(self) -> float:
        """Sum of element normal loads Σ p·A, N."""
        return float(np.dot(self.pressure_mpa, self.area_mm2))

    @property
    def contact_area_mm2(self) -> float:
        """Area of the elements in contact (p > 0), mm²."""
        return float(self.area_mm2[self.pressure_mpa > 0].sum())

    @property
    def peak_mpa(self) -> float:
        """Highest element pressure, MPa."""
        return float(self.pressure_mpa.max()) if self.pressure_mpa.size else 0.0


class Result:
    """A finished run (see :func:`run`): the CLI's outputs as Python objects."""

    def __init__(self, native: Any, scenario: Scenario) -> None:
        """Internal: made by :func:`run`."""
        self._native = native
        self._scenario = scenario
        self._tables: Optional[Dict[str, str]] = None
        self._frames: Optional[pd.DataFrame] = None

    def _text(self, name: str) -> Optional[str]:
        if self._tables is None:
            self._tables = dict(self._native.tables())
        return self._tables.get(name)

    @property
    def scenario(self) -> Scenario:
        """The scenario as it was run (a copy: later :meth:`Scenario.set` calls on the
        original do not change it)."""
        return self._scenario

    @property
    def kind(self) -> str:
        """``"flexion"``, ``"stability"``, ``"gait"`` or ``"dynamic"``."""
        return self._native.kind

    @property
    def frames_csv(self) -> str:
        """frames.csv exactly as ``kneetrack run`` writes it."""
        text = self._text("frames.csv")
        assert text is not None
        return text

    @property
    def frames(self) -> pd.DataFrame:
        """frames.csv as a DataFrame: one row per frame, the same columns and units.

        Gait runs lead with ``frame``, ``cycle``, ``cycle_pct``, ``time_s`` and the drive
        (hip angles, moments, ITB tension); flexion runs with ``frame``; stability runs with
        ``frame``, ``test_flexion_deg``, ``direction``, ``state``. Then per frame: knee and
        tibia pose (``_deg``, ``_mm``), muscle and ligament forces (``_n``), the extensor
        moment (``extensor_moment_nm``, N·m), patellofemoral contact (``pf_force_n``,
        ``pf_force_bw``, ``pf_lateral_force_n``, ``lateral_share``, ``contact_area_mm2``,
        pressures in MPa, centre of pressure in mm), patellar tracking
        (``lateral_shift_mm``, ``lateral_tilt_deg``, ``lateral_spin_deg``,
        ``patellar_flexion_deg``, …) and the solve (``status``, ``iterations``,
        ``residual_force_n``, ``residual_moment_nmm``). Empty cells (a value that does not
        apply) are NaN. Dynamic runs have one row per time sample (``time_s`` first).
        """
        if self._frames is None:
            self._frames = _read_csv(io.StringIO(self.frames_csv))
        return self._frames.copy()

    @property
    def stability(self) -> Optional[pd.DataFrame]:
        """stability.csv of a stability test (``flexion_deg``, ``direction``,
        ``restraining_force_n`` in N, ``displaced_status``); ``None`` for other runs."""
        text = self._text("stability.csv")
        return None if text is None else _read_csv(io.StringIO(text))

    @property
    def summary(self) -> Dict[str, Any]:
        """summary.json as a dict: ``version``, ``scenario`` (every default resolved),
        ``model_hash``, ``elements``, ``knee``, ``q_angle_effective_deg`` and ``metrics``
        (e.g. ``peak_pf_force_n`` N, ``peak_pf_force_bw`` body weights,
        ``peak_lateral_force_n`` N, ``peak_pressure_mpa`` MPa, ``max_lateral_shift_mm``
        mm, ``max_lateral_tilt_deg`` degrees)."""
        text = self._text("summary.json")
        assert text is not None
        return json.loads(text)

    def pressure(self, frame: int) -> Pressure:
        """The element pressure field of one frame (a row of :attr:`frames`; negative
        counts from the end), from the library's contact kernel at that frame's solved
        patella pose.

        Raises:
            IndexError: no such frame.
            ValueError: a dynamic run (its rows are time samples without a solved field).
        """
        d = self._native.pressure(int(frame))
        n = len(d["area_mm2"])
        index = int(frame) if frame >= 0 else int(frame) + self._native.solved_frames
        return Pressure(
            frame=index,
            centroid_mm=np.asarray(d["centroid_mm"], dtype=float).reshape(n, 3),
            centroid_femur_mm=np.asarray(d["centroid_femur_mm"], dtype=float).reshape(n, 3),
            area_mm2=np.asarray(d["area_mm2"], dtype=float),
            lateral=np.asarray(d["lateral"], dtype=float) > 0.5,
            pressure_mpa=np.asarray(d["pressure_mpa"], dtype=float),
        )

    def write(self, out: PathLike) -> List[Path]:
        """Writes the outputs the scenario asks for (frames.csv, summary.json, SVG plots,
        results.sto) into folder ``out``, as ``kneetrack run FILE --out DIR``. Returns the
        files written."""
        return [Path(p) for p in self._native.write(os.fspath(out))]

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return f"<kneetrack.Result {self._scenario.name!r} ({self.kind}), {len(self)} rows>"


def run(scenario: Union[Scenario, PathLike]) -> Result:
    """Runs a scenario (or a scenario file), as ``kneetrack run`` does.

    The GIL is released while the Rust library runs, so other Python threads go on.

    Returns:
        a :class:`Result` with ``.frames`` (DataFrame), ``.summary`` (dict) and
        ``.pressure(frame)``.
    """
    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    frozen = sc.copy() if isinstance(scenario, Scenario) else sc
    return Result(_native.run(frozen._native), frozen)


def _count_rows(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return max(sum(1 for _ in f) - 1, 0)
    except OSError:
        return 0


def _progress_line(label: str, done: int, total: int, start: float) -> str:
    secs = max(time.monotonic() - start, 1e-9)
    rate = done / secs
    if done == 0:
        eta = "--:--"
    else:
        s = int(round((total - done) / max(rate, 1e-12)))
        eta = f"{s // 3600}:{s // 60 % 60:02}:{s % 60:02}"
    pct = 100.0 * done / max(total, 1)
    return f"{label}: {done}/{total} variants ({pct:.1f}%), {rate:.2f} variants/s, ETA {eta}"


def sweep(
    spec: PathLike,
    threads: Optional[int] = None,
    progress: bool = True,
    out: Optional[PathLike] = None,
) -> pd.DataFrame:
    """Runs a parameter sweep file, as ``kneetrack sweep FILE``, and returns its table.

    The table is sweep.csv: one row per variant in variant order — ``variant``, the swept
    keys (in their units), ``status`` (``ok``/``failed``), the summary metrics
    (``peak_pf_force_n`` N, ``peak_pf_force_bw`` body weights, ``peak_lateral_force_n`` N,
    ``lateral_share_at_peak``, ``peak_pressure_mpa`` MPa, ``mean_pressure_at_peak_mpa``
    MPa, ``contact_area_at_peak_mm2`` mm², ``max_lateral_shift_mm`` mm,
    ``max_lateral_tilt_deg`` degrees, …) and ``error`` (why a variant failed). It is the
    same table, to the last bit, as the CLI's for the same file.

    Args:
        spec: the sweep file (its ``base`` scenario is relative to it).
        threads: worker threads (default one per core; 1 to 4 per core).
        progress: print progress lines to ``sys.stderr`` (shown in a notebook).
        out: also keep the sweep's folder (sweep.csv, sweep.svg, sweep.json) here; by
            default the files go to a temporary folder that is removed.

    The GIL is released while the variants run. Interrupting (Ctrl-C) stops waiting, not
    the workers of the run under way.

    Raises:
        SweepError: the sweep file is wrong (file, line, key, value).
        ScenarioError: its base scenario is wrong.
        ValueError: ``threads`` out of range.
        OSError: the output folder cannot be written.
    """
    checked = _native.Sweep.load(os.fspath(spec))
    with tempfile.TemporaryDirectory(prefix="kneetrack-sweep-") as tmp:
        folder = Path(out) if out is not None else Path(tmp) / checked.name
        if not progress:
            checked.run(os.fspath(folder), threads)
        else:
            outcome: Dict[str, Any] = {}

            def work() -> None:
                try:
                    outcome["report"] = checked.run(os.fspath(folder), threads)
                except BaseException as e:  # handed to the calling thread
                    outcome["error"] = e

            worker = threading.Thread(target=work, name="kneetrack-sweep", daemon=True)
            start = time.monotonic()
            worker.start()
            journal = folder / "sweep.csv.partial"
            total = int(checked.variants)
            shown = -1
            last = start
            while worker.is_alive():
                worker.join(0.25)
                done = _count_rows(journal)
                now = time.monotonic()
                if done != shown and (now - last >= 1.0 or done == total):
                    sys.stderr.write(_progress_line(checked.name, done, total, start) + "\n")
                    sys.stderr.flush()
                    shown, last = done, now
            if "error" in outcome:
                raise outcome["error"]
            if shown != total:
                sys.stderr.write(_progress_line(checked.name, total, total, start) + "\n")
                sys.stderr.flush()
        table = _read_csv(folder / "sweep.csv")
    table.attrs["sweep"] = checked.name
    table.attrs["axes"] = list(checked.axes)
    table.attrs["plot"] = checked.plot_metric
    if out is not None:
        table.attrs["dir"] = os.fspath(folder)
    return table


def read_opensim(path: PathLike) -> pd.DataFrame:
    """Reads an OpenSim Storage file (.mot joint angles, .sto forces/results) with the
    library's reader (the one ``gait.ik_file`` uses).

    Returns:
        a DataFrame with the file's columns, ``time`` (s) first, values as in the file
        (angles in degrees when ``inDegrees=yes``, radians when ``no``; OpenSim
        translations in metres). ``attrs`` holds ``in_degrees`` (bool or None when the
        header has none), ``name`` (the header's first line) and ``file``.

    Raises:
        OpenSimError: not a Storage file, or a malformed header, row or time column.
        OSError: the file cannot be read.
    """
    name, in_degrees, labels, rows = _native.read_opensim(os.fspath(path))
    df = pd.DataFrame(np.asarray(rows, dtype=float).reshape(len(rows), len(labels)), columns=labels)
    df.attrs["in_degrees"] = in_degrees
    df.attrs["name"] = name
    df.attrs["file"] = os.fspath(path)
    return df


def write_opensim(
    df: pd.DataFrame,
    path: PathLike,
    *,
    in_degrees: Optional[bool] = None,
    name: Optional[str] = None,
) -> None:
    """Writes a DataFrame as an OpenSim Storage file (version 1, tab-separated) with the
    library's writer (the one behind results.sto and ``kneetrack cycle``).

    Args:
        df: numeric columns and a ``time`` column in seconds, increasing (or an index
            named ``time``); at least two rows.
        path: the .mot/.sto file (replaced atomically).
        in_degrees: the header's ``inDegrees``; default ``df.attrs["in_degrees"]`` (as
            :func:`read_opensim` sets it), else True.
        name: the header's first line; default ``df.attrs["name"]``, else the file name
            without extension.

    Raises:
        OpenSimError: the library's reader would refuse the file (non-finite values, time
            not increasing, fewer than two rows); nothing is written.
        ValueError: no ``time`` column, or non-numeric columns.
    """
    if "time" in df.columns:
        times = df["time"]
        data = df.drop(columns=["time"])
    elif df.index.name == "time":
        times = df.index.to_series()
        data = df
    else:
        raise ValueError("write_opensim needs a `time` column (seconds) or an index named `time`")
    try:
        values = data.to_numpy(dtype=float)
        t = np.asarray(times, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"write_opensim takes numeric columns: {e}") from None
    if in_degrees is None:
        attr = df.attrs.get("in_degrees")
        in_degrees = True if attr is None else bool(attr)
    if name is None:
        name = str(df.attrs.get("name") or Path(os.fspath(path)).stem)
    _native.write_opensim(
        os.fspath(path),
        name,
        bool(in_degrees),
        [str(c) for c in data.columns],
        t.tolist(),
        values.tolist(),
    )
