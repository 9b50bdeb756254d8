"""One-line mutations of the photonic device code for bench/mutations.py: each switches an effect
off, doubles it, or changes its law. Format: (path, old_text, new_text, description)."""

TESTS = ["tests/photonic", "tests/hwsim/test_effects.py", "tests/hwsim/test_presets.py"]

PS = "hwsim/effects/phase_shifter.py"
NOISE = "hwsim/effects/noise.py"
DEV = "hwsim/photonic/device.py"
DET = "hwsim/effects/detection.py"
KERN = "hwsim/photonic/kernels.py"

MUTATIONS = [
    # phase shifter φ = γV² and its voltage DAC
    (PS, "return self.phase(self.voltage(mesh)), self.phase(sig_v)", "return mesh, sigma",
     "ThermoOpticDAC off"),
    (PS, "return torch.mul(v, self.gamma_rad_per_v2).mul_(v)", "return math.pi * v / self.v_pi_v",
     "ThermoOpticDAC law: phase linear in voltage"),
    (PS, ".clamp_(0, 2 ** self.bits - 1).mul_(self.step_v)", ".clamp_(0, 2 ** self.bits - 2).mul_(self.step_v)",
     "ThermoOpticDAC drops its top code"),
    ("hwsim/effects/quantize.py", "step = TWO_PI / 2 ** self.bits", "step = TWO_PI / (2 ** self.bits - 1)",
     "PhaseDAC uses 255 of 256 codes (old law)"),
    (PS, "return 1.0 + self.relative_sigma * rng", "return 1.0 + 2 * self.relative_sigma * rng",
     "GammaSpread doubled"),
    (PS, 'return mesh * fab["mesh"], sigma * fab["sigma"]', "return mesh, sigma", "GammaSpread off"),
    # thermal crosstalk
    ("hwsim/effects/crosstalk.py", "return (mesh + self.coupling * mesh", "return (mesh + 2 * self.coupling * mesh",
     "ThermalCrosstalk doubled"),
    ("hwsim/photonic/layout.py", "((dc == 1) & (dm == 1))", "((dc == 1) & (dm == 3))",
     "ThermalCrosstalk law: wrong neighbours"),
    ("hwsim/effects/crosstalk.py", "chain_rank: ClassVar[int] = 2", "chain_rank: ClassVar[int] = 4",
     "ThermalCrosstalk also heats the static bias (after it in the chain)"),
    # static bias
    (NOISE, 'return mesh + fab["mesh"], sigma + fab["sigma"]', "return mesh, sigma", "PhaseBias off"),
    # beamsplitter imbalance
    ("hwsim/photonic/mesh.py", "a1, a2 = math.pi / 4 + eps1, math.pi / 4 + eps2",
     "a1, a2 = math.pi / 4 + eps1, math.pi / 4 - eps2", "Coupler law: bar/cross leakage swapped"),
    ("hwsim/effects/beamsplitter.py", 'return {"mesh": self.sigma_rad * mesh',
     'return {"mesh": 2 * self.sigma_rad * mesh', "BeamsplitterImbalance doubled"),
    ("hwsim/effects/beamsplitter.py", 'return {"coupler_eps": fab["mesh"], "sigma_eps": fab["sigma"]}',
     "return {}", "BeamsplitterImbalance off at the layer"),
    ("hwsim/photonic/mesh.py", "return torch.complex(torch.cos(e[..., 0] + e[..., 1]) * torch.cos(phi),",
     "return torch.complex(torch.cos(phi),", "Sigma MZI ignores its coupler errors"),
    # insertion loss
    (DEV, "amp = 10.0 ** (-loss_db / 20.0)                           # Σ attenuator",
     "amp = 1.0                           # Σ attenuator", "InsertionLoss off on the Sigma MZIs"),
    ("hwsim/photonic/mzi.py", "return 10.0 ** (-v / 20.0)", "return 10.0 ** (-v / 10.0)",
     "InsertionLoss law: power factor applied to fields"),
    # phase noise and drift
    (NOISE, "return self.sigma_rad * t", "return 2 * self.sigma_rad * t", "PhaseNoise doubled"),
    (DEV, "mesh, sig = self._phase_noise.query_phases(mesh, sig, z[:, :n_phase])", "pass",
     "PhaseNoise off at the layer"),
    ("hwsim/effects/phase_drift.py", "d = xi * (self.sigma_rad_per_sqrt_s * math.sqrt(time_s))",
     "d = xi * (self.sigma_rad_per_sqrt_s * time_s)", "PhaseDrift law: linear in t instead of sqrt(t)"),
    (DEV, "mesh, sig = self._drift.query_phases(mesh, sig, self.drift_normals(programmed), t)", "pass", "PhaseDrift off"),
    # detection
    (DET, "shot = 2 * Q_E * b * (r * (p_lo + p_m * power)", "shot = 4 * Q_E * b * (r * (p_lo + p_m * power)",
     "Homodyne shot noise doubled"),
    (DET, "shot = 2 * Q_E * b * (r * (p_lo + p_m * power)", "shot = 2 * Q_E * b * (r * (p_m * power)",
     "Homodyne law: LO shot noise left out"),
    (DET, "return 4.0 * K_B * self.temperature_k", "return 2.0 * K_B * self.temperature_k",
     "Thermal noise halved"),
    (DET, "power = field.abs() ** 2 if field.is_complex() else field * field", "power = field.abs() if field.is_complex() else field * field",
     "Intensity law: |y| instead of |y|^2"),
    (DET, "return 2.0 * r * p_signal_w / (Q_E * b)", "return r * p_signal_w / (Q_E * b)",
     "Homodyne SNR law: 2RP/(qB) halved"),
    (NOISE, "return y.add_(z, alpha=self.sigma_norm)", "return y.add_(z, alpha=2 * self.sigma_norm)",
     "DetectorNoise doubled"),
    # the fused readout's homodyne fast path
    (KERN, "v = v + math.sqrt(c0 + c1 * (v * v + u * u)) * zbi[b]", "v = v + 2 * math.sqrt(c0 + c1 * (v * v + u * u)) * zbi[b]",
     "fused homodyne readout: detection noise doubled"),
    (KERN, "v = delta * min(max(np.rint(v / delta), -n_codes), n_codes)\n                            ar[b] += g * v",
     "v = delta * np.rint(v / delta)\n                            ar[b] += g * v",
     "fused homodyne readout: ADC without clipping"),
    # per-block gain, ADC range, Reck
    (DEV, "top = s.max(axis=-1)", "top = np.full(s.shape[:-1], s.max())",
     "Per-block gain off (one global gain)"),
    (DEV, "y = y * gain ** 2", "y = y * gain", "Intensity mode: gain applied to intensity, not field"),
    ("hwsim/photonic/presets.py", "return math.sqrt(k)", "return 2.0", "ADC full scale 2.0 (clips)"),
    ("hwsim/photonic/decompose.py",
     "phi = float(np.angle(-x * np.conj(y)))\n            _apply_right_inverse(w, m, theta, phi)\n            sequence",
     "phi = float(np.angle(x * np.conj(y)))\n            _apply_right_inverse(w, m, theta, phi)\n            sequence",
     "Reck nulling phase sign"),
]
