"""Mutations for the laws pinned in the physics audit (fabrication keying, 1/f and drift time
origins, IR drop validity and the exact column solve, detection from the full optical power, the
voltage DAC, thermal crosstalk of δ/Σ heaters, stuck/worn pinning, the endurance boundary, pulse
clamping) and for bit slicing, correlated variation, circuit ADCs and measured-device tables.

Each tuple: (path, old text, new text, description, tests). Every mutation is a plausible physics
bug; its tests are the files that pin the law (a narrower set than the whole suite, so a kill
here is a kill there too). Run: ``python bench/mutations.py --only laws``.
"""

FAB = "hwsim/effects/fabrication.py"
DRIFT = "hwsim/effects/drift.py"
IR = "hwsim/effects/ir_drop.py"
DET = "hwsim/effects/detection.py"
PS = "hwsim/effects/phase_shifter.py"
XT = "hwsim/effects/crosstalk.py"
LAY = "hwsim/photonic/layout.py"
STUCK = "hwsim/effects/stuck.py"
PULSE = "hwsim/effects/pulsed.py"
XDEV = "hwsim/crossbar/device.py"
PDEV = "hwsim/photonic/device.py"
PKERN = "hwsim/photonic/kernels.py"
XPRE = "hwsim/crossbar/presets.py"
PPRE = "hwsim/photonic/presets.py"
BS = "hwsim/effects/bit_slicing.py"
SL = "hwsim/crossbar/slicing.py"
COR = "hwsim/effects/correlated.py"
ADC = "hwsim/effects/adc.py"
MEAS = "hwsim/effects/measured.py"

T_FAB = ["tests/hwsim/test_fabrication_keys.py"]
T_TIME = ["tests/hwsim/test_crossbar_time.py", "tests/hwsim/test_crossbar_presets.py"]
T_IR = ["tests/hwsim/test_crossbar_laws.py", "tests/hwsim/test_crossbar_ir_drop.py", "tests/hwsim/test_crossbar_presets.py"]
T_DET = ["tests/photonic/test_photonic_laws.py"]
T_XLAW = ["tests/hwsim/test_crossbar_laws.py"]
T_BS = ["tests/hwsim/test_bit_slicing.py"]
T_COR = ["tests/hwsim/test_correlated_variation.py"]
T_ADC = ["tests/hwsim/test_adc_nonideality.py"]
T_MEAS = ["tests/hwsim/test_measured_devices.py"]

MUTATIONS = [
    # fabrication draws keyed per effect type
    (FAB, "zlib.crc32(type(effect).__name__.encode())", "0",
     "fabrication: every effect on one shared stream", T_FAB),
    (FAB, "e.fabricate(*args, fabrication_generator(seed, e))", "e.fabricate(*args, fabrication_generator(seed, effects[0]))",
     "fabrication: all effects keyed by the first effect's type", T_FAB),
    (FAB, "(int(seed) * 1_000_003 + zlib", "(int(seed) * 0 + zlib", "fabrication: stream ignores the device seed", T_FAB),
    # 1/f noise and drift time origins
    (DRIFT, "arg = (t_s + self.t0_s + self.t_read_s)", "arg = (t_s + self.t_read_s)",
     "OneOverFNoise: clock starts at programming (no t0)", T_TIME),
    (DRIFT, "root = math.sqrt(math.log(arg)) if arg > 1.0 else 0.0", "root = math.sqrt(abs(math.log(arg)))",
     "OneOverFNoise: no clamp at small times", T_TIME),
    (DRIFT, "return t_s + self.t0_s > self.t_read_s", "return t_s > 0", "OneOverFNoise: inactive at t = 0", T_TIME),
    (XDEV, "if (self._drift is not None and t > 0) or one_f:", "if self._time_dependent() and t > 0:",
     "crossbar: time effects skipped at t = 0 (old gate)", T_TIME),
    (XPRE, "read_time_s=0.0,", "read_time_s=1.0,", "crossbar-pcm: default read time changed", T_TIME),
    # IR drop
    (IR, "diag[..., 0] -= 1.0 if R > 1 else 0.0", "diag[..., 0] -= 0.0", "IR ladder: open end grounded", T_IR),
    (IR, "u[..., i] = -cp[..., i] * u[..., i + 1]", "u[..., i] = u[..., i + 1]", "IR ladder: back substitution wrong", T_IR),
    (IR, 'if self.level != "first_order" or rgn2 <= FIRST_ORDER_LIMIT:', "if True:",
     "IR: first order kept beyond its validity (no warning, no nodal)", T_IR),
    (IR, "return max(self.r_col_ohm * rows ** 2, self.r_row_ohm * cols ** 2)",
     "return max(self.r_col_ohm * rows, self.r_row_ohm * cols)", "IR: validity r·g·N instead of r·g·N²", T_IR),
    (XPRE, "r_col_ohm=0.35 * 5.0 / 25.0", "r_col_ohm=0.35", "crossbar-pcm: 0.35 Ω with 25 µS (10× AIHWKIT's r·g)", T_IR),
    (IR, "a = g.double() * (r_col_ohm * _US)", "a = g.double() * (2 * r_col_ohm * _US)", "IR ladder: wire resistance doubled", T_IR),
    # detection from the full optical power
    (DET, "power = field.abs() ** 2 if field.is_complex() else y * y", "power = y * y",
     "homodyne (torch): shot noise from (Re ŷ)² only", T_DET),
    (PKERN, "v = v + math.sqrt(c0 + c1 * (v * v + u * u)) * zbi[b]", "v = v + math.sqrt(c0 + c1 * (v * v)) * zbi[b]",
     "homodyne (fused, ADC path): shot noise from (Re ŷ)² only", ["tests/photonic/test_photonic_laws.py", "tests/photonic/test_fused.py"]),
    (PKERN, "sv = v * v + np.float64(yii[b]) * np.float64(yii[b]) if mode == 1 else v", "sv = v * v if mode == 1 else v",
     "homodyne (fused, general path): shot noise from (Re ŷ)² only", T_DET),
    (PDEV, "return self._detection is not None\n", "return self.intensity\n",
     "homodyne: block field's imaginary part dropped before detection", T_DET),
    (DET, "return (2 * Q_E * b * self.dark_current_a + thermal) / scale ** 2, 2 * Q_E * b / scale",
     "return (2 * Q_E * b * self.dark_current_a + thermal) / scale ** 2, Q_E * b / scale",
     "intensity noise law: shot term halved", T_DET),
    # voltage DAC
    (PS, "return self.v_max_v / (2 ** self.bits - 1)", "return self.v_max_v / 2 ** self.bits",
     "ThermoOpticDAC: step V_max/2^b", T_DET),
    (PPRE, "ThermoOpticDAC(bits=8, v_pi_v=4.36, v_max_v=V_2PI)", "ThermoOpticDAC(bits=8, v_pi_v=4.36, v_max_v=10.8)",
     "mzi-default: DAC range back to 10.8 V (146 codes)", T_DET),
    # thermal crosstalk of the δ and Σ heaters
    (XT, "sigma + self.coupling * sigma @ a_sig.T)", "sigma)", "crosstalk: Σ heaters excluded", T_DET),
    (LAY, "a[2 * m:, 2 * m:] = self.sigma_adjacency", "a[2 * m:, 2 * m:] = 0 * self.sigma_adjacency",
     "crosstalk: output-screen δ heaters excluded", T_DET),
    # stuck / worn pinning, endurance boundary, pulses
    (XDEV, "            for e in self._program_stage:\n                e.program_(g, c.g_min_us, c.g_max_us, generator)\n            self._constrain_(g, written=True)",
     "            self._constrain_(g, written=True)\n            for e in self._program_stage:\n                e.program_(g, c.g_min_us, c.g_max_us, generator)",
     "stuck/worn cells pinned before programming noise and levels", T_XLAW),
    (STUCK, "return writes.double() > budget", "return writes.double() >= budget",
     "Endurance: fails at its budget, not after it", T_XLAW),
    (PULSE, "g.add_(step * active).clamp_(g_min, g_max)", "g.add_(step * active)", "PulsedUpdate: no clamp", T_XLAW),
    (PULSE, "g.add_(step * active).clamp_(g_min, g_max)", "g.add_(step * active).clamp_(min=g_min)",
     "PulsedUpdate: no upper clamp", T_XLAW),
    (XPRE, "Endurance(cycles_median=1e6, cycles_log_std=1.0)", "Endurance(cycles_median=1e6, cycles_log_std=0.0)",
     "crossbar-rram: endurance without spread", ["tests/hwsim/test_crossbar_presets.py"]),
    # bit slicing
    (BS, "return [2 ** (k * i) * (2 ** k - 1) / self.full_code", "return [2 ** i * (2 ** k - 1) / self.full_code",
     "bit slicing: significance 2^i instead of 2^(k·i)", T_BS),
    (SL, "digit = ((m >> shift) & (2 ** k - 1))", "digit = ((m >> shift) & (2 ** k))", "bit slicing: digit mask wrong", T_BS),
    (SL, "return (y.double() @ self._c.to(y.device)).to(y.dtype)", "return y.double().mean(-1).to(y.dtype)",
     "bit slicing: slices averaged, not weighted", T_BS),
    (SL, "extra = e.vectors * self.n_out * (self.slicing.slices - 1)", "extra = 0",
     "bit slicing: recombination adds not priced", T_BS),
    (SL, "self.inner = CrossbarLayer(n_in, n_out * s.slices, inner, seed=seed, name=name)",
     "self.inner = CrossbarLayer(n_in, n_out * s.slices, dataclasses.replace(inner, effects=()), seed=seed, name=name)",
     "bit slicing: slices without their own noise/levels/ADC", T_BS),
    # correlated variation
    (COR, "return h / h.pow(2).sum().sqrt()", "return h / h.sum()", "correlated field: kernel not unit-variance", T_COR),
    (COR, "h = torch.exp(-(x / length_cells) ** 2)", "h = torch.exp(-(x / length_cells) ** 2 / 2)",
     "correlated field: correlation length √2 too long", T_COR),
    (COR, "return sigma_die * die + sigma_within", "return 0 * die + sigma_within", "correlated: die-to-die offset off", T_COR),
    (COR, "return self.field(tuple(shape[1:]), generator, batch=shape[0]).float()",
     "return self.field(tuple(shape[1:]), generator, batch=1).float().expand(shape[0], -1, -1)",
     "correlated: G⁺ and G⁻ arrays share one within-die field", T_COR),
    (XDEV, 'if not written and getattr(type(e), "pin_rank", 1) == 0:', "if False:",
     "correlated conductance re-applied at every pulse/read", T_COR),
    (XDEV, 'key=lambda e: getattr(type(e), "pin_rank", 1)))', 'key=lambda e: -getattr(type(e), "pin_rank", 1)))',
     "correlated conductance applied after stuck cells are pinned", T_COR),
    (COR, "return {k: 1.0 + v for k, v in _layout_field(self, layout, generator).items()}",
     "return {k: v for k, v in _layout_field(self, layout, generator).items()}", "CorrelatedGamma: ratio without the 1", T_COR),
    (LAY, "x = torch.cat([2 * t.column + 1, 2 * t.column, torch.full((k,), 2 * depth)])",
     "x = torch.cat([2 * t.column + 3, 2 * t.column, torch.full((k,), 2 * depth)])",
     "correlated: θ heater placed off its MZI", T_COR),
    # circuit ADCs
    (ADC, "codes = torch.round(y * (1.0 + g) / delta + o)", "codes = torch.round(y * (1.0 + g) / delta - o)",
     "ADC: offset sign", T_ADC),
    (ADC, "return self.inl_bow_lsb * (1.0 - (codes / max_code) ** 2)", "return self.inl_bow_lsb * (codes / max_code) ** 2",
     "ADC: bow zero at mid-scale instead of the ends", T_ADC),
    (ADC, '"gain": self.gain_error + self.gain_sigma * z[1]}', '"gain": self.gain_error + self.gain_sigma * z[0]}',
     "ADC: offset and gain draws share one normal", T_ADC),
    (ADC, "codes = torch.round(y * (1.0 + g) / delta + o)", "codes = torch.round(y / delta + o)", "ADC: gain error ignored", T_ADC),
    # measured tables
    (MEAS, "ps = _interp(gd, c, p)", "ps = _interp(gd, c, p).floor()", "measured pulses: p* rounded down", T_MEAS),
    (MEAS, "                step = step * f\n", "                pass\n", "measured pulses: per-device spread ignored", T_MEAS),
    (MEAS, "return torch.round(vs / self.step_v)", "return torch.floor(vs / self.step_v)", "measured phase DAC: truncates", T_MEAS),
    (MEAS, "ps = _interp(gd, c.flip(0), p.flip(0))", "ps = _interp(gd, c, p)", "measured pulses: down curve read increasing", T_MEAS),
]
