"""Cost model: price a step's trace summary (energy in J, latency in s) on photonic meshes,
crossbars and GPU baselines. See ``shared/reference/cost.md`` for every number's source."""
from .analytic import (ENERGY_COMPONENTS, LATENCY_COMPONENTS, WEIGHT_MODES, CostReport,
                       held_weight_pj_per_mac, laser_power_w, layer_stage_times,
                       pipeline_makespan, price, price_layers)
from .des import des_price, simulate_latency, simulate_layers
from .gpu import (bp_step_work, gpu_band, gpu_step_cost, measure_torch_step, mlp_bytes,
                  mlp_forward_flops, step_flop_multiplier, summary_step_work)
from .report import format_cost_table, steps_to_target, with_headline
from .spec import (GPU_PRESETS, HIGHER_IS_CHEAPER, LEVELS, CrossbarCostSpec, GpuSpec,
                   PhotonicCostSpec, crossbar_spec, gpu_preset, photonic_spec)

__all__ = [
    "ENERGY_COMPONENTS", "LATENCY_COMPONENTS", "WEIGHT_MODES", "CostReport",
    "held_weight_pj_per_mac", "laser_power_w", "layer_stage_times", "pipeline_makespan",
    "price", "price_layers",
    "des_price", "simulate_latency", "simulate_layers",
    "gpu_step_cost", "mlp_bytes", "mlp_forward_flops", "step_flop_multiplier",
    "gpu_band", "summary_step_work", "bp_step_work", "measure_torch_step",
    "format_cost_table", "steps_to_target", "with_headline",
    "GPU_PRESETS", "HIGHER_IS_CHEAPER", "LEVELS", "CrossbarCostSpec", "GpuSpec",
    "PhotonicCostSpec", "crossbar_spec", "gpu_preset", "photonic_spec",
]
