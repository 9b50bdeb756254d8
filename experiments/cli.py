"""``forwardlab`` command line.

    forwardlab run [--config FILE.toml|RUN.h5] [--set dotted.key=value ...] [--device mzi|crossbar]
                   [--preset NAME] [--algorithm NAME] [--dataset NAME] [--data-dir DIR]
                   [--epochs N] [--directions P] [--epsilon E] [--seed S] [--threads N]
                   [--out PATH] [--overwrite] [--resume] [--no-references] [--quiet]
    forwardlab config show [--config F] [--set ...]    print the resolved config as TOML
    forwardlab sweep SWEEP.toml [--workers N | --scheduler ADDRESS] [--out DIR]
    forwardlab report PATH... [--by KEY[,KEY]] [--out DIR]   tables; with --out figures, CSV,
                                                       LaTeX and HTML along the sweep's axes
    forwardlab price RUN.h5 [--cost-level L] [--spec FILE.toml] [--detail] [--sensitivity]
                     [--project weights=N,layers=L]    re-price from stored traces (headline;
                                                       --detail: the full ledger and the chip)
    forwardlab presets [NAME]                          list presets / print one as TOML
    forwardlab algorithms [--config F] [--set K=V]     capability, settings and vectors per step
    forwardlab warmup                                  compile the numba kernels now
    forwardlab reproduce NAME [--quick] [--seeds N] [--out DIR] [--data-dir DIR] [--resume] | --list
                                                       re-run a published training experiment
    forwardlab --version

User errors (bad names or values, missing or corrupt data, unknown config keys, unusable
output paths) print one line and exit with status 2 before any training, leaving no file. A
diverged run exits 1 with a results file that records the failure. Ctrl-C and SIGTERM stop at
the next step boundary, write partial results (status "interrupted") and exit 130 / 143; a
sweep stops its workers the same way and leaves a consistent index. A full disk or an I/O error
prints one line naming the path and the space needed and exits 1; earlier files stay intact.
"""
from __future__ import annotations

import argparse
import signal
import sys
from contextlib import ExitStack
from pathlib import Path

# Nothing here imports torch, numba or the device models at module level: ``--help``,
# ``--version`` and the listing commands must start in well under a second (each command
# imports what it needs; the config dataclasses, presets and registries import torch only
# when something is built — see ``hwsim.lazy``).

__all__ = ["main", "resolve_cli_config"]

# CLI flags → dotted config keys.
FLAG_KEYS = {"device": "device.kind", "preset": "device.preset", "algorithm": "algorithm.name",
             "dataset": "data.dataset", "data_dir": "data.data_dir", "epochs": "run.epochs",
             "num_directions": "algorithm.num_directions", "epsilon": "algorithm.epsilon",
             "seed": "run.seed", "out": "run.out", "references": "run.references",
             "threads": "run.threads", "val_split": "data.val_split"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # one line, exit 2
        print(f"forwardlab: error: {message}", file=sys.stderr)
        raise SystemExit(2)


class _Version(argparse.Action):
    """``--version``: the installed distribution's version (looked up only when asked)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"forwardlab {version()}")
        parser.exit(0)


def version() -> str:
    """The installed forwardlab version (package metadata; the source tree's pyproject.toml
    when run from a checkout that is not installed)."""
    from importlib import metadata
    try:
        return metadata.version("forwardlab")
    except metadata.PackageNotFoundError:   # pragma: no cover - a bare checkout
        import re
        text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
        m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
        return m.group(1) if m else "unknown"


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config (sections run, model, algorithm, device, cost, "
                                    "data), or a results file to re-run its resolved config")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set device.phase_noise.sigma_rad=0.01 "
                        "(repeatable; applied last)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="forwardlab", description="Forward-only training on simulated photonic and "
                                                "analog hardware.")
    p.add_argument("--version", action=_Version, help="print the installed version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="train one model and write a results file")
    _add_config_options(r)
    r.add_argument("--device", help="mzi or crossbar (default mzi)")
    r.add_argument("--preset", help="device preset (see `forwardlab presets`)")
    r.add_argument("--algorithm", help="mfdd (default), mf-ad, bp, or any of `forwardlab algorithms`")
    r.add_argument("--dataset", help="digits, fashion-mnist, mnist or vowels (default digits)")
    r.add_argument("--data-dir", dest="data_dir", help="directory with the IDX files (or vowdata.dat)")
    r.add_argument("--epochs", type=int)
    r.add_argument("--directions", dest="num_directions", type=int,
                   help="directions P per device-knob estimate")
    r.add_argument("--epsilon", type=float, help="perturbation size, in units of the knob range")
    r.add_argument("--seed", type=int)
    r.add_argument("--threads", type=int, help="torch threads for this run (default 1)")
    r.add_argument("--val-split", dest="val_split", type=float,
                   help="fraction of the training set held out for choosing settings (default 0)")
    r.add_argument("--out", help="results file (default results/run-<run id>.h5)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an existing forwardlab results file at --out")
    r.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last epoch checkpoint")
    r.add_argument("--no-references", dest="references", action="store_const", const=False,
                   help="skip the MF-AD and BP references on the ideal twin")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    c = sub.add_parser("config", help="show the fully resolved config")
    csub = c.add_subparsers(dest="config_command", parser_class=_Parser)
    show = csub.add_parser("show", help="print the resolved config as TOML")
    _add_config_options(show)
    show.add_argument("--explain", action="store_true",
                      help="comment every key with its meaning and unit where it declares them")
    s = sub.add_parser("sweep", help="run a sweep (grid/zip axes over config keys)")
    s.add_argument("path", help="sweep TOML file")
    s.add_argument("--workers", type=int, help="local worker processes (default 1)")
    s.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    s.add_argument("--out", help="sweep directory (default: [sweep] out, or results/<file stem>)")
    s.add_argument("--quiet", action="store_true")
    rep = sub.add_parser("report", help="tables of results files; with --out plots, CSV and HTML")
    rep.add_argument("paths", nargs="+", help="results files or sweep directories")
    rep.add_argument("--out", help="directory for the figures (PNG, PDF, SVG), runs.csv, "
                                   "comparison.tex and report.html")
    rep.add_argument("--by", help="the axes to compare along, comma-separated config keys (default: "
                                  "the axes the sweep declared), e.g. algorithm.name,device.preset")
    pc = sub.add_parser("price", help="re-price a stored run from its traces alone")
    pc.add_argument("path", help="results file")
    pc.add_argument("--cost-level", dest="level", help="low, nominal or high (default: the run's)")
    pc.add_argument("--spec", help="TOML spec overrides: [mzi], [crossbar], [gpu.\"<preset>\"]")
    pc.add_argument("--detail", action="store_true",
                    help="the full ledger: every part of every row (default: the headline)")
    pc.add_argument("--sensitivity", action="store_true",
                    help="one-at-a-time tornado: top 5 movers of each device/GPU ratio and the "
                         "break-even value of the top one")
    pc.add_argument("--project", metavar="weights=N,layers=L",
                    help="price the run's step re-shaped for L square layers holding N weights "
                         "(no training: per-step figures only)")
    al = sub.add_parser("algorithms", help="list the algorithms: the capability each needs, device "
                                           "settings and streamed vectors per step on the "
                                           "configured network")
    _add_config_options(al)
    sub.add_parser("warmup", help="compile the numba kernels now (done once per checkout; runs "
                                  "announce it when they have to)")
    pr = sub.add_parser("presets", help="list device presets, or print one as TOML")
    pr.add_argument("name", nargs="?")
    rp = sub.add_parser("reproduce", help="reproduce a published in-situ training experiment")
    rp.add_argument("name", nargs="?", help="a reproduction (see --list)")
    rp.add_argument("--list", action="store_true", help="one line per reproduction")
    rp.add_argument("--quick", action="store_true", help="seconds-long version of the protocol")
    rp.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    rp.add_argument("--out", help="output directory (default results/reproduce/NAME[-quick])")
    rp.add_argument("--data-dir", dest="data_dir", help="directory holding the data file(s)")
    rp.add_argument("--overwrite", action="store_true", help="replace results in --out")
    rp.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    rp.add_argument("--resume", action="store_true",
                    help="take the jobs an interrupted run in --out finished; run the rest")
    return p


def _err(message: str, code: int = 2) -> int:
    print(f"forwardlab: error: {message}", file=sys.stderr)
    return code


def resolve_cli_config(config: str | None, sets: list[str], flags: dict | None = None):
    """Config from a TOML file (or a results file's stored config), CLI flags, then ``--set``."""
    from .config import ConfigError, load_toml, parse_set, resolve, set_dotted
    mapping: dict = {}
    if config is not None and not config.strip():
        raise ConfigError("--config ''; allowed: a TOML config file or a results .h5 file")
    if config:
        if Path(config).suffix in (".h5", ".hdf5"):
            mapping = _config_from_results(config)
        else:
            mapping = load_toml(config)
    for name, key in FLAG_KEYS.items():
        v = (flags or {}).get(name)
        if v is not None:
            set_dotted(mapping, key, v)
    for item in sets:
        key, value = parse_set(item)
        set_dotted(mapping, key, value)
    return resolve(mapping)


def _config_from_results(path: str) -> dict:
    import tomllib
    from .config import ConfigError
    from .outputs import is_results_file
    from .results import read_results
    p = Path(path)
    if not p.is_file() or not is_results_file(p):
        raise ConfigError(f"config file {path!r} is not a forwardlab results file; allowed: a "
                          "TOML config or a results .h5 file")
    from .results import ResultsError
    try:
        toml = read_results(p).config_toml
    except ResultsError as e:
        raise ConfigError(f"{e}, or a TOML config") from None
    if not toml:
        raise ConfigError(f"results file {path!r} stores no resolved config (written by an older "
                          "version); allowed: a TOML config")
    try:
        return tomllib.loads(toml)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"results file {path!r}: its stored config is not valid TOML ({e}); "
                          "allowed: a results file written by forwardlab, or a TOML config") from None


class _StopFlag:
    """SIGINT/SIGTERM → stop at the next step boundary; a second signal aborts at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old = {}

    def __enter__(self) -> "_StopFlag":
        for s in (signal.SIGINT, signal.SIGTERM):
            self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:   # second signal: leave now (writes are atomic)
            raise SystemExit(128 + signum)
        self.signum = signum
        print(f"\nforwardlab: {signal.Signals(signum).name} received; stopping at the next step "
              "boundary (again to abort)", file=sys.stderr)

    def __call__(self) -> bool:
        return self.signum is not None


def _progress(enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    def make(total: int, label: str):
        bar = tqdm(total=total, desc=label, leave=False, unit="step", file=sys.stderr)

        def step(i: int) -> None:
            bar.update(1)
            if i >= total:
                bar.close()
        return step
    return make


def _cmd_run(args) -> int:
    from algorithms.training import Divergence, Interrupted
    from .config import ConfigError
    from .data import DataError
    from .outputs import OutputError
    from .runner import prepare, run
    if args.data_dir is not None and not args.data_dir.strip():
        return _err("--data-dir ''; allowed: a directory holding the data set's IDX files")
    if args.out is not None and not args.out.strip():
        return _err("--out ''; allowed: a results file path (omit --out for "
                    "results/run-<run id>.h5)")
    if args.out is not None and args.out.endswith("/"):
        return _err(f"--out {args.out!r} ends with '/', a directory; allowed: a file path such as "
                    f"{args.out.rstrip('/') + '/run.h5'!r}")
    from .outputs import WriteError
    flags = {k: getattr(args, k) for k in FLAG_KEYS}
    try:
        cfg = resolve_cli_config(args.config, args.sets, flags)
        out = prepare(cfg, overwrite=args.overwrite, resume=args.resume)
    except WriteError as e:
        return _err(str(e), 1)
    except (ConfigError, OutputError) as e:
        return _err(str(e))
    from .warmup import compile_notice, kernels_cached, warm_kernels
    compiled = None

    def before_build() -> None:
        # Every check has passed: a fresh checkout compiles now, on one announced line; after
        # that, a kernel edited since it was cached is announced when it recompiles.
        nonlocal compiled
        if not kernels_cached():
            warm_kernels(announce=True)
        compiled = during.enter_context(compile_notice(on_first=lambda: print(
            "forwardlab: compiling numba kernels (edited since cached; cached afterwards)",
            file=sys.stderr, flush=True)))

    with _StopFlag() as stop, ExitStack() as during:
        try:
            rec = run(cfg, out, progress=_progress(not args.quiet and sys.stderr.isatty()),
                      stop=stop, resume=args.resume, before_build=before_build)
        except WriteError as e:   # a full disk: not a bad input
            return _err(f"{e}; continue with the same command and --resume", 1)
        except (ConfigError, DataError, OutputError) as e:
            return _err(str(e))
        except Divergence as e:
            print(f"forwardlab: {e}; results with status 'diverged' written to {out}", file=sys.stderr)
            return 1
        except Interrupted as e:
            print(f"forwardlab: {e}; partial results (status 'interrupted') written to {out}; "
                  f"continue with the same command and --resume", file=sys.stderr)
            return 128 + (stop.signum or signal.SIGINT)
        except MemoryError:
            print("forwardlab: error: out of memory during training; lower "
                  "algorithm.settings.num_directions (--directions) or run.batch_size", file=sys.stderr)
            return 1
    from .report import accuracy_table   # pandas: not before the first line
    from .terminal import run_summary
    if compiled is not None and compiled.count:
        print(f"forwardlab: compiled {compiled.count} numba kernels in {compiled.seconds:.1f} s of "
              "CPU during the run", file=sys.stderr)
    print()
    print(run_summary(rec, out, accuracy_table(rec)))
    return 0


def _cmd_config(args) -> int:
    from .config import ConfigError, config_to_toml
    if args.config_command != "show":
        return _err("config needs a subcommand; allowed: show")
    try:
        cfg = resolve_cli_config(args.config, args.sets)
    except ConfigError as e:
        return _err(str(e))
    sys.stdout.write(config_to_toml(cfg, explain=args.explain))
    return 0


def _cmd_report(args) -> int:
    from .report import accuracy_table, cost_section
    from .results import read_results
    from .outputs import is_results_file
    if args.out is not None and not args.out.strip():
        return _err("report --out ''; allowed: a directory for the plots, runs.csv and report.html")
    files: list[Path] = []
    for p in map(Path, args.paths):
        if p.is_dir():
            found = sorted(x for x in p.rglob("*.h5") if not x.name.startswith("."))
            if not found:
                return _err(f"report: directory {str(p)!r} holds no results files; allowed: results "
                            ".h5 files or a sweep directory")
            files += found
        elif p.is_file():
            if not is_results_file(p):
                return _err(f"report: {str(p)!r} is not a forwardlab results file; allowed: results "
                            ".h5 files written by forwardlab run, or a sweep directory")
            files.append(p)
        else:
            return _err(f"report: {str(p)!r} does not exist; allowed: results .h5 files or a sweep "
                        "directory")
    try:
        from .axes import parse_by
        by = parse_by(args.by)
    except ValueError as e:
        return _err(f"report: {e}")
    from .results import ResultsError
    for f in files:   # every file read before anything is written: a bad one is one line
        try:
            read_results(f)
        except ResultsError as e:
            return _err(f"report: {e}")
    if args.out:
        from .outputs import WriteError
        try:
            from .report import write_report
            written = write_report(files, args.out, by=by)
        except WriteError as e:
            return _err(f"report: {e}", 1)
        except ValueError as e:
            return _err(f"report: {e}")
        for w in written:
            print(w)
        return 0
    for f in files:
        try:
            rec = read_results(f)
        except Exception as e:
            return _err(f"cannot read results file {str(f)!r} ({type(e).__name__}: {e}); allowed: "
                        "a complete forwardlab results file")
        if len(files) > 1:
            print(f"== {f}")
        print(accuracy_table(rec))
        print()
        print(cost_section(rec))
    return 0


def _cmd_price(args) -> int:
    from .config import COST_LEVELS, ConfigError, load_toml
    from .outputs import is_results_file
    from .price import inventory_section, plain_config, reprice
    from .report import cost_section
    from .results import ResultsError, RunRecord, read_results
    path = Path(args.path)
    if not path.is_file() or not is_results_file(path):
        return _err(f"price: {args.path!r} is not a forwardlab results file; allowed: a results .h5 "
                    "file")
    try:
        read_results(path)
    except ResultsError as e:
        return _err(f"price: {e}")
    if args.level is not None and args.level not in COST_LEVELS:
        return _err(f"--cost-level {args.level!r}; allowed: {', '.join(COST_LEVELS)}")
    if args.spec is not None:
        try:
            load_toml(args.spec, what="cost spec file")
        except ConfigError as e:
            return _err(str(e))
    projection = None
    if args.project is not None:
        from hwsim.cost.projection import parse_project
        try:
            projection = parse_project(args.project)
        except ValueError as e:
            return _err(f"price: {e}")
    try:
        reports = reprice(path, args.level, args.spec)
    except ValueError as e:
        return _err(f"price: {e}")
    stored = read_results(path)
    config = dict(stored.config)
    level = args.level or str(plain_config(config).get("cost_level", "nominal"))
    config["cost.level"] = level
    priced = RunRecord(config=config, costs={n: r.to_dict() for n, r in reports.items()},
                       meta=stored.meta)
    if args.detail:
        print(cost_section(priced))
        print()
        print(inventory_section(path, level, args.spec))   # the chip the priced step implies
    else:
        from .terminal import run_summary
        print(run_summary(priced, path, f"re-priced at cost level {level}", written=False))
    if args.sensitivity:
        from hwsim.cost.sensitivity import format_tornado
        from .price import sensitivity
        movers, evens = sensitivity(path, args.spec)
        print()
        print(format_tornado(movers, break_evens=evens))
    if projection is not None:
        from .price import project
        proj = project(path, projection["weights"], projection["layers"], level, args.spec)
        print()
        print(f"Projection (analytic, no training): {projection['layers']} layers holding "
              f"{projection['weights']} weights in total, the run's per-layer step")
        print(cost_section(RunRecord(config=config, costs={n: r.to_dict() for n, r in proj.items()})))
    return 0


def _cmd_algorithms(args) -> int:
    from algorithms import registry
    if not getattr(args, "config", None) and not getattr(args, "sets", []):
        # the plain listing names things only: no device is built, so no torch is imported
        print("name         needs (defaults; settings that change it)  device queries per step "
              "per block; what it is [label]")
        for line in registry.describe():
            print(line)
        print("(settings, streamed vectors and the capability of a configured network, "
              "calibration amortised: `forwardlab algorithms --config FILE` or `--set KEY=VALUE`, "
              "which builds its devices; energy and CPU time: `forwardlab run` prints them next "
              "to accuracy)")
        return 0
    from .build import Blueprint, stage, stage_devices
    from .config import ConfigError
    from .data import DataError, load_dataset
    try:
        cfg = resolve_cli_config(getattr(args, "config", None), getattr(args, "sets", []))
        data = load_dataset(cfg.data.dataset, cfg.data.data_dir or None, seed=cfg.run.seed)
        name = cfg.algorithm.name
        bp = Blueprint.of(cfg)
        st = stage(bp, name, data.shape)
        settings, model, devices = st.settings, st.model, stage_devices(bp, st)
    except (ConfigError, DataError) as e:
        return _err(str(e))
    batch = cfg.run.batch_size
    net = (f"{cfg.data.dataset}, {model.describe() if hasattr(model, 'describe') else 'MLP'} "
           f"{list(cfg.model.hidden)}, {cfg.device.preset}, batch {batch}")
    print("name         needs (defaults; settings that change it)  device queries per step per "
          f"block; per step on {net}: settings, streamed vectors (calibration amortised); "
          "what it is [label]")
    print("(settings: the [algorithm.settings] table; the [algorithm] shorthands num_directions, "
          "epsilon, lr, ... set the same fields; energy and CPU time depend on the run: "
          "`forwardlab run` prints them next to accuracy)")
    for line in registry.describe((model, devices, batch)):
        print(line)
    spec = registry.ALGORITHMS[name]
    if not spec.twin and not spec.whole_network:
        c = registry.step_costs(name, settings, model, devices, batch)
        print(f"\nconfigured: {name} needs {spec.capability_for(settings) or 'no capability'}; "
              f"per step on this network {c['settings']:,.1f} settings "
              f"({c['calibration_settings']:,.1f} calibration) and {c['vectors']:,.0f} streamed "
              f"vectors ({c['calibration_vectors']:,.0f} calibration)")
    return 0


def _cmd_warmup(args) -> int:
    from .warmup import warm_kernels
    warm_kernels(announce=True, always=True)
    return 0


def _cmd_presets(args) -> int:
    from hwsim.presets import DEVICE_PRESETS, device_config
    from .config import config_to_mapping, mapping_to_toml, resolve
    if args.name is None:
        for name in DEVICE_PRESETS:
            phys = device_config(name)
            effects = ", ".join(type(e).__name__ for e in phys.effects) or "no effects (ideal)"
            print(f"{name:<22} {effects}")
        return 0
    if args.name not in DEVICE_PRESETS:
        return _err(f"unknown preset {args.name!r}; allowed: {', '.join(DEVICE_PRESETS)}")
    cfg = resolve({"device": {"preset": args.name}})
    print(f"# device preset {args.name}: every value, as config keys under [device]")
    sys.stdout.write(mapping_to_toml({"device": config_to_mapping(cfg)["device"]}))
    return 0


def _cmd_sweep(args) -> int:
    from .config import ConfigError
    from .outputs import OutputError, WriteError
    from .sweep import SweepError, SweepStopped, run_sweep
    if args.out is not None and not args.out.strip():
        return _err("sweep --out ''; allowed: a directory for the sweep's runs and index")
    if args.scheduler is not None and not args.scheduler.strip():
        return _err("sweep --scheduler ''; allowed: the address of a running Dask scheduler, e.g. "
                    "tcp://127.0.0.1:8786 (omit it for local workers)")
    # handlers installed here whatever the driver inherited: a sweep started in the background
    # from a job script has SIGINT ignored, and Ctrl-C must still stop it cleanly
    with _StopFlag() as stop:
        try:
            index = run_sweep(args.path, out=args.out, workers=args.workers,
                              scheduler=args.scheduler,
                              echo=(lambda s: None) if args.quiet else print,
                              stop=lambda: stop.signum)
        except SweepStopped as e:
            print(f"forwardlab: {e}", file=sys.stderr)
            return 128 + e.signum
        except WriteError as e:
            return _err(str(e), 1)
        except (ConfigError, SweepError, OutputError) as e:
            return _err(str(e))
    bad = [r for r in index if r["status"] != "ok"]
    return 1 if bad else 0


def _join_negative_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``--epsilon -inf`` → ``--epsilon=-inf``: argparse reads a value such as ``-inf`` or
    ``-1e-3`` as an option; a number after an option that takes a value is that value."""
    takes_value = {o for a in _all_actions(parser) if a.nargs is None and a.option_strings
                   for o in a.option_strings}
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in takes_value and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            try:
                float(argv[i + 1])
            except ValueError:
                pass
            else:
                out.append(f"{a}={argv[i + 1]}")
                i += 2
                continue
        out.append(a)
        i += 1
    return out


def _all_actions(parser: argparse.ArgumentParser):
    for a in parser._actions:
        yield a
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                yield from _all_actions(sub)


def _subparser(parser: argparse.ArgumentParser, path: list[str]) -> argparse.ArgumentParser:
    for name in path:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or name not in sub.choices:
            break
        parser = sub.choices[name]
    return parser


def _cmd_reproduce(args) -> int:
    from .reproduce import REPRODUCTIONS, list_lines
    from .reproduce.run import reproduce
    if args.list:
        print("\n".join(list_lines()))
        return 0
    if not args.name:
        return _err(f"reproduce needs NAME or --list; allowed: {', '.join(REPRODUCTIONS)}")
    import torch
    torch.set_num_threads(1)
    try:
        reproduce(args.name, quick=args.quick, seeds=args.seeds, out=args.out,
                  data_dir=args.data_dir, overwrite=args.overwrite, workers=args.workers,
                  resume=args.resume)
    except ValueError as exc:      # DataError included: one line, nothing half-written is kept
        return _err(str(exc))
    return 0


def main(argv: list[str] | None = None) -> int:
    return _main(list(sys.argv[1:]) if argv is None else list(argv))


def _main(argv: list[str]) -> int:
    parser = _parser()
    argv = _join_negative_values(list(argv), parser)
    args, extra = parser.parse_known_args(argv)
    if extra:
        path = [x for x in (getattr(args, "command", None), getattr(args, "config_command", None)) if x]
        sub = _subparser(parser, path)
        options = sorted({o for a in sub._actions for o in a.option_strings if o.startswith("--")})
        return _err(f"unrecognized argument(s) {' '.join(extra)} for forwardlab "
                    f"{' '.join(path) or ''}".rstrip() + f"; allowed: {', '.join(options)}")
    if args.command is None:
        parser.print_help()
        return 2
    return {"run": _cmd_run, "config": _cmd_config, "report": _cmd_report,
            "presets": _cmd_presets, "sweep": _cmd_sweep, "price": _cmd_price,
            "algorithms": _cmd_algorithms, "warmup": _cmd_warmup,
            "reproduce": _cmd_reproduce}[args.command](args)


if __name__ == "__main__":   # pragma: no cover
    raise SystemExit(main())
