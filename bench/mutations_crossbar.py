"""One-line mutations of the crossbar device code (effect off, doubled, other law).

``MUTATIONS``: (path relative to the repository root, old text, new text, description). The
runner (bench/mutations.py) applies one at a time, runs the physics tests, restores the file and
counts the mutations the tests kill. Every old text occurs exactly once in its file.
"""

NOISE = "hwsim/effects/noise.py"
QUANT = "hwsim/effects/quantize.py"
OUTN = "hwsim/effects/output_noise.py"
DRIFT = "hwsim/effects/drift.py"
IR = "hwsim/effects/ir_drop.py"
STUCK = "hwsim/effects/stuck.py"
PULSE = "hwsim/effects/pulsed.py"
DEV = "hwsim/crossbar/device.py"
KERN = "hwsim/crossbar/kernels.py"
MAP = "hwsim/crossbar/mapping.py"

MUTATIONS = [
    # read noise
    (NOISE, 'if self.model == "pcm_read":', 'if self.model == "additive_constant":',
     "ReadNoise: PCM_READ replaced by the additive-constant law"),
    (NOISE, "return torch.bmm(x2.expand(w.shape[0], -1, -1), w).to(x.dtype).mul_(self.sigma ** 2)",
     "return torch.bmm(x2.expand(w.shape[0], -1, -1), w).to(x.dtype).mul_(4 * self.sigma ** 2)",
     "ReadNoise: PCM_READ σ doubled"),
    (NOISE, "return (x * x).sum(dim=-1, keepdim=True).mul_(self.sigma ** 2)",
     "return (x * x).sum(dim=-1, keepdim=True).mul_(0.0)", "ReadNoise: additive-constant law off"),
    (NOISE, "x2 = (x * x).to(dt)", "x2 = x.abs().to(dt)", "ReadNoise: |x| in place of x²"),
    (NOISE, "w = w_abs_t.to(dt)", "w = w_abs_t.to(torch.float8_e4m3fn).to(dt)",
     "ReadNoise: |w| of the variance product rounded to 3 mantissa bits"),
    # programming noise
    (NOISE, "k = g_max / self.g_ref_us", "k = 2 * g_max / self.g_ref_us", "ProgrammingNoise: σ doubled"),
    (NOISE, "s = g.mul(self.c2_us * k / (g_max * g_max)).add_(self.c1_us * k / g_max).mul_(g)",
     "s = g.mul(0.0).add_((self.c1_us * 0.5 + self.c2_us * 0.25) * k)",
     "ProgrammingNoise: polynomial taken at ĝ = 0.5 for every cell (the old law)"),
    (NOISE, "return g.addcmul_(xi, self.sigma_us(g, g_max)).clamp_(min=0.0)",
     "return g.addcmul_(xi, self.sigma_us(g, g_max))", "ProgrammingNoise: no clamp at 0"),
    (NOISE, "return self.apply_(g, g_max, generator)\n\n\nREAD_NOISE_MODELS",
     "return g\n\n\nREAD_NOISE_MODELS", "ProgrammingNoise: program stage hook off"),
    # output noise
    (OUTN, "return torch.full((1, 1, 1), self.sigma ** 2, dtype=x.dtype)",
     "return torch.full((1, 1, 1), 4 * self.sigma ** 2, dtype=x.dtype)", "OutputNoise: σ doubled"),
    (OUTN, "return torch.full((1, 1, 1), self.sigma ** 2, dtype=x.dtype)",
     "return torch.zeros((1, 1, 1), dtype=x.dtype)", "OutputNoise: off"),
    # input DAC, per-tile scaling, constant range
    (DEV, "a = xb.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)",
     "a = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)", "InputDAC: one global α instead of per tile"),
    (DEV, "parts.append(dac(xn) if dac is not None else xn)", "parts.append(xn)", "InputDAC: quantisation off"),
    (DEV, "a = torch.full((*xb.shape[:-1], 1), dac.full_scale, dtype=x.dtype)",
     "a = xb.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)", "InputDAC: constant range ignored (abs-max)"),
    # output ADC
    (DEV, "delta, n_codes = (self._adc.step, self._adc.max_code) if self._adc else (0.0, 0)",
     "delta, n_codes = (0.0, 0)", "OutputADC: off in the fused path"),
    (KERN, "v = delta * min(max(np.rint(v / delta), -n_codes), n_codes)",
     "v = delta * np.rint(v / delta)", "OutputADC: no clipping in the fused path"),
    # conductance levels
    (QUANT, "        return self.apply_(g, g_min, g_max)\n\n\ndef encode_inputs",
     "        return g\n\n\ndef encode_inputs", "ConductanceLevels: off"),
    # per-column scales and the mapping
    (MAP, "return o if self.per_column else o // self.cols", "return o // self.cols",
     "per-column scales ignored (one scale per tile)"),
    # drift and compensation
    (DRIFT, "return torch.pow(torch.full_like(nu, base), -nu)", "return torch.pow(torch.full_like(nu, base), -2 * nu)",
     "Drift: exponent doubled"),
    (DRIFT, "return (self.nu_mean + self.nu_std * xi).abs()", "return (self.nu_mean + 0 * self.nu_std * xi).abs()",
     "Drift: per-cell ν spread off"),
    (DRIFT, "mu = (-0.0155 * lg + 0.0244).clamp_(0.049, 0.1)", "mu = (-0.0155 * lg + 0.0244).clamp_(0.0, 0.1)",
     "Drift: PCM law without its lower clip"),
    (DEV, 'if self._drift is not None and self._drift.compensation == "global":',
     "if False:", "Drift: global compensation off"),
    # 1/f noise
    (DRIFT, "root = math.sqrt(math.log(arg)) if arg > 1.0 else 0.0", "root = math.log(arg) if arg > 1.0 else 0.0",
     "OneOverFNoise: ln in place of sqrt(ln)"),
    (DRIFT, "return g.addcmul_(g.abs() * self.relative_sigma(g_target, g_max, t_s), z)",
     "return g.addcmul_(g.abs() * self.relative_sigma(g_target, g_max, t_s), z, value=2.0)",
     "OneOverFNoise: doubled"),
    (DEV, "self._one_over_f.add_(g, st[\"target\"], c.g_max_us, t_s, z_cells.reshape(g.shape))",
     "pass", "OneOverFNoise: off"),
    # stuck cells and endurance
    (STUCK, "g.masked_fill_(state > 0, g_max)", "g.masked_fill_(state > 0, g_min)", "StuckCells: SET cells stuck at g_min"),
    (STUCK, "state[u < self.p_reset] = -1", "state[u < 2 * self.p_reset] = -1", "StuckCells: RESET fraction doubled"),
    (STUCK, "return writes.double() > budget", "return writes.double() > 2 * budget", "Endurance: budget doubled"),
    (DEV, "self._writes += per_cell", "self._writes += 2 * per_cell", "write counter doubled"),
    # IR drop
    (IR, "loss = col.mul_(r_col_ohm * _US)", "loss = col.mul_(2 * r_col_ohm * _US)",
     "IRDrop first order: column drop doubled"),
    (IR, "col = _suffix_cumsum(g.cumsum(dim=-1), dim=-1)", "col = g.sum(dim=-1, keepdim=True) * g.shape[-1]",
     "IRDrop first order: every cell sees the whole column (other law)"),
    (IR, "col = _suffix_cumsum(g.cumsum(dim=-1), dim=-1)", "col = _suffix_cumsum(g, dim=-1).cumsum(dim=-1)",
     "IRDrop first order: column output at the other end"),
    (IR, "loss.add_(row, alpha=r_row_ohm * _US)", "pass", "IRDrop first order: row drop off"),
    (IR, "K[cidx[R - 1, :], cidx[R - 1, :]] += gc", "K[cidx[R - 1, :], cidx[R - 1, :]] += 2 * gc",
     "IRDrop nodal: output segment halved"),
    (IR, "return g * (1.0 - loss).clamp_(min=0.0)", "return g * (1.0 - 0.5 * loss).clamp_(min=0.0)",
     "IRDrop first order: halved"),
    # pulsed updates
    (PULSE, "step = step * torch.where(sign > 0, (g_max - g) / span, (g - g_min) / span)",
     "step = step * torch.where(sign > 0, (g - g_min) / span, (g_max - g) / span)",
     "PulsedUpdate: soft bounds reversed"),
    (PULSE, "up, down = self.dg_min_us * (1 + self.up_down), self.dg_min_us * (1 - self.up_down)",
     "up, down = self.dg_min_us * (1 - self.up_down), self.dg_min_us * (1 + self.up_down)",
     "PulsedUpdate: asymmetry sign flipped"),
    (PULSE, "step = step * (1 + self.c2c_rel * rng.normal(tuple(g.shape), generator, dtype=g.dtype))",
     "step = step * (1 + 2 * self.c2c_rel * rng.normal(tuple(g.shape), generator, dtype=g.dtype))",
     "PulsedUpdate: cycle-to-cycle noise doubled"),
    # the fused kernel
    (KERN, "v = y[t, p, b, o] + sd * z[o]", "v = y[t, p, b, o] + 2 * sd * z[o]", "fused readout: noise doubled"),
    (KERN, "v *= factor[t, p, o] * a", "v *= factor[t, p, o]", "fused readout: per-tile α dropped"),
    (KERN, "v = y[p, b, o] + sd[o] * z[o]", "v = y[p, b, o] + 2 * sd[o] * z[o]",
     "tile readout: noise doubled"),
    (KERN, "v *= factor[p, o] * a", "v *= factor[p, o]", "tile readout: per-tile α dropped"),
    (KERN, "v = min(max(np.rint(v / delta), -n_codes), n_codes) * delta", "v = np.rint(v / delta) * delta",
     "tile readout: ADC without clipping"),
    (KERN, "s = np.float32(np.sqrt(var[qv, bv, 0]))", "s = np.float32(var[qv, bv, 0])",
     "tile readout: variance taken as the std (flat)"),
    (KERN, "sd[o] = np.float32(np.sqrt(var[qv, bv, o]))", "sd[o] = np.float32(var[qv, bv, o])",
     "tile readout: variance taken as the std (per output)"),
]
