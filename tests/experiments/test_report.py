"""Tests for the reports: the runs DataFrame, the plots' data, CSV/HTML files and the terminal
cost tables (100 columns, SI prefixes, absent parts blank, cost level in the header)."""

import base64
import math

import h5py
import matplotlib.image
import numpy as np
import pandas as pd
import pytest

import experiments
from experiments.frame import config_value, find_results, load
from experiments.plots import (accuracy_vs_axis_figure, accuracy_vs_energy_figure, axis_summary,
                               energy_breakdown, is_seed_key, learning_curves_figure,
                               pareto_front, si_scale)
from experiments.report import accuracy_table, cost_section, cost_table, write_report
from experiments.results import RunRecord, write_results
from experiments.si import format_si, unit_of

EPSILONS = (0.005, 0.01)
DIRECTIONS = (8, 32)
SEEDS = (0, 1, 2)
STEPS = 10.0
GPU_NAMES = ("GPU H100 SXM5: BP", "GPU H100 SXM5: MF+DD", "GPU A100 SXM4 80GB: BP",
             "GPU A100 SXM4 80GB: MF+DD", "GPU Jetson AGX Orin 64GB: BP",
             "GPU Jetson AGX Orin 64GB: MF+DD")


def accuracy(eps, p, seed, epoch=1):
    """Hand-made final accuracy of a synthetic run (epoch 0 is a lower first epoch)."""
    return 0.5 + 10 * eps + 0.001 * p + 0.01 * seed - (0.1 if epoch == 0 else 0.0)


def device_cost(p):
    """A photonic-like flat CostReport dict whose energy grows with the direction count P."""
    e = {"laser": 2e-6, "modulators_dacs": 6e-6, "programming": 1e-3 * p, "holding": 1e-3 * p,
         "detection": 1e-6, "adcs": 2e-6, "digital": 4e-5}
    t = {"programming": 1.3e-3, "streaming": 1.6e-6, "conversions": 8e-7, "digital": 3.7e-6}
    d = {f"energy_j.{k}": v for k, v in e.items()} | {f"latency_s.{k}": v for k, v in t.items()}
    return d | {"macs": 1.25e7, "conversions": 1.56e6, "total_energy_j": math.fsum(e.values()),
                "total_latency_s": math.fsum(t.values()), "weight_mode.held": 1.0,
                "weight_mode.redriven": 0.0, "weight_mode.digital": 0.0}


def crossbar_cost():
    """A crossbar-like report: no laser and no holding power (keys absent)."""
    e = {"modulators_dacs": 1.3e-6, "programming": 4e-6, "detection": 6.1e-6, "adcs": 4.4e-7,
         "digital": 4.3e-5}
    t = {"programming": 6.2e-3, "streaming": 6.7e-3, "conversions": 5.2e-5, "digital": 3.6e-6}
    d = {f"energy_j.{k}": v for k, v in e.items()} | {f"latency_s.{k}": v for k, v in t.items()}
    return d | {"macs": 1.28e7, "conversions": 2.66e5, "total_energy_j": math.fsum(e.values()),
                "total_latency_s": math.fsum(t.values()), "weight_mode.held": 1.0,
                "weight_mode.redriven": 0.0, "weight_mode.digital": 0.0}


def gpu_cost(k):
    e = {"compute": 1e-5 * (k + 1), "memory": 4.5e-6, "idle": 1.07e-2 / (k + 1)}
    t = {"compute": 4.8e-8 * (k + 1), "launch": 1e-4}
    d = {f"energy_j.{c}": v for c, v in e.items()} | {f"latency_s.{c}": v for c, v in t.items()}
    return d | {"macs": 7.1e5, "conversions": 0.0, "total_energy_j": math.fsum(e.values()),
                "total_latency_s": math.fsum(t.values()), "weight_mode.held": 0.0,
                "weight_mode.redriven": 0.0, "weight_mode.digital": 1.0}


def all_costs(p=32):
    costs = {"mzi-default MF+DD": device_cost(p), "crossbar-default MF+DD": crossbar_cost()}
    costs.update({n: gpu_cost(k) for k, n in enumerate(GPU_NAMES)})
    return costs


def make_run(eps, p, seed, *, refs=True, config=None):
    cfg = config or {"device": "mzi", "device_preset": "mzi-default", "algorithm": "mfdd",
                     "epsilon": eps, "num_directions": p, "seed": seed, "hidden": [8, 4],
                     "data_dir": "", "cost_level": "nominal", "out": f"runs/e{eps}_p{p}_s{seed}.h5"}
    hist = {"test_accuracy": [accuracy(eps, p, seed, 0), accuracy(eps, p, seed)],
            "steps": [STEPS / 2, STEPS], "loss.layer0": [1.5, 1.2]}
    references = ({"mf-ad": {"test_accuracy": [0.7, 0.8 + seed / 100]},
                   "bp": {"test_accuracy": [0.75, 0.85]}} if refs else {})
    return RunRecord(config=cfg, history=hist, references=references, costs=all_costs(p),
                     versions={"numpy": np.__version__})


def write_sweep(root):
    paths = []
    for eps in EPSILONS:
        for p in DIRECTIONS:
            for seed in SEEDS:
                path = write_results(root / f"eps{eps}" / f"p{p}_s{seed}.h5", make_run(eps, p, seed))
                with h5py.File(path, "r+") as f:     # units as dataset attributes (new schema)
                    f["history/test_accuracy"].attrs["units"] = "fraction"
                    f["history/loss.layer0"].attrs["units"] = "nat"
                paths.append(path)
    return paths


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    paths = write_sweep(root)
    (root / "index.csv").write_text("path,status\nx,ok\n")           # a sweep's index: ignored
    with h5py.File(root / "other.h5", "w") as f:                    # not a results file
        f["x"] = [1.0]
    (root / "eps0.01" / ".p8_s0.h5.abc123.tmp").write_bytes(b"partial")  # stale temp file
    (root / "eps0.01" / ".hidden.h5").write_bytes(b"not even hdf5")
    return root, paths


@pytest.fixture(scope="module")
def report(sweep, tmp_path_factory):
    root, _ = sweep
    out = tmp_path_factory.mktemp("rep") / "new" / "dir"             # created if missing
    return out, write_report([root], out, by=["epsilon", "num_directions"])


# ---------------------------------------------------------------------------------- SI units

@pytest.mark.parametrize("value, unit, text", [
    (0.0123, "J", "12.3 mJ"), (1.3e-6, "s", "1.3 µs"), (0.06024, "J", "60.2 mJ"),
    (4.32e-12, "J", "4.32 pJ"), (1.0, "J", "1 J"), (-0.002, "J", "-2 mJ"), (0.0, "J", "0 J"),
    (0.99996, "s", "1 s"), (999.96e-6, "s", "1 ms"), (1.25e7, "", "12.5 M"), (8.0, "", "8"),
    (2.66e5, "", "266 k"), (812e-9, "s", "812 ns"), (None, "J", ""), (math.nan, "s", ""),
    (math.inf, "J", "inf J"), (-10.0, "dBm", "-10 dBm"),
])
def test_format_si(value, unit, text):
    assert format_si(value, unit) == text


def test_format_si_beyond_the_prefixes_is_scientific():
    assert format_si(3e-20, "J") == "3e-20 J"
    assert format_si(2.5e15, "J") == "2.5e+15 J"
    assert format_si(2.5e15) == "2.5e+15"


@pytest.mark.parametrize("key, unit", [
    ("energy_j.laser", "J"), ("latency_s.programming", "s"), ("total_energy_j", "J"),
    ("laser_on_s", "s"), ("energy_j.modulators_dacs", "J"), ("macs", ""), ("weight_mode.held", ""),
    ("device.phase_noise.sigma_rad", "rad"), ("test_accuracy", ""),
])
def test_unit_of(key, unit):
    assert unit_of(key) == unit


# ---------------------------------------------------------------------------------- DataFrame

def test_load_directory_rows_columns_and_values(sweep):
    root, paths = sweep
    df = experiments.load(root)
    assert experiments.load is load
    assert len(df) == len(EPSILONS) * len(DIRECTIONS) * len(SEEDS) == 12
    assert sorted(df["path"]) == sorted(map(str, paths))             # other.h5, .tmp, hidden: not rows
    assert [p for p, _ in df.attrs["skipped"]] == [str(root / "other.h5")]
    for col in ("epsilon", "num_directions", "seed", "hidden", "status", "message",
                "test_accuracy", "steps", "loss.layer0", "ref.mf-ad.test_accuracy",
                "ref.bp.test_accuracy", "cost.mzi-default MF+DD.energy_j.laser",
                "cost.GPU H100 SXM5: BP.total_energy_j", "energy_per_step_j", "train_energy_j",
                "cost_device", "versions.numpy"):
        assert col in df.columns, col
    for _, row in df.iterrows():
        eps, p, seed = row["epsilon"], row["num_directions"], row["seed"]
        assert row["test_accuracy"] == pytest.approx(accuracy(eps, p, seed), abs=1e-15)  # last epoch
        assert row["ref.mf-ad.test_accuracy"] == pytest.approx(0.8 + seed / 100)
        assert row["status"] == "ok" and row["message"] == ""
        assert row["hidden"] == "[8, 4]"
        assert row["cost_device"] == "mzi-default MF+DD"
        assert row["energy_per_step_j"] == device_cost(p)["total_energy_j"]
        assert row["train_energy_j"] == pytest.approx(device_cost(p)["total_energy_j"] * STEPS)
        assert row["cost.crossbar-default MF+DD.energy_j.adcs"] == 4.4e-7
        assert "cost.crossbar-default MF+DD.energy_j.laser" not in df.columns   # no such part
    assert df.attrs["config_columns"][:4] == ["device", "device_preset", "algorithm", "epsilon"]
    units = df.attrs["units"]
    assert units["test_accuracy"] == "fraction" and units["loss.layer0"] == "nat"
    assert units["cost.mzi-default MF+DD.energy_j.laser"] == "J"
    assert units["cost.GPU H100 SXM5: BP.latency_s.launch"] == "s"
    assert units["train_energy_j"] == "J" and "seed" not in units


def test_load_takes_the_union_of_report_keys(tmp_path):
    a, b = make_run(0.01, 8, 0), make_run(0.01, 8, 1)
    b.costs["crossbar-default MF+DD"]["energy_j.laser"] = 1e-6
    df = load([write_results(tmp_path / "a.h5", a), write_results(tmp_path / "b.h5", b)])
    col = "cost.crossbar-default MF+DD.energy_j.laser"
    assert math.isnan(df[col][0]) and df[col][1] == 1e-6           # absent in a run: NaN


def test_load_one_file_and_a_list(sweep):
    _, paths = sweep
    one = load(paths[0])
    assert len(one) == 1 and one["path"][0] == str(paths[0])
    two = load([str(paths[3]), paths[1], paths[1]])                   # duplicates collapse
    assert list(two["path"]) == sorted([str(paths[1]), str(paths[3])])


def test_load_bad_paths(sweep, tmp_path):
    root, _ = sweep
    with pytest.raises(ValueError, match="does not exist"):
        load(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="forwardlab_schema"):
        load(root / "other.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load(garbage)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no forwardlab results file"):
        load(tmp_path / "empty")
    with pytest.raises(ValueError, match="paths is empty"):
        find_results([])


def test_load_dotted_and_nested_config(tmp_path):
    dotted = {"run.seed": 1, "device.phase_noise.sigma_rad": 0.01, "cost.level": "high",
              "model.hidden": [16]}
    write_results(tmp_path / "a.h5", make_run(0.01, 8, 1, config=dotted))
    df = load(tmp_path / "a.h5")
    assert df["run.seed"][0] == 1 and df["device.phase_noise.sigma_rad"][0] == 0.01
    assert df["cost.level"][0] == "high" and df["model.hidden"][0] == "[16]"
    assert df.attrs["units"]["device.phase_noise.sigma_rad"] == "rad"
    nested = {"run": {"seed": 2}, "cost": {"level": "low"}}
    assert config_value(nested, "cost.level", "cost_level") == "low"
    assert config_value({"cost_level": "high"}, "cost.level", "cost_level") == "high"
    assert config_value({}, "cost.level", default="?") == "?"


def test_new_record_fields_become_columns():
    import dataclasses

    from experiments.frame import frame_from_records

    @dataclasses.dataclass
    class NewRecord(RunRecord):      # fields a later schema may add
        run_id: str = ""
        provenance: dict = dataclasses.field(default_factory=dict)
        units: dict = dataclasses.field(default_factory=dict)

    rec = NewRecord(config={"seed": 3}, history={"test_accuracy": [0.5]}, run_id="r-01",
                    provenance={"timestamp": "2026-12-01T20:00:00Z", "argv": ["run", "--seed", "3"]},
                    units={"test_accuracy": "fraction"})
    df = frame_from_records([("r.h5", rec)])
    assert df["run_id"][0] == "r-01" and df["provenance.timestamp"][0] == "2026-12-01T20:00:00Z"
    assert df["provenance.argv"][0] == '["run", "--seed", "3"]' and "units" not in df.columns
    assert df.attrs["units"]["test_accuracy"] == "fraction"


def test_history_metric_named_like_a_config_key_is_kept_apart(tmp_path):
    rec = make_run(0.01, 8, 0)
    rec.history["epsilon"] = [0.5, 0.25]
    df = load(write_results(tmp_path / "a.h5", rec))
    assert df["epsilon"][0] == 0.01 and df["final.epsilon"][0] == 0.25


# ---------------------------------------------------------------------------------- pure helpers

def test_seed_keys():
    assert all(map(is_seed_key, ["seed", "run.seed", "data_seed", "device.fab_seed"]))
    assert not any(map(is_seed_key, ["seeds_used", "epsilon", "seedling"]))


def test_axes_are_the_declared_ones_never_inferred(sweep):
    df = load(sweep[0])                       # loose runs: no declared axis, none inferred
    assert df.attrs["axes"] == []
    df = load(sweep[0], by=["epsilon", "num_directions"])
    assert df.attrs["axes"] == ["epsilon", "num_directions"]
    assert isinstance(df["epsilon"].dtype, pd.CategoricalDtype)
    assert list(df["epsilon"].cat.categories) == list(EPSILONS)     # numbers in value order
    assert df.groupby("epsilon", observed=True).size().tolist() == [6, 6]
    with pytest.raises(ValueError, match="axis 'nope.key' is not a config key"):
        load(sweep[0], by=["nope.key"])


def test_axis_summary_hand_case():
    df = pd.DataFrame({"a": [1, 1, 1, 2, 2, 3], "b": ["x", "x", "y", "x", "x", "x"],
                       "acc": [0.1, 0.3, 0.5, 0.6, np.nan, 0.9]})
    s = axis_summary(df, "a", "acc")
    assert list(s["a"]) == [1, 2, 3]
    np.testing.assert_allclose(s["mean"], [0.3, 0.6, 0.9])
    np.testing.assert_allclose(s["min"], [0.1, 0.6, 0.9])
    np.testing.assert_allclose(s["max"], [0.5, 0.6, 0.9])
    np.testing.assert_allclose(s["std"], [0.2, 0.0, 0.0])
    assert list(s["n"]) == [3, 1, 1]                                  # the NaN run is left out
    s = axis_summary(df, "a", "acc", by=["b"])
    assert list(zip(s["b"], s["a"], s["n"])) == [("x", 1, 2), ("x", 2, 1), ("x", 3, 1), ("y", 1, 1)]
    np.testing.assert_allclose(s["mean"], [0.2, 0.6, 0.9, 0.5])
    with pytest.raises(ValueError, match="column 'zz'"):
        axis_summary(df, "zz", "acc")


def test_pareto_front_hand_case():
    energy = [1.0, 2.0, 3.0, 4.0, 2.0, 5.0, np.nan, 0.5]
    acc = [0.5, 0.7, 0.6, 0.9, 0.7, 0.9, 0.99, 0.2]
    # 7 (cheapest), 0, 1 (4 duplicates it), 3; 2 is beaten by 1, 5 by 3; 6 has no energy
    assert pareto_front(energy, acc) == [7, 0, 1, 3]
    assert pareto_front([], []) == []
    assert pareto_front([1.0, 1.0], [0.2, 0.4]) == [1]
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1.0], [0.1, 0.2])


def test_energy_breakdown(sweep):
    df = load(sweep[0])
    rows, comps, energy, gpu, n_runs, marks = energy_breakdown(df)
    assert rows[:2] == ["MF+DD on MZI mesh (mzi-default)", "MF+DD on crossbar (crossbar-default)"]
    assert marks[:2] == ["", "†"]                     # traced there, not trained there
    assert gpu == [False, False] + [True] * 6 and n_runs == [12] * 8
    assert all(m in ("", "*") for m in marks[2:])     # own-algorithm GPU rows: the run's counts
    assert "MF+DD on GPU H100 SXM5" in rows and "BP step of the same network on GPU H100 SXM5" in rows
    assert comps[:7] == ["laser", "modulators_dacs", "programming", "holding", "detection",
                         "adcs", "digital"] and comps[7:] == ["compute", "memory", "idle"]
    mean_prog = np.mean([device_cost(p)["energy_j.programming"] for p in DIRECTIONS])
    assert energy[0, comps.index("programming")] == pytest.approx(mean_prog)   # mean over runs
    assert energy[1, comps.index("laser")] == 0.0                     # the crossbar has none
    bp = rows.index("BP step of the same network on GPU H100 SXM5")
    assert energy[bp].sum() == pytest.approx(gpu_cost(0)["total_energy_j"])


# ---------------------------------------------------------------------------------- figures

def test_accuracy_vs_axis_plots_the_seed_mean_and_spread(sweep):
    df = load(sweep[0], by=["epsilon", "num_directions"])
    fig = accuracy_vs_axis_figure(df, "epsilon", ["num_directions"])
    ax = fig.axes[0]
    lines = [l for l in ax.lines if l.get_linestyle() == "-"]
    assert len(lines) == len(DIRECTIONS)                              # one line per other setting
    for line, p in zip(lines, DIRECTIONS):
        np.testing.assert_allclose(line.get_xdata(), EPSILONS)
        np.testing.assert_allclose(line.get_ydata(),
                                   [np.mean([accuracy(e, p, s) for s in SEEDS]) for e in EPSILONS])
    # the bands span min..max over the seeds
    bands = [c for c in ax.collections if c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    assert len(bands) == len(DIRECTIONS)
    for band, p in zip(bands, DIRECTIONS):
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(min(accuracy(e, p, 0) for e in EPSILONS))
        assert ys.max() == pytest.approx(max(accuracy(e, p, 2) for e in EPSILONS))
    assert "3 run(s) per point" in ax.get_title()


def test_accuracy_vs_energy_draws_the_pareto_front(sweep):
    df = load(sweep[0], by=["epsilon", "num_directions"])
    fig = accuracy_vs_energy_figure(df)
    ax = fig.axes[0]
    front = [l for l in ax.lines if l.get_gid() == "pareto front"]
    assert len(front) == 1
    # by hand: P = 8 is cheaper; the best P = 8 run is eps 0.01 seed 2; P = 32 runs only join
    # the front if more accurate, and eps 0.01, P = 32, seed 2 is the most accurate of all
    e8, e32 = (device_cost(p)["total_energy_j"] * STEPS for p in DIRECTIONS)
    factor, unit = si_scale(df["train_energy_j"], "J")
    x, y = front[0].get_xdata(), front[0].get_ydata()
    np.testing.assert_allclose(np.asarray(x) * factor, [e8, e32])
    np.testing.assert_allclose(y, [accuracy(0.01, 8, 2), accuracy(0.01, 32, 2)])
    assert ax.get_xlabel() == f"device training energy ({unit})"


def test_learning_curves_plot_every_epoch(sweep):
    from experiments.results import read_results
    df = load(sweep[1][:2], by=["num_directions"])          # p8 seed 0 and seed 1: one series
    recs = [read_results(p) for p in df["path"]]
    fig = learning_curves_figure(df, recs)
    ys = [list(l.get_ydata()) for l in fig.axes[0].lines]
    mean = np.mean([r.history["test_accuracy"] for r in recs], axis=0)
    assert any(np.allclose(y, mean) for y in ys)              # the run: mean over seeds
    bp = np.mean([r.references["bp"]["test_accuracy"] for r in recs], axis=0)
    assert any(np.allclose(y, bp) for y in ys)                # its own BP reference
    assert len(ys) == 3                                       # device + two references


# ---------------------------------------------------------------------------------- report files

def test_report_files_exist_and_are_real_pngs(report):
    out, written = report
    names = [p.name for p in written]
    figures = ["learning_curves", "accuracy_vs_epsilon", "accuracy_vs_num_directions",
               "energy_breakdown", "accuracy_vs_energy"]
    assert names == [f"{f}.{x}" for f in figures for x in ("png", "pdf", "svg")] + [
        "runs.csv", "comparison.tex", "comparison.csv", "report.html"]
    assert all(p.parent == out and p.is_file() for p in written)
    for p in written:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert p.stat().st_size > 15_000, p
            img = matplotlib.image.imread(p)
            assert img.shape[0] >= 400 and img.shape[1] >= 600
            assert img[..., :3].std() > 0.05, p                      # not a blank canvas
        elif p.suffix == ".pdf":
            assert p.read_bytes()[:5] == b"%PDF-"
        elif p.suffix == ".svg":
            assert b"<svg" in p.read_bytes()[:2000]


def test_csv_round_trip(report, sweep):
    out, _ = report
    df = load(sweep[0], by=["epsilon", "num_directions"])
    back = pd.read_csv(out / "runs.csv", keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(df.columns)
    for col in df.columns:
        if pd.api.types.is_numeric_dtype(df[col]) or isinstance(df[col].dtype, pd.CategoricalDtype):
            np.testing.assert_array_equal(back[col].to_numpy(float), df[col].to_numpy(float), col)
        else:
            assert list(back[col].astype(object).where(back[col].notna(), "")) == list(df[col]), col


def test_html_embeds_every_plot(report):
    out, written = report
    page = (out / "report.html").read_text(encoding="utf-8")
    pngs = [p for p in written if p.suffix == ".png"]
    assert page.count("<img ") == len(pngs) == 5
    for p in pngs:
        assert base64.b64encode(p.read_bytes()).decode() in page
    assert "src='http" not in page and "src=\"http" not in page      # self-contained
    assert page.count("<figcaption>") == 5 and "<table" in page
    runs = page[page.index("<h2>Runs</h2>"):page.index("<h2>Figures</h2>")]
    assert runs.count("<tr>") == 12 + 1                                # one per run + header
    comparison = page[page.index("<h2>Comparison"):page.index("<h2>Runs</h2>")]
    assert comparison.count("<tr>") == 4 + 1                           # 2 eps × 2 P
    mean = np.mean([accuracy(0.01, 32, s) for s in SEEDS])
    sd = np.std([accuracy(0.01, 32, s) for s in SEEDS], ddof=1)
    assert f"{mean:.4f} ± {sd:.4f}" in comparison                      # a seed mean ± sd
    assert "Cost levels: nominal" in page
    e = np.mean([device_cost(p)["total_energy_j"] for p in DIRECTIONS])
    factor, unit = si_scale([e], "J")
    assert f"total ({unit})" in page and f"{e / factor:.3g}<" in page  # unit in the header only


def test_report_out_dir_that_is_a_file(sweep, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is an existing file"):
        write_report(sweep[0], f)
    assert f.read_text() == "x"


def test_accuracy_vs_energy_per_step_without_a_step_count(tmp_path):
    for p in DIRECTIONS:
        rec = make_run(0.01, p, 0)
        del rec.history["steps"]
        write_results(tmp_path / "runs" / f"p{p}.h5", rec)
    written = write_report(tmp_path / "runs", tmp_path / "out")
    assert "accuracy_vs_energy.png" in [p.name for p in written]
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "energy per training step (no step count recorded)" in page
    assert "no Pareto front for fewer than three runs" in page
    fig = accuracy_vs_energy_figure(load(tmp_path / "runs"), energy_col="energy_per_step_j")
    assert not [l for l in fig.axes[0].lines if l.get_gid() == "pareto front"]   # two runs
    assert fig.axes[0].get_xlabel().startswith("device energy per training step (")


def test_report_of_runs_without_costs_or_axes(tmp_path):
    rec = make_run(0.01, 8, 0, refs=False)
    rec.costs = {}
    path = write_results(tmp_path / "runs" / "a.h5", rec)
    written = write_report(path, tmp_path / "out")
    assert [p.name for p in written] == ["learning_curves.png", "learning_curves.pdf",
                                         "learning_curves.svg", "runs.csv", "comparison.tex",
                                         "comparison.csv", "report.html"]


# ---------------------------------------------------------------------------------- terminal

def _record(costs, **config):
    return RunRecord(config={"cost_level": "nominal", **config}, costs=costs,
                     history={"test_accuracy": [0.5]})


def test_cost_section_fits_100_columns_with_device_and_gpu_apart():
    text = cost_section(_record(all_costs()))
    lines = text.splitlines()
    assert max(map(len, lines)) <= 100
    dev = next(i for i, l in enumerate(lines) if l.startswith("device (per step)"))
    gpu = next(i for i, l in enumerate(lines) if "GPU baseline" in l)
    assert dev < gpu
    device_part, gpu_part = "\n".join(lines[dev:gpu]), "\n".join(lines[gpu:])
    assert "GPU H100" not in device_part and "mzi-default" in device_part
    assert "laser" not in gpu_part.split("Ratios")[0] and "idle" in gpu_part
    assert "60.2 mJ" not in text and format_si(device_cost(32)["total_energy_j"], "J") in device_part
    assert "1.3 ms" in device_part                                    # programming latency, SI
    assert "  mzi-default MF+DD / GPU H100 SXM5: BP: energy " in text


def test_cost_section_leaves_absent_parts_blank():
    text = cost_section(_record(all_costs()))
    lines = text.splitlines()
    header = next(l for l in lines if l.startswith("device (per step)"))
    mzi_end = header.index("mzi-default MF+DD") + len("mzi-default MF+DD")
    crossbar_end = header.index("crossbar-default MF+DD") + len("crossbar-default MF+DD")
    rows = {l.split()[-2] if l.split()[0] == "energy" else l.split()[0]: l
            for l in lines[lines.index(header) + 2:] if l.strip() and not l.startswith("latency")}
    # the crossbar has no laser and no holding power: its cells are blank, not "0"
    for part in ("laser", "holding"):
        assert rows[part].endswith(format_si(device_cost(32)[f"energy_j.{part}"], "J"))
        assert len(rows[part]) == mzi_end, rows[part]
    assert len(rows["adcs"]) == crossbar_end and rows["adcs"].endswith("440 nJ")
    assert "0 J" not in text and " 0 " not in text
    # a GPU report never shows device parts, even as blanks: no conversions column there
    gpu_part = text[text.index("GPU baseline"):text.index("Ratios")]
    assert "conversions" not in gpu_part and "MACs/conversion" not in gpu_part


@pytest.mark.parametrize("config, shown", [
    ({"cost_level": "high"}, "high"), ({"cost.level": "low"}, "low"),
    ({"cost_level": ""}, "not recorded")])
def test_cost_section_header_shows_the_level(config, shown):
    rec = RunRecord(config=config, costs=all_costs())
    first = cost_section(rec).splitlines()[0]
    assert first == f"Cost per training step (analytic model, cost level: {shown}):"


def test_new_report_fields_appear_without_code_changes():
    costs = all_costs()
    costs["mzi-default MF+DD"] |= {"laser_on_s": 2e-3, "endurance.max_writes_per_cell": 3.2e4,
                                   "endurance.budget_used": 1.0, "energy_j.laser_static": 4e-3}
    text = cost_section(_record(costs))
    assert max(map(len, text.splitlines())) <= 100
    assert "laser on " in text and "laser on s" not in text and "2 ms" in text
    assert "endurance" in text and "max_writes_per_cell" in text and "32 k" in text
    assert "budget_used" in text                                      # 1.0 is a value, not a flag
    assert "laser_static" in text and "4 mJ" in text


def test_cost_table_wraps_to_any_width():
    reports = {f"device number {i} with a long name": device_cost(8 * (i + 1)) for i in range(6)}
    for width in (60, 80, 100):
        text = cost_table(reports, "devices", width)
        assert max(map(len, text.splitlines())) <= width
        for name in reports:
            assert name in text or name[:20] in text
    with pytest.raises(ValueError, match="reports is empty"):
        cost_table({}, "x")


def test_cost_section_of_an_unfinished_run():
    assert cost_section(RunRecord(config={})) == "(no cost report: the run did not finish)"


def test_accuracy_table_reads_flat_and_nested_configs():
    rec = make_run(0.01, 8, 0)
    text = accuracy_table(rec)
    assert text.splitlines()[2].startswith("MF+DD on mzi-default ")
    # accuracy first, then the training costs the run recorded ("-" where it has none)
    after = text.splitlines()[2][len("MF+DD on mzi-default"):].split()
    assert after[0] == f"{accuracy(0.01, 8, 0):.4f}"
    rec.config = {"algorithm": {"name": "mfdd"}, "device": {"preset": "crossbar-ideal"}}
    assert "MF+DD on crossbar-ideal" in accuracy_table(rec)


def test_report_with_a_diverged_run_and_a_categorical_axis(tmp_path):
    runs = tmp_path / "runs"
    for i, preset in enumerate(("mzi-default", "crossbar-default", "mzi-ideal")):
        rec = make_run(0.01, 8, 0)
        rec.config = dict(rec.config, device_preset=preset, out=f"{i}.h5")
        rec.history["test_accuracy"][-1] = 0.6 + 0.1 * i
        write_results(runs / f"{i}.h5", rec)
    bad = make_run(0.01, 8, 1)
    bad.config = dict(bad.config, device_preset="mzi-ideal", out="bad.h5")
    bad.status, bad.message, bad.costs = "diverged", "MF+DD: loss is nan at step 3", {}
    bad.history["test_accuracy"] = [math.nan]
    write_results(runs / "bad.h5", bad)

    written = write_report(runs, tmp_path / "out", by=["device_preset"])
    assert [p.name for p in written if p.suffix == ".png"] == [
        "learning_curves.png", "accuracy_vs_device_preset.png", "energy_breakdown.png",
        "accuracy_vs_energy.png"]
    df = load(runs, by=["device_preset"])
    assert list(df["status"]) == ["ok", "ok", "ok", "diverged"]      # sorted by the axis, seed
    assert math.isnan(df["energy_per_step_j"][3]) and df["cost_device"][3] == ""
    fig = accuracy_vs_axis_figure(df, "device_preset")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mzi-default", "crossbar-default",
                                                            "mzi-ideal"]
    assert not [l for l in ax.lines if l.get_linestyle() == "-"]      # categorical: no lines
    means = sorted(float(y) for l in ax.lines for y in l.get_ydata() if l.get_marker() not in ("_", "None", ""))
    np.testing.assert_allclose(sorted(set(np.round(means, 9))), [0.6, 0.7, 0.8])  # diverged left out
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "diverged" in page and "loss is nan at step 3" in page


def test_report_out_never_replaces_or_follows_what_forwardlab_did_not_write(tmp_path):
    """A user's own runs.csv in the report folder, or a link at report.html, stops the report
    with one line before anything is written; the user's files are untouched. A report folder
    forwardlab wrote itself is rewritten in place."""
    import os
    from experiments.cli import main
    run = write_results(tmp_path / "run.h5", make_run(0.01, 8, 0))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "runs.csv").write_text("my own table\n")
    assert main(["report", str(run), "--out", str(mine)]) == 2
    assert (mine / "runs.csv").read_text() == "my own table\n"
    assert sorted(p.name for p in mine.iterdir()) == ["runs.csv"]
    linked = tmp_path / "linked"
    linked.mkdir()
    target = tmp_path / "elsewhere.html"
    target.write_text("user page")
    os.symlink(target, linked / "report.html")
    assert main(["report", str(run), "--out", str(linked)]) == 2
    assert target.read_text() == "user page"
    ours = tmp_path / "ours"
    assert main(["report", str(run), "--out", str(ours)]) == 0
    assert main(["report", str(run), "--out", str(ours)]) == 0       # its own files: rewritten
    assert (ours / "report.html").is_file() and (ours / "runs.csv").is_file()
