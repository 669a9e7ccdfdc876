"""VMO strength × Q-angle: does a weak VMO matter more in a wide-Q knee?

Runs the shipped 4 × 5 sweep (scenarios/sweeps/vmo_q_angle.toml: one running cycle on the
real knee per variant) and plots the peak lateral patellofemoral force against the Q-angle,
one line per VMO strength. Works as a script or pasted into notebook cells:

    python3 examples/python/vmo_q_angle.py --out vmo_q_angle.png
"""

import argparse
from pathlib import Path

import matplotlib.pyplot as plt

import kneetrack

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default=REPO / "scenarios" / "sweeps" / "vmo_q_angle.toml")
    ap.add_argument("--out", default="vmo_q_angle.png", help="the figure (PNG)")
    args = ap.parse_args()

    table = kneetrack.sweep(args.sweep)  # one row per variant, as sweep.csv
    ok = table[table["status"] == "ok"]
    peak = ok.pivot(index="subject.q_angle_deg", columns="muscles.vmo", values="peak_lateral_force_n")
    print(peak.round(1).to_string())

    fig, ax = plt.subplots(figsize=(6, 4))
    for vmo in peak.columns:
        ax.plot(peak.index, peak[vmo], marker="o", label=f"VMO {vmo:.0%}")
    ax.set_xlabel("Q-angle (degrees)")
    ax.set_ylabel("peak lateral PF force (N)")
    ax.set_title("Running cycle, real knee: VMO strength × Q-angle")
    ax.legend(title="strength")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
