"""Published-behaviour figures of the photonic model, printed as tables (< 1 min on one core).

* mesh fidelity F = |Tr(U†U′)|²/(N Tr(U′†U′)) against coupler error σ_BS (Fang et al., Opt.
  Express 27, 14009 (2019) trend) for Clements and Reck, beside the closed form 1 − 2(N−1)σ²;
* uniform insertion loss: Clements keeps U′ a scaled unitary, Reck does not (Clements 2016);
* homodyne shot-noise SNR 2RP/(qB) at 1 µW, 20 GHz, R = 1 A/W;
* RMS phase error of the voltage DAC over that of a uniform phase grid (√2 expected).

    python bench/photonic_fidelity.py [--modes 8] [--unitaries 20]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from hwsim.effects.detection import Detection  # noqa: E402
from hwsim.effects.phase_shifter import ThermoOpticDAC  # noqa: E402
from hwsim.photonic.decompose import decompose, haar_unitary  # noqa: E402
from hwsim.photonic.mesh import mesh_unitary  # noqa: E402
from hwsim.photonic.topology import build_topology  # noqa: E402


def fidelity(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    n = u.shape[-1]
    tr = torch.einsum("...ij,...ij->...", u.conj(), v)
    return tr.abs() ** 2 / (n * torch.einsum("...ij,...ij->...", v.conj(), v).real)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", type=int, default=8)
    ap.add_argument("--unitaries", type=int, default=20)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    n, count = args.modes, args.unitaries
    us = torch.stack([haar_unitary(n, torch.Generator().manual_seed(s)) for s in range(count)])
    sigmas = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1)
    print(f"fidelity vs coupler error, N = {n}, {count} Haar unitaries")
    print("sigma_bs_rad  " + "  ".join(f"{s:8.3f}" for s in sigmas))
    for name in ("clements", "reck"):
        topo = build_topology(name, n)
        th, ph, de = decompose(us, topo)
        z = torch.randn(count, topo.n_mzis, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        row = [float(fidelity(us, mesh_unitary(th, ph, de, topo, 0.0, s * z)).mean()) for s in sigmas]
        print(f"{name:12s}  " + "  ".join(f"{f:8.5f}" for f in row))
    print("closed form   " + "  ".join(f"{1 - 2 * (n - 1) * s * s:8.5f}" for s in sigmas))
    print("\nuniform loss 0.5 dB/MZI: fidelity, sigma_max/sigma_min of U'")
    for name in ("clements", "reck"):
        topo = build_topology(name, n)
        th, ph, de = decompose(us, topo)
        v = mesh_unitary(th, ph, de, topo, 0.5)
        sv = torch.linalg.svdvals(v)
        print(f"{name:12s}  F = {float(fidelity(us, v).mean()):.4f}   spread = {float((sv[..., 0] / sv[..., -1]).mean()):.3f}")
    snr = Detection().full_scale_snr(1e-6)
    print(f"\nhomodyne shot-noise SNR at 1 uW, 20 GHz, R = 1 A/W: {10 * math.log10(snr):.3f} dB")
    phi = torch.rand(400_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 * math.pi
    dac = ThermoOpticDAC(bits=8, v_pi_v=4.36, v_max_v=math.sqrt(2) * 4.36)
    step = 2 * math.pi / 255
    ratio = float((dac.phase(dac.voltage(phi)) - phi).pow(2).mean().sqrt()
                  / (torch.round(phi / step) * step - phi).pow(2).mean().sqrt())
    print(f"voltage-DAC / phase-grid RMS phase error (8 bit, grid spanning V_2pi): {ratio:.4f} (sqrt 2 = 1.4142)")


if __name__ == "__main__":
    main()
