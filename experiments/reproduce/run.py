"""``forwardlab reproduce``: run a declared reproduction over seeds, print the table (published,
forwardlab mean ± sd, difference, inside tolerance), write results files and a report.

Output directory (``--out``, default ``results/reproduce/<name>[-quick]``):
  results.json   config, per-seed metrics and curves, the table, the cost rows
  table.csv      the comparison table
  cost.csv       per algorithm: optical passes, energy and latency per training step and to the
                 published accuracy (mean over seeds), beside published chip figures
  report.md      the table, the cost rows, the protocol notes and the plots below
  curves.png     test accuracy against optical passes (mean over seeds, one line per algorithm)
  energy.png     test accuracy against device energy (J)
  partial/       seed<S>[-<part>].json: each (seed, part) job's metrics and curves as it finishes
                 (one worker), so an interrupted run keeps what it completed; config.json: the
                 protocol they were made with (``resume=True`` takes them and runs the rest)
Nothing is overwritten silently: an existing results.json needs ``overwrite=True``.
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

from . import REPRODUCTIONS

__all__ = ["reproduce", "format_table"]


def _mean_sd(values):
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


#: slack of the tolerance tests: accuracies are float32 means (0.94 is stored as 0.9399999976),
#: so a mean that equals a bound up to float32 rounding counts as equal
ROUNDING = 1e-6


def _inside(p, mean) -> bool:
    if not math.isfinite(mean):
        return False
    if p.bound == "at-least":
        return mean >= p.value - p.tolerance - ROUNDING
    return abs(mean - p.value) <= p.tolerance + ROUNDING


def _table(rep, per_seed):
    rows = []
    for p in rep.published:
        mean, sd = _mean_sd([s["metrics"].get(p.key, math.nan) for s in per_seed])
        rows.append({"metric": p.key, "published": p.value, "forwardlab_mean": mean,
                     "forwardlab_sd": sd, "difference": mean - p.value,
                     "tolerance": (f">= {p.value - p.tolerance:g}" if p.bound == "at-least"
                                   else f"± {p.tolerance:g}"),
                     "inside": _inside(p, mean), "source": p.source})
    shown = {p.key for p in rep.published}
    extra = sorted({k for s in per_seed for k in s["metrics"]
                    if k.endswith("/test_acc") and k not in shown})
    for k in extra:                    # measured beside the published ones (e.g. the digital model)
        mean, sd = _mean_sd([s["metrics"].get(k, math.nan) for s in per_seed])
        rows.append({"metric": k, "published": math.nan, "forwardlab_mean": mean,
                     "forwardlab_sd": sd, "difference": math.nan,
                     "tolerance": "no published number", "inside": "", "source": ""})
    for c in rep.chip:
        mean, sd = _mean_sd([s["metrics"].get(c.key, math.nan) for s in per_seed])
        rows.append({"metric": c.key, "published": c.value, "forwardlab_mean": mean,
                     "forwardlab_sd": sd, "difference": mean - c.value,
                     "tolerance": "priced (not a tolerance test)", "inside": "", "source": c.source})
    return rows


def _cost_rows(rep, config, per_seed):
    target = config.get("target_accuracy", math.nan)
    keys = sorted({k for s in per_seed for k in s["curves"]})
    rows = []
    for k in keys:
        cs = [s["curves"][k] for s in per_seed if k in s["curves"]]
        last = lambda f: _mean_sd([c[f][-1] for c in cs])[0]
        step = lambda f: _mean_sd([c[f] for c in cs])[0]

        def to_target(i):
            vals = []
            for c in cs:
                hit = next((j for j, a in enumerate(c["accuracy"]) if a >= target), None)
                vals.append(math.nan if hit is None else [c["passes"], c["energy_j"],
                                                         c["latency_s"]][i][hit])
            reached = [v for v in vals if math.isfinite(v)]
            return (statistics.fmean(reached) if reached else math.nan), len(reached)

        (p_t, n_hit), (e_t, _), (l_t, _) = to_target(0), to_target(1), to_target(2)
        rows.append({"run": k, "steps": step("steps"), "optical_passes": last("passes"),
                     "energy_j": last("energy_j"), "energy_per_step_j": step("step_energy_j"),
                     "latency_per_step_s": step("step_latency_s"), "target": target,
                     "passes_to_target": p_t, "energy_to_target_j": e_t,
                     "latency_to_target_s": l_t, "seeds_reaching_target": f"{n_hit}/{len(cs)}"})
    return rows


def format_table(rows) -> str:
    head = f"{'metric':<34} {'published':>10} {'forwardlab (mean ± sd)':>24} {'diff':>9}  inside"
    lines = [head, "-" * len(head)]
    for r in rows:
        fl = f"{r['forwardlab_mean']:.4g} ± {r['forwardlab_sd']:.2g}"
        inside = r["inside"] if isinstance(r["inside"], str) else ("yes" if r["inside"] else "NO")
        lines.append(f"{r['metric']:<34} {r['published']:>10.4g} {fl:>24} "
                     f"{r['difference']:>9.3g}  {inside} ({r['tolerance']})")
    return "\n".join(lines)


def _plots(out: Path, per_seed, label: str) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for s in per_seed for k in s["curves"]})
    made = []
    for fname, xfield, xlabel in (("curves.png", "passes", "optical passes (cumulative)"),
                                  ("energy.png", "energy_j", "device energy (J, cumulative)")):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for k in keys:
            cs = [s["curves"][k] for s in per_seed if k in s["curves"]]
            n = min(len(c["accuracy"]) for c in cs)
            xs = [statistics.fmean(c[xfield][i] for c in cs) for i in range(n)]
            ys = [statistics.fmean(c["accuracy"][i] for c in cs) for i in range(n)]
            if not any(xs):       # the digital twin makes no optical pass: its final accuracy
                ax.axhline(ys[-1], ls="--", lw=1, color="gray", label=f"{k} (final)")
                continue
            ax.plot(xs, ys, marker="o", ms=3, label=k)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy")
        ax.set_xscale("linear" if xfield == "passes" else "symlog", **({} if xfield == "passes"
                                                                       else {"linthresh": 1e-3}))
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        made.append(fname)
    return made


def _job(args):
    name, config, seed, data_dir, part = args
    import torch
    torch.set_num_threads(1)
    return seed, REPRODUCTIONS[name].run_seed(config, seed, data_dir, part)


def _partial_path(out: Path, job) -> Path:
    _, _, seed, _, part = job
    return out / "partial" / (f"seed{seed}" + ("" if part is None else f"-{part}") + ".json")


def _config_text(config) -> str:
    return json.dumps(config, default=str, sort_keys=True)


def _keep_partial(out: Path, job, result: dict) -> None:
    """``partial/seed<S>[-<part>].json``: one finished (seed, part) job's metrics and curves."""
    path = _partial_path(out, job)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, default=str))


def _resumed(out: Path, config, jobs) -> dict:
    """Finished jobs of an interrupted run in ``out`` (``--resume``), by job index; refuses
    partial results made with another protocol (``partial/config.json`` differs)."""
    stored = out / "partial" / "config.json"
    if not stored.exists():
        raise ValueError(f"--resume: {stored} not found; allowed: an --out directory of an "
                         "interrupted run of the same reproduction")
    if stored.read_text() != _config_text(config):
        raise ValueError(f"--resume: the partial results in {out} were made with another "
                         "config; allowed: the same reproduction and --quick setting, or a new --out")
    done = {}
    for i, j in enumerate(jobs):
        path = _partial_path(out, j)
        if path.exists():
            data = json.loads(path.read_text())     # plain data: numbers and lists, no code
            if not isinstance(data, dict) or set(data) != {"metrics", "curves"}:
                raise ValueError(f"--resume: {path} is not a finished job's result; allowed: "
                                 "a file written by an earlier run (keys metrics, curves)")
            done[i] = (j[2], data)
    return done


def reproduce(name: str, *, quick: bool = False, seeds: int = 3, out: str | Path | None = None,
              data_dir: str | Path | None = None, overwrite: bool = False, workers: int = 1,
              resume: bool = False, echo=print) -> dict:
    """Run reproduction ``name``; returns the results dict (also written to ``out``).
    ``workers`` > 1 runs the (seed, part) jobs in that many processes (same numbers: every job
    draws from its own seeded streams). ``resume``: take the jobs an interrupted run in ``out``
    finished (``partial/``, same config) and run only the others."""
    if name not in REPRODUCTIONS:
        raise ValueError(f"reproduction = {name!r}; allowed: {', '.join(REPRODUCTIONS)}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 100:
        raise ValueError(f"seeds = {seeds!r}; allowed: an integer in [1, 100]")
    rep = REPRODUCTIONS[name]
    config = dict(rep.quick if quick else rep.config)
    out = Path(out) if out is not None else Path("results") / "reproduce" / (name + ("-quick" if quick else ""))
    if (out / "results.json").exists() and not overwrite:
        raise ValueError(f"--out {out}: results.json exists; allowed: a new directory (or overwrite)")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ValueError(f"workers = {workers!r}; allowed: an integer in [1, 64]")
    jobs = [(name, config, seed, data_dir, part) for seed in range(seeds) for part in rep.parts(config)]
    echo(f"[{name}] {len(jobs)} job(s) ({seeds} seed(s) × {len(rep.parts(config))} part(s)), "
         f"{workers} worker(s)")
    created = not out.exists()
    kept = _resumed(out, config, jobs) if resume else {}
    if kept:
        echo(f"[{name}] --resume: {len(kept)} finished job(s) taken from {out / 'partial'}")
    out.mkdir(parents=True, exist_ok=True)     # fail on an unusable path before any training
    (out / "partial").mkdir(exist_ok=True)
    (out / "partial" / "config.json").write_text(_config_text(config))
    todo = [j for i, j in enumerate(jobs) if i not in kept]
    try:
        if workers == 1:
            ran = []
            for j in todo:              # each finished job kept at once: a long run interrupted
                ran.append(_job(j))     # still leaves the seeds and parts it completed
                _keep_partial(out, j, ran[-1][1])
        else:
            import multiprocessing as mp
            with mp.get_context("spawn").Pool(workers) as pool:
                ran = pool.map(_job, todo)
            for j, r in zip(todo, ran):
                _keep_partial(out, j, r[1])
        done = list(kept.values()) + ran
    except BaseException:
        if created and not any(p for p in (out / "partial").iterdir() if p.name != "config.json"):
            import shutil
            shutil.rmtree(out)                     # a run that finished nothing leaves nothing
        raise
    per_seed = [{"metrics": {}, "curves": {}} for _ in range(seeds)]
    for seed, r in done:
        per_seed[seed]["metrics"].update(r["metrics"])
        per_seed[seed]["curves"].update(r["curves"])
    table = _table(rep, per_seed)
    cost = _cost_rows(rep, config, per_seed)
    label = f"{rep.paper} — {'QUICK ' if quick else ''}{seeds} seed(s)"
    if config.get("dataset") == "synthetic-vowels":
        label += " — SYNTHETIC stand-in data, not the Hillenbrand file"
    results = {"name": name, "paper": rep.paper, "quick": quick, "seeds": seeds, "label": label,
               "config": config, "table": table, "cost": cost, "per_seed": per_seed}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    for fname, rows in (("table.csv", table), ("cost.csv", cost)):
        with open(out / fname, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    plots = _plots(out, per_seed, label)
    text = format_table(table)
    cost_lines = [f"{r['run']:<26} steps {r['steps']:.0f}  passes {r['optical_passes']:.3g}  "
                  f"E/step {r['energy_per_step_j']:.3g} J  t/step {r['latency_per_step_s']:.3g} s  "
                  f"to {r['target']:.3g}: passes {r['passes_to_target']:.3g}, "
                  f"E {r['energy_to_target_j']:.3g} J, t {r['latency_to_target_s']:.3g} s "
                  f"({r['seeds_reaching_target']} seeds)" for r in cost]
    md = [f"# {label}", "", "```", text, "```", "", "## Cost (device, priced from the traces)", "",
          "```", *cost_lines, "```", ""] + [f"![{p}]({p})" for p in plots] + \
         ["", "## Protocol", "", rep.notes or ""]
    (out / "report.md").write_text("\n".join(md))
    echo(label)
    echo(text)
    echo("\n".join(cost_lines))
    echo(f"wrote {out}/results.json, table.csv, cost.csv, report.md, {', '.join(plots)}")
    return results
