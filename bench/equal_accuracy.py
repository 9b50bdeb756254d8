"""Cost to equal accuracy from ``bench/budget_matched.py`` result files: for each row, the streamed
vectors, settings and device energy at which its test-accuracy curve first reaches a target.

    python bench/equal_accuracy.py FILE.json [FILE.json ...] [--target ACC | --target-row ROW]

``--target-row ROW`` takes the target from that row's final test accuracy (mean over seeds), so
"does A reach B's final accuracy, and at what cost" is read directly (FLOPS against MixedTrain:
Gu et al., AAAI 2021, claim MixedTrain the more efficient at equal accuracy). Per seed, the cost
is that of the first checkpoint whose test accuracy is ≥ the target (checkpoints are the
budget-matched run's: every factor ``--checkpoint-ratio`` of streamed vectors, no interpolation);
a seed that never reaches it is counted as not reached. Printed: seeds reached, and the median
and range of vectors, settings and energy over the seeds that reached it.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def rows_of(files) -> dict[str, list[dict]]:
    """{row name: [per-seed run record with its curve]} over every table of every file."""
    out: dict[str, list[dict]] = {}
    for f in files:
        data = json.loads(Path(f).read_text())
        for table in data["tables"].values():
            for name, runs in table["rows"].items():
                if isinstance(runs, list):
                    out.setdefault(name, []).extend(runs)
    return out


def first_reaching(curve: list[dict], target: float) -> dict | None:
    """The first checkpoint of ``curve`` whose test accuracy is ≥ ``target`` (None if none)."""
    return next((c for c in curve if c["test"] >= target), None)


def cost_to(runs: list[dict], target: float) -> dict:
    hits = [c for c in (first_reaching(r["curve"], target) for r in runs) if c is not None]
    out = {"seeds": len(runs), "reached": len(hits)}
    for key in ("vectors", "settings", "energy"):
        xs = [float(c[key]) for c in hits]
        out[key] = (statistics.median(xs), min(xs), max(xs)) if xs else None
    return out


def fmt(v, f) -> str:
    """'median [min–max]' of a (median, min, max) triple through ``f``; '—' for None."""
    return "—" if v is None else f"{f(v[0])} [{f(v[1])}–{f(v[2])}]"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--target", type=float, help="test accuracy to reach (0–1)")
    g.add_argument("--target-row", help="the target is this row's final test accuracy (mean)")
    a = ap.parse_args(argv)
    rows = rows_of(a.files)
    if a.target_row is not None:
        if a.target_row not in rows:
            raise SystemExit(f"--target-row {a.target_row!r}: not in the files; allowed: "
                             f"{', '.join(sorted(rows))}")
        target = statistics.mean(r["test"] for r in rows[a.target_row])
        print(f"target: {a.target_row}'s final test accuracy, mean over "
              f"{len(rows[a.target_row])} seeds = {target:.4f}")
    else:
        if not 0.0 < a.target <= 1.0:
            raise SystemExit(f"--target {a.target}: allowed: an accuracy in (0, 1]")
        target = a.target
        print(f"target: test accuracy {target:.4f}")
    print(f"{'row':22s} {'reached':>8s} {'vectors (median [min–max])':>34s} "
          f"{'settings':>26s} {'energy J':>28s}")
    for name, runs in rows.items():
        c = cost_to(runs, target)
        print(f"{name:22s} {c['reached']:>3d} of {c['seeds']:<2d} "
              f"{fmt(c['vectors'], lambda x: f'{x:,.0f}'):>34s} "
              f"{fmt(c['settings'], lambda x: f'{x:,.0f}'):>26s} "
              f"{fmt(c['energy'], lambda x: f'{x:.3g}'):>28s}")


if __name__ == "__main__":
    main()
