"""Tests for experiments.results: HDF5 round trip and atomic writes."""

import math
import os

import h5py
import numpy as np
import pytest

from experiments.config import resolve
from experiments.results import SCHEMA_VERSION, RunRecord, read_results, write_results


def make_record(**changes) -> RunRecord:
    cfg = resolve({"model": {"hidden": [8, 4]}, "cost": {"gpus": ["H100 SXM5"]},
                   "run": {"epochs": 2}, "device": {"preset": "crossbar-ideal"},
                   "algorithm": {"clip": 1.0}})
    rec = RunRecord(
        config=cfg.flat(),
        history={"test_accuracy": [0.25, 0.5], "steps": [3.0, 6.0], "train_layers": [0.0, 0.0]},
        references={"mf-ad": {"test_accuracy": [0.3, 0.6], "steps": [3.0, 6.0]},
                    "bp": {"test_accuracy": [0.4, 0.7]}},
        step_summaries=[{"a.macs": 10.0, "b.flops": 2.5},
                        {"a.macs": 11.0, "c.settles": 1.0},
                        {"b.flops": 3.5}],
        costs={"crossbar-ideal MF+DD": {"total_energy_j": 1e-6, "total_latency_s": 2e-5,
                                        "energy_j.adcs": 3e-7, "weight_mode.held": 1.0},
               "GPU H100 SXM5: BP": {"total_energy_j": 0.01, "total_latency_s": 1e-4, "macs": 5.0}},
        versions={"python": "3.11.7", "h5py": h5py.__version__},
    )
    for k, v in changes.items():
        setattr(rec, k, v)
    return rec


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


# ----------------------------------------------------------------- round trip

def test_round_trip(tmp_path):
    rec = make_record(status="diverged", message="training diverged at step 4 (epoch 2)")
    path = tmp_path / "sub" / "dir" / "run.h5"          # parents are created
    assert write_results(path, rec) == path
    assert path.is_file()
    back = read_results(path)

    assert back.config == rec.config
    for k, v in rec.config.items():                      # types survive, not just values
        assert type(back.config[k]) is type(v), (k, back.config[k], v)
    assert back.config["model.hidden"] == [8, 4] and back.config["cost.gpus"] == ["H100 SXM5"]
    assert back.config["run.references"] is True and back.config["algorithm.settings.clip_norm"] == 1.0
    assert back.config["device.preset"] == "crossbar-ideal" and back.config["data.data_dir"] == ""
    assert back.status == "diverged" and back.message == rec.message
    assert back.history == rec.history
    assert back.references == rec.references
    assert back.versions == rec.versions
    assert back.costs == rec.costs
    # step summaries: the union of keys, a missing key reads back as 0.0
    assert back.step_summaries == [{"a.macs": 10.0, "b.flops": 2.5, "c.settles": 0.0},
                                   {"a.macs": 11.0, "b.flops": 0.0, "c.settles": 1.0},
                                   {"a.macs": 0.0, "b.flops": 3.5, "c.settles": 0.0}]
    assert listing(path.parent) == ["run.h5"]


def test_file_layout(tmp_path):
    path = write_results(tmp_path / "run.h5", make_record())
    with h5py.File(path, "r") as f:
        assert f.attrs["forwardlab_schema"] == SCHEMA_VERSION
        assert f.attrs["status"] == "ok" and f.attrs["message"] == ""
        assert f.attrs["config.device.preset"] == "crossbar-ideal"
        assert f["history/test_accuracy"].dtype == np.float64
        assert f["history/test_accuracy"].shape == (2,)
        assert set(f["references"]) == {"mf-ad", "bp"}
        assert [k.decode() for k in f["trace/keys"][()]] == ["a.macs", "b.flops", "c.settles"]
        assert f["trace/steps"].shape == (3, 3) and f["trace/steps"].dtype == np.float64
        assert set(f["cost"]) == {"crossbar-ideal MF+DD", "GPU H100 SXM5: BP"}
        assert f["cost/GPU H100 SXM5: BP"].attrs["total_energy_j"] == 0.01


def test_round_trip_empty_record(tmp_path):
    """A baseline run: no step summaries, no references, no costs (e.g. diverged)."""
    rec = RunRecord(config={"algorithm": "bp", "hidden": [8]}, status="diverged",
                    message="x", history={"diverged_at_step": [1.0]})
    back = read_results(write_results(tmp_path / "e.h5", rec))
    assert back.step_summaries == [] and back.references == {} and back.costs == {}
    assert back.history == {"diverged_at_step": [1.0]}
    assert back.config == {"algorithm": "bp", "hidden": [8]}
    with h5py.File(tmp_path / "e.h5", "r") as f:
        assert f["trace/steps"].shape == (0, 0)


def test_large_trace_is_compressed_and_exact(tmp_path):
    rng = np.random.default_rng(0)
    summaries = [{f"k{j}": float(rng.normal()) for j in range(20)} for _ in range(100)]
    back = read_results(write_results(tmp_path / "big.h5", make_record(step_summaries=summaries)))
    assert back.step_summaries == summaries
    with h5py.File(tmp_path / "big.h5", "r") as f:
        assert f["trace/steps"].compression == "gzip"


def test_nan_in_history_round_trips(tmp_path):
    back = read_results(write_results(tmp_path / "n.h5",
                                      make_record(history={"loss": [1.0, float("nan")]})))
    assert back.history["loss"][0] == 1.0 and math.isnan(back.history["loss"][1])


def test_overwrite_replaces_previous_file(tmp_path):
    path = tmp_path / "run.h5"
    write_results(path, make_record(history={"test_accuracy": [0.1]}))
    write_results(path, make_record(history={"test_accuracy": [0.9]}))
    assert read_results(path).history == {"test_accuracy": [0.9]}
    assert listing(tmp_path) == ["run.h5"]


def test_round_trip_metric_names_with_slash(tmp_path):
    rec = make_record(history={"loss/layer0": [1.0, 0.5], "test_accuracy": [0.2, 0.4]},
                      references={"bp": {"loss/bp": [0.9, 0.8]}})
    back = read_results(write_results(tmp_path / "s.h5", rec))
    assert back.history == rec.history and back.references == rec.references


# ------------------------------------------------------------------ atomicity

@pytest.fixture
def existing(tmp_path):
    path = tmp_path / "run.h5"
    write_results(path, make_record(message="the original"))
    return path, path.read_bytes()


def _check_untouched(path, original):
    assert path.read_bytes() == original
    assert read_results(path).message == "the original"
    assert listing(path.parent) == [path.name], "a temporary file was left behind"


def test_failure_half_way_keeps_existing_file(existing, monkeypatch):
    path, original = existing
    real = h5py.Group.create_group
    calls = []

    def failing(self, name, *a, **k):
        calls.append(name)
        if name == "trace":                        # history and references already written
            raise RuntimeError("disk full (simulated)")
        return real(self, name, *a, **k)

    monkeypatch.setattr(h5py.File, "create_group", failing, raising=False)
    with pytest.raises(RuntimeError, match="simulated"):
        write_results(path, make_record(message="the replacement"))
    assert calls[:3] == ["history", "references", "trace"]
    _check_untouched(path, original)


def test_unstorable_cost_value_keeps_existing_file(existing):
    path, original = existing
    rec = make_record(message="the replacement")
    rec.costs["GPU H100 SXM5: BP"]["bad"] = object()    # h5py cannot store this
    with pytest.raises(TypeError):
        write_results(path, rec)
    _check_untouched(path, original)


def test_interrupt_half_way_keeps_existing_file(existing, monkeypatch):
    """BaseException (Ctrl-C) during the write also cleans up."""
    path, original = existing
    real = h5py.Group.create_dataset

    def interrupted(self, name, *a, **k):
        if name == "steps":
            raise KeyboardInterrupt
        return real(self, name, *a, **k)

    monkeypatch.setattr(h5py.Group, "create_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_results(path, make_record(message="the replacement"))
    _check_untouched(path, original)


def test_failure_at_rename_keeps_existing_file(existing, monkeypatch):
    path, original = existing

    def no_replace(src, dst):
        raise OSError("rename failed (simulated)")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="simulated"):
        write_results(path, make_record(message="the replacement"))
    _check_untouched(path, original)


def test_failure_without_existing_file_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(h5py.File, "create_group",
                        lambda self, name, *a, **k: (_ for _ in ()).throw(RuntimeError("boom")),
                        raising=False)
    with pytest.raises(RuntimeError, match="boom"):
        write_results(tmp_path / "new.h5", make_record())
    assert listing(tmp_path) == []


def test_stray_temporary_file_of_killed_writer_is_ignored(tmp_path):
    path = tmp_path / "run.h5"
    write_results(path, make_record(message="the original"))
    # a writer killed half-way leaves its temporary (a truncated HDF5 file) behind
    partial = make_record(message="half written")
    other = write_results(tmp_path / "other.h5", partial)
    blob = other.read_bytes()
    other.unlink()
    stray = tmp_path / ".run.h5.k1ll3d.tmp"
    stray.write_bytes(blob[: len(blob) // 2])
    original = path.read_bytes()

    back = read_results(path)
    assert back.message == "the original" and back.history == make_record().history
    # a later write to the same path works and does not touch the stray file
    write_results(path, make_record(message="second"))
    assert read_results(path).message == "second"
    assert stray.read_bytes() == blob[: len(blob) // 2]
    assert path.read_bytes() != original
    assert listing(tmp_path) == [".run.h5.k1ll3d.tmp", "run.h5"]


def test_read_missing_or_corrupt_file_raises(tmp_path):
    with pytest.raises(OSError):
        read_results(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(OSError):
        read_results(bad)


# ------------------------------------------------------------------ units

from .units_table import expected_unit, stored_units   # noqa: E402

# every name a tiny mfdd run with references stores (history, references, trace, cost)
RUN_KEYS = [
    "test_accuracy", "val_accuracy", "steps", "train_layers", "epoch_time_s", "loss.layer0",
    "loss.bp", "loss.stage0", "loss.pde", "test_error",
    "host.digital.bytes", "host.digital.bytes_estimator", "host.digital.bytes_loss",
    "host.digital.bytes_optimizer", "host.digital.events", "host.digital.flops",
    "host.digital.flops_loss", "host.digital.flops_estimator", "layer0.digital.bytes_transfer",
    "layer0.info.adc_bits", "layer0.info.detector_signal_power_w", "layer0.info.laser_power_w",
    "layer0.info.optical_path_db", "layer0.info.n_in", "layer0.mvm.macs",
    "layer0.mvm.signal_fraction_sum", "layer0.program.phase_rad_sum",
    "layer0.program.writes_per_cell_max_total", "layer0.program.knobs_written",
    "energy_j.laser", "energy_j.compute", "latency_s.programming", "latency_s.measured", "macs",
    "conversions", "total_energy_j", "total_latency_s", "weight_mode.held", "metric.laser_on_s",
    "metric.laser_electrical_w", "metric.heater_w", "metric.t_step_s", "metric.gpu_flops",
    "metric.energy_per_step_j_low", "metric.latency_per_step_s_nominal",
    "metric.energy_to_target_j_high", "metric.time_to_target_s_low", "metric.target_reached",
    "metric.energy_measured", "metric.endurance_used_fraction",
]


def test_every_stored_unit_matches_the_table(tmp_path):
    """flops_loss and bytes_loss are counts and bytes, not nats; per-level cost metrics keep
    their J and s; every dataset, trace key and cost key is checked."""
    hist = {k: [1.0] for k in RUN_KEYS[:10]}
    rec = make_record(history=hist, references={"bp": hist},
                      step_summaries=[{k: 1.0 for k in RUN_KEYS[10:29]}],
                      costs={"x": {k: 1.0 for k in RUN_KEYS[29:]}})
    units = stored_units(write_results(tmp_path / "u.h5", rec))
    assert set(units) == set(RUN_KEYS)
    wrong = {k: (u, expected_unit(k)) for k, u in units.items() if u != expected_unit(k)}
    assert wrong == {}
    assert units["host.digital.flops_loss"] == "1" and units["host.digital.bytes_loss"] == "B"
