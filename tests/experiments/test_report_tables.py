"""Tables and inputs of a report: the booktabs comparison (mean ± sd over seeds per setting,
units in the headers, one SI prefix per column), the runs table sorted by the axes, a run
shared by two inputs counted once, ``--by`` for loose runs, the sweep's axes stored by the sweep,
and the short terminal summary of a run."""

import pandas as pd
import pytest

from experiments.axes import axis_name, declared_axes, parse_by
from experiments.cli import main
from experiments.frame import load
from experiments.report import accuracy_table, write_report
from experiments.results import read_results
from experiments.tables import comparison_table, to_frame, to_latex
from experiments.terminal import MAX_LINES, run_summary

from . import report_runs as rr


@pytest.mark.parametrize("key, name", [
    ("device.phase_noise.sigma_rad", "phase noise σ (rad)"), ("algorithm.name", "algorithm"),
    ("device.preset", "device preset"), ("device.output_adc.bits", "output adc bits"),
    ("algorithm.settings.num_directions", "directions P"), ("run.seed", "seed")])
def test_axis_names(key, name):
    assert axis_name(key) == name


def test_parse_by():
    assert parse_by(None) is None
    assert parse_by("algorithm.name, device.preset") == ["algorithm.name", "device.preset"]
    with pytest.raises(ValueError, match="key 'seed'"):
        parse_by("algorithm.name,seed")


def test_comparison_table_and_latex(tmp_path):
    df = load(rr.algorithm_sweep(tmp_path / "algo"))
    cols = comparison_table(df)
    table = to_frame(cols)
    assert list(table["algorithm"]) == ["local-guess (calibrated model)"] * 2 + ["MF+DD"] * 2 or \
        list(table["algorithm"]) == ["MF+DD"] * 2 + ["local-guess (calibrated model)"] * 2
    assert set(table["device"]) == {"MZI mesh (mzi-default)", "crossbar (crossbar-default)"}
    assert list(table["runs"]) == ["2"] * 4
    headers = list(table.columns)
    assert "device energy per step (mJ)" in headers and "device latency per step (ms)" in headers
    for _, row in table.iterrows():                       # mean ± sd over the seeds, by hand
        sel = (df["algorithm_label"] == row["algorithm"]) & (df["device_label"] == row["device"])
        acc = df.loc[sel, "test_accuracy"].to_numpy()
        assert row["test accuracy"] == f"{acc.mean():.4f} ± {acc.std(ddof=1):.4f}"
        e = df.loc[sel, "energy_per_step_j"].to_numpy() * 1e3
        mean = float(row["device energy per step (mJ)"].split(" ± ")[0])
        assert mean == pytest.approx(e.mean(), rel=5e-3)       # three significant figures
    # one prefix per column: the cells carry no unit
    assert not table.drop(columns=["algorithm", "device"]).apply(
        lambda c: c.str.contains("J|s", regex=True)).any().any()
    tex = to_latex(cols, "2 algorithms × 2 presets")
    lines = tex.splitlines()
    assert r"\toprule" in lines and r"\midrule" in lines and r"\bottomrule" in lines
    assert sum(l.endswith(r"\\") for l in lines) == 1 + 4                 # header + one per setting
    assert r"$\pm$" in tex and "±" not in tex and r"$\times$" in tex
    assert r"\begin{tabular}{llrrrrrrrr}" in tex


def test_noise_sweep_comparison_has_the_axis_with_its_unit(tmp_path):
    df = load(rr.noise_sweep(tmp_path / "noise"))
    table = to_frame(comparison_table(df))
    assert list(table["phase noise σ (rad)"]) == ["0.002", "0.02", "0.05"]   # sorted by the axis
    assert list(table["runs"]) == ["3", "3", "3"]


def test_runs_shared_by_two_inputs_are_counted_once(tmp_path):
    a = rr.noise_sweep(tmp_path / "a", sigmas=(0.002, 0.02))
    b = rr.noise_sweep(tmp_path / "b", sigmas=(0.02, 0.05))        # σ = 0.02 runs in both
    df = load([a, b])
    assert len(df) == 9 and df["run_id"].is_unique
    assert len(df.attrs["duplicates"]) == 3
    assert df.attrs["axes"] == ["device.phase_noise.sigma_rad"]
    out = tmp_path / "rep"
    write_report([a, b], out)
    assert len(pd.read_csv(out / "runs.csv")) == 9
    assert "Counted once" in (out / "report.html").read_text(encoding="utf-8")


def test_the_sweep_folder_and_runs_declare_the_axes(tmp_path):
    root = rr.algorithm_sweep(tmp_path / "algo")
    assert declared_axes([root]) == ["algorithm.name", "device.preset", "run.seed"]
    one = next((root / "runs").glob("*.h5"))
    assert declared_axes([], [read_results(one).meta]) == ["algorithm.name", "device.preset",
                                                           "run.seed"]
    assert load(one).attrs["axes"] == ["algorithm.name", "device.preset"]   # a run alone too


def test_by_chooses_the_axes_of_loose_runs(tmp_path, capsys):
    paths = [rr.write_results(tmp_path / f"r{k}.h5", rr.record(sigma=s, seed=0))
             for k, s in enumerate((0.002, 0.05))]
    assert load(paths).attrs["axes"] == []
    out = tmp_path / "rep"
    assert main(["report", *map(str, paths), "--by", "device.phase_noise.sigma_rad",
                 "--out", str(out)]) == 0
    assert (out / "accuracy_vs_device_phase_noise_sigma_rad.pdf").is_file()
    assert main(["report", str(paths[0]), "--by", "nope.key", "--out", str(out)]) == 2
    assert "axis 'nope.key' is not a config key" in capsys.readouterr().err


def test_html_runs_table_sorted_by_the_axes_units_in_headers_only(tmp_path):
    out = tmp_path / "rep"
    write_report(rr.noise_sweep(tmp_path / "noise"), out)
    page = (out / "report.html").read_text(encoding="utf-8")
    runs = page[page.index("<h2>Runs</h2>"):page.index("<h2>Figures</h2>")]
    sigmas = [float(s) for s in
              __import__("re").findall(r"<td class='num'>(0\.0\d+)</td>", runs)]
    assert sigmas == sorted(sigmas) and len(sigmas) == 9
    assert " mJ<" not in runs and "(mJ)" in runs                       # unit in the header only
    assert "white-space:nowrap" in page and "name='viewport'" in page


def test_run_summary_is_one_screen_with_whole_names(tmp_path):
    rec = rr.record()
    rec.costs |= {f"GPU Jetson AGX Orin 64GB: {a}": rec.costs[f"GPU H100 SXM5: {a}"]
                  for a in ("MF+DD", "BP")}
    text = run_summary(rec, tmp_path / "r.h5", accuracy_table(rec))
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES
    assert "…" not in text
    for name in ("MF+DD on MZI mesh (mzi-default)", "MF+DD on GPU H100 SXM5",
                 "MF+DD on GPU Jetson AGX Orin 64GB", "BP on GPU Jetson AGX Orin 64GB"):
        assert any(l.startswith(name + " ") or l == name for l in lines), name
    # the device energy per step next to the GPU's, and their ratio with its band
    e_dev = rec.costs["mzi-default MF+DD"]["total_energy_j"]
    e_gpu = rec.costs["GPU H100 SXM5: MF+DD"]["total_energy_j"]
    ratio = next(l for l in lines if l.startswith("  GPU H100 SXM5: energy "))
    assert f"{e_dev / e_gpu:.3g}× (band " in ratio
    assert max(len(l) for l in lines if str(tmp_path) not in l) <= 100     # paths apart
    assert "forwardlab price" in text and "--detail" in text and "forwardlab report" in text
    assert "measured" not in text and "crossbar-default" not in text   # in the full ledger only
