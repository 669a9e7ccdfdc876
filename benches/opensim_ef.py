#!/usr/bin/env python3
"""Side by side with OpenSim: one patellofemoral contact evaluation on the same meshes.

Optional and not run by CI. It times OpenSim's stock ``ElasticFoundationForce`` on the
Lenhart 2015 patellar and femoral cartilage at the pose of kneetrack's contact bench
(``benches/contact.rs``: 30° flexion, 400 N quadriceps, a solved and loaded pose), runs that
bench in the same invocation, and prints both times and their ratio.

Usage (from anywhere in the repository, with cargo, and a CPython for which PyPI has an
``opensim`` 4.6 wheel: 3.11–3.13 on x86-64 Linux with glibc ≥ 2.28; with the standard
``venv`` module, on Debian the ``python3-venv`` package)::

    python3 benches/opensim_ef.py                 # everything: venv, cargo bench, OpenSim
    python3 benches/opensim_ef.py --repeats 50    # more OpenSim repeats (median is reported)
    python3 benches/opensim_ef.py --no-cargo      # reuse the last bench run's pose and time
    python3 benches/opensim_ef.py --venv DIR      # another virtual environment

Steps:

1. **Environment.** Unless it already runs where ``opensim`` imports, the script creates a
   virtual environment (``.venv-opensim`` at the repository root by default), installs
   ``opensim`` (the PyPI wheel of OpenSim 4.6, which bundles Simbody) and ``numpy`` there,
   and re-executes itself with that environment's interpreter.
2. **kneetrack.** ``cargo bench --bench contact -- 'contact_Lenhart2015.*/wrench$'`` with
   ``KNEETRACK_CONTACT_POSE`` set: the bench writes the pose it times (femur_from_patella:
   rotation and translation in mm, in the model file's ``femur_distal_r`` and ``patella_r``
   body frames, in which the mesh files are given) and its contact result to a JSON file.
   The time is criterion's estimate of the ``wrench`` function (one full evaluation of the
   6,052 patella elements against the femoral distance field, without the Jacobian), read
   from ``<target>/criterion/<group>/wrench/new/estimates.json`` (the figure criterion
   prints: its regression slope, else its mean; wall time). The bench profile builds
   with one codegen unit: the first build takes several minutes.
3. **OpenSim model** (built here, stock OpenSim only: the shipped ``lenhart2015.osim`` uses
   OpenSim-JAM's ``Smith2018ArticularContactForce``, which stock OpenSim lacks). The femoral
   cartilage is a ``ContactMesh`` on ground (= ``femur_distal_r``); a patella body hangs from
   ground by a ``FreeJoint`` whose parent frame is kneetrack's bench pose, so at zero
   coordinates the patella cartilage (a ``ContactMesh`` on that body) sits exactly where
   kneetrack evaluates it. One ``ElasticFoundationForce`` holds both meshes; gravity is off
   and the speeds are zero, so only the elastic term acts.
4. **Closed meshes.** Simbody's triangle-mesh contact geometry refuses open surfaces (the
   constructor throws "Each edge must be shared by exactly two faces"), and its depth test
   needs an inside. Each cartilage sheet (open, consistently wound, normals on the
   articular side) is therefore closed into a thin solid: the sheet is copied, offset by
   ``--thickness-mm`` (3 mm by default) along the vertex normals away from the joint, wound
   the other way, and stitched to the original along the boundary. The articular surface
   is the original sheet, unchanged; the solids are written as OBJ files in metres.
   OpenSim takes, for each triangle centroid of one mesh inside the other solid, the
   distance to the nearest surface point of that solid: the thickness must exceed twice the
   deepest overlap so that point is on the articular side (the script checks it).
5. **Timing.** One evaluation = ``Model.realizeDynamics`` after a patella coordinate moved
   by 1e-10 m (alternately up and down), so the state's position stage is invalid and
   Simbody redoes the contact search (over both meshes' OBB trees) and the per-triangle
   springs; the patella body's other work is microseconds (the script also times the same
   realization of a model without the contact force and prints it). Median over
   ``--repeats`` evaluations (30 by default, after 3 warm-ups), wall time and thread CPU time.

Parameters (documented, not fitted): stiffness per mesh k = (1−ν)E / ((1+ν)(1−2ν)·h), the
linear elastic-foundation modulus of kneetrack's own material (E, ν of the model file) over
the combined layer h = mean patellar + mean femoral thickness (kneetrack's area-weighted
means, from the bench). With both meshes in one force Simbody weights each mesh's springs by
half, so the net law is p = k·d. Dissipation 1 s/m and friction 0.01 (static and dynamic,
cartilage's low friction; both inert at zero speed), viscous friction 0, transition
velocity 0.01 m/s (Simbody's default).

The forces differ by design: kneetrack's law is the logarithmic elastic foundation
(Blankevoort 1991) per patellar element with each element's measured layer, taking depth
along the femoral distance field; OpenSim's ``ElasticFoundationForce`` is Simbody's linear
spring bed (f = k·A·d·(1 + c·v), no layer thickness, depth to the nearest surface point) on
the triangles of both meshes. The printed forces are a sanity check that OpenSim sees the
same overlap (same order of magnitude, same direction), not a validation. The overlap
itself is compared directly: the number of patella triangles whose centroid lies inside the
femoral cartilage at the pose (computed here with numpy against the femoral sheet) next to
kneetrack's elements in contact.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "assets" / "lenhart2015"
FEMUR_CARTILAGE = "lenhart2015-R-femur-cartilage.stl"
FEMUR_BONE = "lenhart2015-R-femur-bone.stl"
PATELLA_CARTILAGE = "lenhart2015-R-patella-cartilage.stl"
PATELLA_BONE = "lenhart2015-R-patella-bone.stl"
BENCH_FILTER = "contact_Lenhart2015.*/wrench$"
REEXEC_MARK = "KNEETRACK_OPENSIM_EF_VENV"


# ----------------------------------------------------------------------------------------
# 1. Environment


def ensure_environment(venv_dir: Path, packages: list[str]) -> None:
    """Re-executes this script inside `venv_dir` (created and filled if needed) unless
    `opensim` and `numpy` already import here."""
    try:
        import numpy  # noqa: F401
        import opensim  # noqa: F401

        return
    except ImportError:
        pass
    if os.environ.get(REEXEC_MARK):
        sys.exit(f"opensim or numpy does not import in {sys.prefix} even after installing them")
    python = venv_dir / "bin" / "python"
    if not python.exists():
        print(f"creating the virtual environment {venv_dir}", flush=True)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    probe = subprocess.run(
        [str(python), "-c", "import opensim, numpy"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        print(f"installing {' '.join(packages)} into {venv_dir}", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *packages], check=True
        )
    env = dict(os.environ, **{REEXEC_MARK: "1"})
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


# ----------------------------------------------------------------------------------------
# 2. kneetrack


def target_dir() -> Path:
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(json.loads(out)["target_directory"])


def run_kneetrack_bench(target: Path, pose_file: Path, skip: bool) -> dict:
    """Runs the criterion bench (unless `skip`) and returns its pose, contact result and
    time of the `wrench` function (ns)."""
    started = time.time()
    if not skip:
        pose_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, KNEETRACK_CONTACT_POSE=str(pose_file))
        print(f"cargo bench --bench contact -- '{BENCH_FILTER}'", flush=True)
        subprocess.run(
            ["cargo", "bench", "--bench", "contact", "--", BENCH_FILTER],
            cwd=REPO,
            env=env,
            check=True,
        )
    if not pose_file.exists():
        sys.exit(f"no bench pose at {pose_file}: run without --no-cargo first")
    bench = json.loads(pose_file.read_text())
    pattern = str(target / "criterion" / "contact_Lenhart2015_*" / "wrench" / "new" / "estimates.json")
    runs = sorted(glob.glob(pattern), key=os.path.getmtime)
    if not runs:
        sys.exit(f"no criterion estimate matches {pattern}")
    latest = Path(runs[-1])
    if not skip and latest.stat().st_mtime < started:
        sys.exit(f"{latest} is older than this run: the bench did not run")
    est = json.loads(latest.read_text())
    bench["group"] = latest.parent.parent.parent.name
    bench["mean_ns"] = est["mean"]["point_estimate"]
    bench["median_ns"] = est["median"]["point_estimate"]
    # Criterion's headline figure (the middle of its `time:` line): the slope of the
    # linear-sampling regression where it has one, else the mean.
    bench["time_ns"] = (est.get("slope") or est["mean"])["point_estimate"]
    return bench


# ----------------------------------------------------------------------------------------
# 3–4. Meshes


def read_stl(path: Path):
    """Binary STL → welded vertices (m) and triangles (exact duplicates merged)."""
    import numpy as np

    data = path.read_bytes()
    n = int.from_bytes(data[80:84], "little")
    rec = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    tri = np.frombuffer(data, dtype=rec, count=n, offset=84)["v"].reshape(-1, 3)
    verts, inverse = np.unique(tri.astype(np.float64), axis=0, return_inverse=True)
    return verts, inverse.reshape(-1, 3)


def face_normals(v, f):
    import numpy as np

    return np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # length = 2·area


def vertex_normals(v, f):
    import numpy as np

    fn = face_normals(v, f)
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, f[:, k], fn)
    return vn / np.linalg.norm(vn, axis=1, keepdims=True)


def articular_side_out(v, f, bone_v) -> bool:
    """Whether the winding's normals point away from the bone (the articular side)."""
    import numpy as np

    c = v[f].mean(axis=1) - bone_v.mean(axis=0)
    return float(np.sum(face_normals(v, f) * c)) > 0.0


def close_sheet(v, f, thickness_m: float):
    """Closes an open, consistently wound sheet (normals on the articular side) into a thin
    solid: a back copy offset by `thickness_m` against the vertex normals, wound the other
    way, stitched to the sheet along its boundary edges. Returns (vertices, triangles)."""
    import numpy as np

    n = len(v)
    back = v - thickness_m * vertex_normals(v, f)
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = np.sort(directed, axis=1)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    if counts.max() > 2:
        raise ValueError("non-manifold sheet: an edge has more than two triangles")
    rim = directed[counts[inv.ravel()] == 1]  # boundary edges a→b as the sheet winds them
    a, b = rim[:, 0], rim[:, 1]
    walls = np.concatenate([np.stack([b, a, a + n], 1), np.stack([b, a + n, b + n], 1)])
    tris = np.concatenate([f, f[:, ::-1] + n, walls])
    verts = np.concatenate([v, back])
    # Closed and consistently oriented: every directed edge once, and its reverse once.
    d = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]).astype(np.int64)
    fwd = d[:, 0] * len(verts) + d[:, 1]
    rev = d[:, 1] * len(verts) + d[:, 0]
    if len(np.unique(fwd)) != len(fwd) or not np.isin(rev, fwd).all():
        raise ValueError("the closed solid is not a consistently oriented closed surface")
    return verts, tris, len(rim)


def write_obj(path: Path, v, f) -> None:
    with path.open("w") as out:
        out.write("# closed cartilage solid, metres\n")
        out.writelines(f"v {x:.9g} {y:.9g} {z:.9g}\n" for x, y, z in v)
        out.writelines(f"f {i + 1} {j + 1} {k + 1}\n" for i, j, k in f)


def overlap(rot, trans_m, pat_v, pat_f, fem_v, fem_f):
    """Patella triangle centroids posed in the femur frame, each one's depth (m) below the
    femoral sheet (the tangent plane of its nearest femoral vertex; positive inside)."""
    import numpy as np

    centroids = pat_v[pat_f].mean(axis=1) @ rot.T + trans_m
    fem_n = vertex_normals(fem_v, fem_f)
    depth = np.empty(len(centroids))
    sq = np.einsum("ij,ij->i", fem_v, fem_v)
    for s in range(0, len(centroids), 512):
        p = centroids[s : s + 512]
        d2 = sq[None, :] - 2.0 * p @ fem_v.T
        j = np.argmin(d2, axis=1)
        depth[s : s + 512] = np.einsum("ij,ij->i", fem_v[j] - p, fem_n[j])
    return depth


# ----------------------------------------------------------------------------------------
# 5. OpenSim


def body_xyz_angles(r):
    """Body-fixed X-Y-Z Euler angles (OpenSim's frame orientation) of rotation matrix r."""
    import math

    b = math.asin(max(-1.0, min(1.0, r[0][2])))
    a = math.atan2(-r[1][2], r[2][2])
    c = math.atan2(-r[0][1], r[0][0])
    return a, b, c


def build_model(osim, femur_obj: Path, patella_obj: Path, rot, trans_m, params, contact=True):
    model = osim.Model()
    model.setName("kneetrack_pf_side_by_side")
    model.setGravity(osim.Vec3(0, 0, 0))
    patella = osim.Body("patella_r", 0.02, osim.Vec3(0), osim.Inertia(1e-6, 1e-6, 1e-6))
    model.addBody(patella)
    joint = osim.FreeJoint(
        "pf_r",
        model.getGround(),
        osim.Vec3(*trans_m),
        osim.Vec3(*body_xyz_angles(rot)),
        patella,
        osim.Vec3(0),
        osim.Vec3(0),
    )
    model.addJoint(joint)
    force = None
    if contact:
        femur = osim.ContactMesh(str(femur_obj), osim.Vec3(0), osim.Vec3(0), model.getGround(), "femur_cartilage")
        pat = osim.ContactMesh(str(patella_obj), osim.Vec3(0), osim.Vec3(0), patella, "patella_cartilage")
        model.addContactGeometry(femur)
        model.addContactGeometry(pat)
        force = osim.ElasticFoundationForce()
        force.setName("pf_contact")
        force.addGeometry("femur_cartilage")
        force.addGeometry("patella_cartilage")
        force.setStiffness(params["stiffness"])
        force.setDissipation(params["dissipation"])
        force.setStaticFriction(params["static_friction"])
        force.setDynamicFriction(params["dynamic_friction"])
        force.setViscousFriction(params["viscous_friction"])
        force.setTransitionVelocity(params["transition_velocity"])
        model.addForce(force)
    state = model.initSystem()
    return model, state, joint, patella, force


def time_realize(model, state, coord, repeats: int, warmup: int = 3):
    """Median wall and thread-CPU seconds of realizeDynamics after moving `coord` by
    ±1e-10 m (an invalidated position stage, so the contact is recomputed)."""
    base = coord.getValue(state)
    wall, cpu = [], []
    for i in range(warmup + repeats):
        coord.setValue(state, base + (1e-10 if i % 2 else 0.0), False)
        t0, c0 = time.perf_counter(), time.thread_time()
        model.realizeDynamics(state)
        t1, c1 = time.perf_counter(), time.thread_time()
        if i >= warmup:
            wall.append(t1 - t0)
            cpu.append(c1 - c0)
    coord.setValue(state, base, False)
    return statistics.median(wall), statistics.median(cpu), min(wall)


def patella_force(force, state):
    """Net contact force on the patella (ground = femur frame), N, from the record values."""
    labels = force.getRecordLabels()
    values = force.getRecordValues(state)
    rec = {labels.get(i): values.get(i) for i in range(values.size())}
    return [rec[f"{force.getName()}.patella_r.force.{a}"] for a in "XYZ"]


# ----------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=REPO / ".venv-opensim", help="virtual environment (default: .venv-opensim)")
    ap.add_argument("--opensim", default="opensim==4.6", help="pip requirement for OpenSim (default: opensim==4.6)")
    ap.add_argument("--repeats", type=int, default=30, help="OpenSim evaluations timed (median reported; default 30)")
    ap.add_argument("--thickness-mm", type=float, default=3.0, help="thickness of the closed cartilage solids (default 3 mm)")
    ap.add_argument("--no-cargo", action="store_true", help="reuse the last bench run's pose and estimate")
    args = ap.parse_args()
    ensure_environment(args.venv.resolve(), [args.opensim, "numpy"])

    import numpy as np
    import opensim as osim

    load_before = os.getloadavg()
    target = target_dir()
    work = target / "opensim_ef"
    work.mkdir(parents=True, exist_ok=True)
    kt = run_kneetrack_bench(target, work / "pose.json", args.no_cargo)
    if kt["lat"] != 1.0:
        sys.exit("the bench knee is not a right knee: its frame is mirrored")
    rot = np.array(kt["rotation"])
    trans_m = np.array(kt["translation_mm"]) / 1000.0

    # Meshes: welded, closed into thin solids, written as OBJ (metres, as in the files).
    t = args.thickness_mm / 1000.0
    solids, counts = {}, {}
    for name, cart, bone in [("femur", FEMUR_CARTILAGE, FEMUR_BONE), ("patella", PATELLA_CARTILAGE, PATELLA_BONE)]:
        v, f = read_stl(ASSETS / cart)
        bone_v, _ = read_stl(ASSETS / bone)
        if not articular_side_out(v, f, bone_v):
            f = f[:, ::-1].copy()
        cv, cf, rim = close_sheet(v, f, t)
        path = work / f"{name}-cartilage-closed-{args.thickness_mm:g}mm.obj"
        write_obj(path, cv, cf)
        solids[name] = (v, f, path)
        counts[name] = (len(f), rim, len(cf))

    pv, pf, pobj = solids["patella"]
    fv, ff, fobj = solids["femur"]
    depth = overlap(rot, trans_m, pv, pf, fv, ff)
    inside = (depth > 0) & (depth < t)
    max_depth = float(depth[inside].max()) if inside.any() else 0.0
    if 2.0 * max_depth >= t:
        sys.exit(f"deepest overlap {max_depth * 1e3:.2f} mm: give --thickness-mm above {2e3 * max_depth:.1f}")

    # The contact law's parameters (see the module documentation).
    e_pa, nu = kt["modulus_mpa"] * 1e6, kt["poisson"]
    h_m = (kt["mean_patella_thickness_mm"] + kt["mean_femur_thickness_mm"]) / 1000.0
    params = {
        "stiffness": (1 - nu) * e_pa / ((1 + nu) * (1 - 2 * nu) * h_m),
        "dissipation": 1.0,
        "static_friction": 0.01,
        "dynamic_friction": 0.01,
        "viscous_friction": 0.0,
        "transition_velocity": 0.01,
    }

    model, state, joint, patella, force = build_model(osim, fobj, pobj, rot, trans_m, params)
    coord = joint.get_coordinates(5)  # pf_r translation along the parent frame's Z
    # The patella frame must sit at kneetrack's pose.
    model.realizePosition(state)
    x = patella.getTransformInGround(state)
    got_r = np.array([[x.R().get(i, j) for j in range(3)] for i in range(3)])
    got_p = np.array([x.p().get(i) for i in range(3)])
    if np.abs(got_r - rot).max() > 1e-9 or np.abs(got_p - trans_m).max() > 1e-12:
        sys.exit(f"OpenSim placed the patella at {got_r}, {got_p}, not at the bench pose")
    model.realizeDynamics(state)
    f_osim = patella_force(force, state)
    osim_wall, osim_cpu, osim_best = time_realize(model, state, coord, args.repeats)
    model.realizeDynamics(state)
    f_again = patella_force(force, state)

    bare, bare_state, bare_joint, _, _ = build_model(osim, fobj, pobj, rot, trans_m, params, contact=False)
    bare_wall, _, _ = time_realize(bare, bare_state, bare_joint.get_coordinates(5), args.repeats)
    load_after = os.getloadavg()

    kt_f = kt["force_n"]
    kt_s = kt["time_ns"] * 1e-9
    print()
    print(f"OpenSim {osim.__version__} ({osim.GetVersionAndDate()}), Python {platform.python_version()}")
    print(f"machine: {os.cpu_count()} logical CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"pose: kneetrack's contact bench (30° flexion, 400 N quadriceps), group {kt['group']}")
    print()
    rows = [
        ("patella cartilage triangles", f"{kt['elements']:,} elements", f"{counts['patella'][0]:,} sheet + {counts['patella'][2] - counts['patella'][0]:,} closing = {counts['patella'][2]:,}"),
        ("femoral cartilage triangles", "distance field of the sheet", f"{counts['femur'][0]:,} sheet + {counts['femur'][2] - counts['femur'][0]:,} closing = {counts['femur'][2]:,}"),
        ("patella triangles in contact", f"{kt['elements_in_contact']:,}", f"{int(inside.sum()):,} centroids inside the femoral solid (numpy check; deepest {max_depth * 1e3:.2f} mm)"),
        ("contact force on the patella, N", "[" + ", ".join(f"{c:.1f}" for c in kt_f) + f"] |{np.linalg.norm(kt_f):.1f}|", "[" + ", ".join(f"{c:.1f}" for c in f_osim) + f"] |{np.linalg.norm(f_osim):.1f}|"),
        ("law", "logarithmic EF, measured layers", f"linear EF, k = {params['stiffness']:.3g} N/m³ per mesh"),
        ("one evaluation, wall", f"{kt_s * 1e6:.1f} µs (criterion; mean {kt['mean_ns'] / 1e3:.1f}, median {kt['median_ns'] / 1e3:.1f})", f"{osim_wall * 1e3:.2f} ms median of {args.repeats} (best {osim_best * 1e3:.2f} ms; thread CPU {osim_cpu * 1e3:.2f} ms)"),
        ("  realization without contact", "", f"{bare_wall * 1e6:.1f} µs (included above)"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'':<{w0}}  {'kneetrack':<{w1}}  OpenSim ElasticFoundationForce")
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:<{w1}}  {c}")
    print()
    print(f"ratio OpenSim / kneetrack, wall time per evaluation: {osim_wall / kt_s:.0f}×")
    if max(abs(a - b) for a, b in zip(f_osim, f_again)) > 1e-6 * (1.0 + np.linalg.norm(f_osim)):
        print("warning: OpenSim's force moved after the timing loop", file=sys.stderr)


if __name__ == "__main__":
    main()
