"""``forwardlab`` command line.

    forwardlab run [--device mzi|crossbar] [--preset NAME] [--algorithm mfdd|mf-ad|bp]
                   [--dataset digits|fashion-mnist|mnist] [--data-dir DIR] [--epochs N]
                   [--directions P] [--epsilon E] [--seed S] [--config FILE.toml] [--out PATH]
    forwardlab report RESULTS.h5

User errors (bad names or values, missing or corrupt data, unknown config keys) print one
line and exit with status 2, leaving no results file. A diverged run exits with status 1 and
a results file that records the failure.
"""
from __future__ import annotations

import argparse
import sys

from .config import ConfigError, RunConfig, load_config

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # one line, exit 2
        print(f"forwardlab: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="forwardlab", description="Forward-only training on simulated photonic and "
                                                "analog hardware.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="train one model and write a results file")
    r.add_argument("--config", help="TOML file with RunConfig keys (options below override it)")
    r.add_argument("--device", help="mzi or crossbar (default mzi)")
    r.add_argument("--preset", help="device preset, e.g. mzi-default, mzi-ideal, crossbar-default")
    r.add_argument("--algorithm", help="mfdd, mf-ad or bp (default mfdd)")
    r.add_argument("--dataset", help="digits, fashion-mnist or mnist (default digits)")
    r.add_argument("--data-dir", dest="data_dir", help="directory with the IDX files")
    r.add_argument("--epochs", type=int)
    r.add_argument("--directions", dest="num_directions", type=int,
                   help="directions P per device-knob estimate")
    r.add_argument("--epsilon", type=float, help="perturbation size, in units of the knob range")
    r.add_argument("--seed", type=int)
    r.add_argument("--out", help="results file (default results/run.h5)")
    r.add_argument("--no-references", dest="references", action="store_const", const=False,
                   help="skip the MF-AD and BP references on the ideal twin")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    rep = sub.add_parser("report", help="print the tables of a results file")
    rep.add_argument("path")
    return p


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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    from .data import DataError
    if args.command == "report":
        from .report import accuracy_table, cost_section
        from .results import read_results
        try:
            rec = read_results(args.path)
        except (OSError, KeyError) as e:
            print(f"forwardlab: error: cannot read results file {args.path!r}: {e}", file=sys.stderr)
            return 2
        print(accuracy_table(rec))
        print()
        print(cost_section(rec))
        return 0
    overrides = {k: v for k, v in vars(args).items()
                 if k not in ("command", "config", "quiet") and v is not None}
    try:
        base = load_config(args.config) if args.config else RunConfig()
        cfg = RunConfig.from_mapping(overrides, base)
    except ConfigError as e:
        print(f"forwardlab: error: {e}", file=sys.stderr)
        return 2
    from algorithms.loop import Divergence
    from .report import accuracy_table, cost_section
    from .runner import run
    try:
        rec = run(cfg, progress=_progress(not args.quiet and sys.stderr.isatty()))
    except (ConfigError, DataError) as e:
        print(f"forwardlab: error: {e}", file=sys.stderr)
        return 2
    except Divergence as e:
        print(f"forwardlab: {e}; results with status 'diverged' written to {cfg.out}", file=sys.stderr)
        return 1
    print()
    print(accuracy_table(rec))
    print()
    print(cost_section(rec))
    print(f"\nresults written to {cfg.out}")
    return 0


if __name__ == "__main__":   # pragma: no cover
    raise SystemExit(main())
