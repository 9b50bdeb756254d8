"""The unit every stored dataset and key must carry (results files): an explicit table by name
pattern, first match wins, checked against the files the tests write."""

import re

UNIT_TABLE = [
    # per-epoch histories
    (r"(test|val|train)_accuracy", "1"),
    (r"steps|train_layers|diverged_at_step", "1"),
    (r"device_settings|streamed_vectors", "1"),     # cumulative device work (counts)
    (r"epoch_time_s", "s"),
    (r"loss\.pde|test_error", "1"),                 # PDE: non-dimensional residual, rel. error
    (r"loss(\..+)?", "nats"),                       # cross-entropy losses (natural log)
    # trace step summaries
    (r".+\.digital\.bytes(_\w+)?", "B"),            # bytes moved, also bytes_loss etc.
    (r".+\.digital\.flops(_\w+)?", "1"),            # FLOP counts, also flops_loss etc.
    (r".+\.info\.(detector_signal_power_w|laser_power_w)", "W"),
    (r".+\.info\.optical_path_db", "dB"),
    (r".+\.program\.phase_rad_sum", "rad"),
    (r".+\.(info|mvm|program|digital|dependency)\.\w+", "1"),  # counts, bits, sizes, flags
    # cost reports
    (r"energy_j\..+|total_energy_j|device_energy_j", "J"),
    (r"latency_s\..+|total_latency_s", "s"),
    (r"metric\.(energy_per_step_j|energy_to_target_j)_(low|nominal|high)", "J"),
    (r"metric\.(latency_per_step_s|time_to_target_s)_(low|nominal|high)", "s"),
    (r"metric\.(laser_on_s|t_step_s)", "s"),
    (r"metric\.(laser_electrical_w|laser_optical_w|heater_w)", "W"),
    (r"metric\.\w+_j(_(low|nominal|high))?", "J"),   # units in the names (cost.md convention)
    (r"metric\.\w+_s(_(low|nominal|high))?", "s"),
    (r"metric\.\w+_w(_(low|nominal|high))?", "W"),
    (r"metric\.\w+", "1"),
    (r"macs|conversions|weight_mode\.\w+", "1"),
]


def expected_unit(name: str) -> str:
    for pattern, unit in UNIT_TABLE:
        if re.fullmatch(pattern, name):
            return unit
    raise AssertionError(f"{name!r} is not in the unit table")


def stored_units(path) -> dict[str, str]:
    """Every stored name (dataset, trace key, cost attribute) of a results file → its unit."""
    import json
    import h5py
    units = {}
    with h5py.File(path, "r") as f:
        for group in ("history", "references"):
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    units[name.rsplit("/", 1)[-1].replace("%2F", "/")] = obj.attrs["units"]
            f[group].visititems(visit)
        units.update(json.loads(f["trace/steps"].attrs["units"]))
        for g in f["cost"].values():
            units.update(json.loads(g.attrs["units"]))
    return units
