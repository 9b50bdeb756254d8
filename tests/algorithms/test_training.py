"""The one training loop (algorithms.training.fit): resume from a checkpointed result equals an
uninterrupted run, stop → Interrupted, non-finite loss → Divergence, evaluation sets."""
import copy

import pytest
import torch

from algorithms import registry
from algorithms.model import model_from_config
from algorithms.training import Divergence, FitResult, Interrupted, fit
from hwsim.presets import build_layer
from hwsim.trace import Trace


def _trainable(seed=0):
    model = model_from_config((16,), hidden=[8, 8])
    devs = [build_layer("mzi-default", a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    trace = Trace()
    tr = registry.build("mfdd", registry.settings_for("mfdd", {"num_directions": 2}), model, devs, 4, seed=seed,
                        trace=trace)
    return tr, trace


def _data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g)
    return x, (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()


@pytest.mark.parametrize("schedule", ["simultaneous", "greedy"])
def test_resume_from_a_checkpointed_result_equals_one_uninterrupted_run(schedule):
    x, y = _data()
    kw = dict(epochs=2, batch_size=16, seed=3, schedule=schedule, n_stages=2, x_test=x[:8],
              y_test=y[:8])
    ref, trace = _trainable()
    whole = fit(ref, x, y, trace=trace, **kw)

    tr, trace = _trainable()
    saved = {}

    def checkpoint(r: FitResult) -> None:       # what the runner pickles at an epoch boundary
        if r.epochs_done == 1:
            saved["state"] = copy.deepcopy((tr, trace, r))

    with pytest.raises(Interrupted, match="interrupted at step 5"):
        fit(tr, x, y, trace=trace, on_epoch_end=checkpoint,
            stop=lambda: tr.state.step >= 5, **kw)
    tr2, trace2, r = saved["state"]
    assert r.epochs_done == 1 and r.steps_done == 3 and r.batch_state is not None
    done = fit(tr2, x, y, trace=trace2, result=r, **kw)
    assert done.history == whole.history and done.step_losses == whole.step_losses
    assert done.step_summaries == whole.step_summaries
    assert all(torch.equal(a, b) for a, b in zip(tr2.state.theta, ref.state.theta))
    assert done.history["steps"][-1] == done.steps_done == len(whole.step_losses)


def test_non_finite_loss_raises_divergence_with_the_step():
    class Bad:
        n_stages = 1

        def step(self, x, y, stages=None):
            return {"loss.a": 1.0, "loss.b": float("nan")}

    with pytest.raises(Divergence, match="diverged at step 1 \\(epoch 1\\): non-finite loss.b") as e:
        fit(Bad(), torch.zeros(4, 1), torch.zeros(4), epochs=1, batch_size=2, seed=0)
    assert e.value.history["diverged_at_step"] == [1]


def test_on_step_sees_every_step_and_evaluation_sets_are_recorded():
    x, y = _data()
    tr, trace = _trainable()
    seen = []
    r = fit(tr, x, y, epochs=2, batch_size=16, seed=0, x_val=x[:8], y_val=y[:8], x_test=x[8:16],
            y_test=y[8:16], x_eval=x[16:24], y_eval=y[16:24],
            on_step=lambda n, res: seen.append((n, len(res.step_losses))))
    assert seen == [(i, i) for i in range(1, 7)]
    for k in ("val_accuracy", "test_accuracy", "eval_accuracy", "steps", "train_layers"):
        assert len(r.history[k]) == 2, k


def test_one_source_of_batch_order():
    with pytest.raises(ValueError, match="exactly one of seed"):
        fit(None, torch.zeros(2, 1), torch.zeros(2), epochs=1, batch_size=1)
    with pytest.raises(ValueError, match="batch_size = 0"):
        fit(None, torch.zeros(2, 1), torch.zeros(2), epochs=1, batch_size=0, seed=0)
