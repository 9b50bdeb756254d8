"""Fashion-MNIST cost reports before and after the issue-10 cost model (writes the markdown file).

    python bench/fashion_before_after.py [--out bench/results/fashion_before_after.md]
        [--old-commit e5fa261] [--presets mzi-default crossbar-default] [--skip-before]

Run: the Fashion-MNIST subset of the first 2048 training / first 1000 test images of the
official IDX files (written as IDX files into a temporary directory and passed with
``--data-dir``), MLP 784-64 with local heads, MF+DD, batch 128, 1 epoch (16 steps), seed 0, one
thread, no twin references.

* before = the tree at ``--old-commit`` (the last commit before the issue-10 cost commits),
  extracted with ``git archive`` into a temporary directory and run there with its own CLI
  (``run --config old.toml --device D --preset P --dataset fashion-mnist --data-dir SUB
  --no-references --quiet``; old.toml: hidden = [64], batch_size = 128, epochs = 1). That tree
  also has the older device physics and training code.
* after = this tree: ``forwardlab run --config new.toml --device D --preset P`` (new.toml: [run]
  epochs = 1, batch_size = 128, references = false; [model] hidden = [64]; [data] dataset =
  "fashion-mnist", data_dir = SUB), then ``forwardlab price RUN.h5 --detail`` (every cost part and row).
* cost model only: the old tree's ``hwsim.cost.price`` (nominal specs) applied to the mean step
  summary stored by each new run, so the same trace is priced by both models.

Each run is a subprocess with OMP_NUM_THREADS=1; the printed tables are copied verbatim.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_TRAIN, N_TEST = 2048, 1000
OLD_TOML = "hidden = [64]\nbatch_size = 128\nepochs = 1\n"    # that tree reads top-level keys


def write_subset(dst: Path) -> None:
    """The first N_TRAIN / N_TEST images and labels of the official files, as raw IDX files."""
    from experiments.data import load_dataset  # noqa: F401  (locates the files)
    from experiments.data import read_idx
    src = Path("/usr/share/datasets/fashion-mnist")
    dst.mkdir(parents=True, exist_ok=True)
    for stem, n, ndim in (("train-images-idx3-ubyte", N_TRAIN, 3), ("train-labels-idx1-ubyte", N_TRAIN, 1),
                          ("t10k-images-idx3-ubyte", N_TEST, 3), ("t10k-labels-idx1-ubyte", N_TEST, 1)):
        path = next(p for p in (src / f"{stem}.gz", src / stem) if p.exists())
        a = read_idx(path, ndim)[:n]
        header = bytes([0, 0, 0x08, ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
        (dst / stem).write_bytes(header + np.ascontiguousarray(a, dtype=np.uint8).tobytes())


def _env(pythonpath: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(pythonpath), OMP_NUM_THREADS="1",
                NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def _run(cmd: list[str], cwd: Path, pythonpath: Path) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=_env(pythonpath), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def _device(preset: str) -> str:
    return "mzi" if preset.startswith("mzi") else "crossbar"


def before(old: Path, sub: Path, preset: str) -> str:
    (old / "old.toml").write_text(OLD_TOML)
    text = _run([sys.executable, "-m", "experiments.cli", "run", "--config", "old.toml", "--device",
                 _device(preset), "--preset", preset, "--dataset", "fashion-mnist", "--data-dir",
                 str(sub), "--no-references", "--quiet", "--out", str(old / f"{preset}.h5")],
                old, old)
    # the temporary results path says nothing about the run
    return "\n".join(ln for ln in text.splitlines() if not ln.startswith("results written to"))


def after(work: Path, sub: Path, preset: str) -> tuple[str, Path]:
    cfg = work / "new.toml"
    cfg.write_text("[run]\nepochs = 1\nbatch_size = 128\nreferences = false\n[model]\n"
                   f"hidden = [64]\n[data]\ndataset = \"fashion-mnist\"\ndata_dir = \"{sub}\"\n")
    out = work / f"{preset}.h5"
    run_text = _run([sys.executable, "-m", "experiments.cli", "run", "--config", str(cfg),
                     "--device", _device(preset), "--preset", preset, "--out", str(out),
                     "--overwrite", "--quiet"], ROOT, ROOT)
    price_text = _run([sys.executable, "-m", "experiments.cli", "price", str(out), "--detail"], ROOT, ROOT)
    # the accuracy table of the run's own output (from its "model" header to the next blank
    # line), then the re-priced report
    lines = run_text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("model ")), len(lines))
    table = []
    for ln in lines[start:]:
        if not ln.strip():
            break
        table.append(ln)
    return "\n".join(table) + "\n\n" + price_text.strip(), out


_OLD_PRICE = """
import json, sys
from hwsim.cost import price, photonic_spec, crossbar_spec
summary = json.load(open(sys.argv[1]))
spec = {"mzi": photonic_spec("nominal"), "crossbar": crossbar_spec("nominal")}
r = price(summary, spec)
print(json.dumps({"energy": r.energy_j, "latency": r.latency_s}))
"""


def legacy_summary(summary: dict) -> dict:
    """The summary as the old tree's price reads it: a described layer's kind as
    ``"<layer>.info.is_mzi"`` (1.0 / 0.0) instead of today's ``"<layer>.info.kind_<kind>" = 1``
    (:data:`hwsim.trace.KIND_PREFIX`); every other field unchanged. Only mzi and crossbar layers
    existed then."""
    from hwsim.trace import KIND_PREFIX
    out = {}
    for key, v in summary.items():
        layer, _, field = key.rpartition(".info.")
        if layer and field.startswith(KIND_PREFIX):
            if v:
                out[f"{layer}.info.is_mzi"] = 1.0 if field[len(KIND_PREFIX):] == "mzi" else 0.0
            continue
        out[key] = v
    return out


def old_price(old: Path, results: Path) -> tuple[float, float, str]:
    from experiments.price import mean_summary
    from experiments.results import read_results
    summary = legacy_summary(mean_summary(read_results(results).step_summaries))
    path = results.with_suffix(".summary.json")
    path.write_text(json.dumps(summary))
    script = old / "old_price.py"
    script.write_text(_OLD_PRICE)
    got = json.loads(_run([sys.executable, str(script), str(path)], old, old))
    e, t = got["energy"], got["latency"]
    parts = ", ".join(f"{k} {v:.3g}" for k, v in e.items() if v)
    return sum(e.values()), sum(t.values()), parts


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "bench/results/fashion_before_after.md"))
    p.add_argument("--old-commit", default="e5fa261")
    p.add_argument("--presets", nargs="+", default=["mzi-default", "crossbar-default"])
    p.add_argument("--skip-before", action="store_true",
                   help="keep the 'before' sections of the existing file (the old tree's runs)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sub, old, work = tmp / "fmnist-sub", tmp / "old", tmp / "new"
        write_subset(sub)
        old.mkdir()
        work.mkdir()
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", a.old_commit],
                              capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=arch, check=True)
        sections = []
        kept = _old_sections(Path(a.out)) if a.skip_before else {}
        for preset in a.presets:
            body = kept.get(preset) if a.skip_before else before(old, sub, preset).strip()
            sections.append((f"before: {a.old_commit}, its own run on {preset}", body or "(not kept)"))
        priced = []
        for preset in a.presets:
            text, res = after(work, sub, preset)
            sections.append((f"after: this tree, run on {preset} (accuracy), then `forwardlab price`",
                             text))
            priced.append((preset, *old_price(old, res)))
    lines = [f"# Fashion-MNIST cost reports, before and after the issue-10 cost model", "",
             "Written by `python bench/fashion_before_after.py` (see its docstring for the runs):",
             f"Fashion-MNIST subset (first {N_TRAIN} training / first {N_TEST} test images of the",
             "official IDX files), MLP 784-64 with local heads, MF+DD, batch 128, 1 epoch (16 steps),",
             "seed 0, one thread, no twin references. before = the tree at "
             f"{a.old_commit} (older device",
             "physics, training code and cost model); after = this tree (mzi-default with its laser",
             "sized to the array, `Detection.modulator_power_w`); cost model only = "
             f"{a.old_commit}'s",
             "`hwsim.cost.price` (nominal specs) on the new runs' mean step summaries.", ""]
    for title, body in sections:
        lines += [f"## {title}", "", "```", body, "```", ""]
    lines += [f"## cost model only: {a.old_commit} `price` on the new runs' traces (nominal)", "", "```",
              f"{'trace':42s}  {'energy/step [J]':>15s}  {'latency/step [s]':>16s}  components [J]"]
    for preset, e, t, parts in priced:
        lines.append(f"{preset + ' MF+DD (new run, mean step)':42s}  {e:15.4g}  {t:16.4g}  {parts}")
    lines += ["```", "", f"({time.perf_counter() - t0:.0f} s wall)", ""]
    Path(a.out).write_text("\n".join(lines))
    print("\n".join(lines))


def _old_sections(path: Path) -> dict[str, str]:
    """The 'before' code blocks of an existing file, by preset."""
    out, text = {}, path.read_text() if path.exists() else ""
    for chunk in text.split("## before: ")[1:]:
        preset = chunk.split("\n", 1)[0].rsplit(" ", 1)[-1]
        body = chunk.split("```", 2)[1].strip("\n")
        out[preset] = body
    return out


if __name__ == "__main__":
    main()
