"""bench/pure_zo_gain.py and bench/mono_forward_table.py on tiny settings: the gain is the paired
difference to the control, the local-head family shares the registry's frozen control, the
whole-network trainers get their own (train_knobs off), and the Mono-Forward table's unit
conversion and JSON round trip."""
import json
import math

import pytest

from tests.bench_scripts import load as _load


def test_pure_zo_gain_rows_and_controls(capsys):
    rows = _load("pure_zo_gain").main(["--epochs", "1", "--seeds", "0", "--hidden", "8",
                                        "--algorithms", "frog", "flops"])
    by = {r["name"]: r for r in rows}
    for r in rows:
        assert r["gain"][0] == pytest.approx(100 * (r["acc"][0] - r["ctrl"][0]))
        assert r["q"] > 0 and r["v"] >= r["q"] and r["d"] > 0
    assert by["frog"]["control"].startswith("frozen")
    assert "train_knobs=False" in by["flops"]["control"]
    assert "frog" in capsys.readouterr().out


def test_mono_forward_units_and_table(tmp_path, capsys):
    mod = _load("mono_forward_table")
    # W = 2·w_max·θ with w_max = 1/√n_in: η in weight units is η·√n_in/2 in θ units
    assert mod.theta_lr(1e-3, [784]) == pytest.approx(1e-3 * 28 / 2)
    assert mod.theta_lr(1e-3, [784, 1000]) == pytest.approx(1e-3 * (28 + math.sqrt(1000)) / 4)
    rec = {"seed": 0, "algorithm": "bp", "epochs": 2, "val": [0.5, 0.7], "test": [0.6, 0.65],
           "lr_theta": 1e-3, "head_lr": 1e-3, "preset": "crossbar-ideal", "hidden": [8, 8],
           "split": [10, 5, 5], "batch": 4}
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps(dict(rec, seed=1, test=[0.6, 0.75])) + "\n")
    mod.main(["--table", str(f)])
    out = capsys.readouterr().out
    assert "70.00±7.07" in out          # last-epoch test, mean ± sd over the two records


def test_mono_forward_wider_weight_range_keeps_the_start_and_widens_the_bound():
    """--weight-range M: the same initial weights (bit for bit), and a weight can reach M× the
    start's per-tile bound once the conductances saturate."""
    import torch

    from algorithms import registry
    from algorithms.model import model_from_config
    from experiments.build import build_devices
    from hwsim.presets import device_config
    mod = _load("mono_forward_table")
    model = model_from_config((784,), hidden=[16])
    s = registry.settings_for("mf-ad", {})
    devs = build_devices(device_config("crossbar-ideal"), registry.device_layout("mf-ad", s, model), 0)
    for d, k in zip(devs, registry.initial_knobs("mf-ad", s, model, devs, 0)):
        spec = d.knob_spec["conductances"]
        wide = mod.widened(k, 4.0, spec.low)
        assert torch.equal(d.digital_twin(wide), d.digital_twin(k))
        top = dict(wide, conductances=torch.stack([torch.full_like(wide["conductances"][0], spec.high),
                                                   torch.full_like(wide["conductances"][1], spec.low)]))
        bound = float(d.digital_twin(k).abs().max())
        assert float(d.digital_twin(top).abs().max()) == pytest.approx(4 * bound, rel=1e-5)
        # --weight-init reference: the registry's draw × √6 (U(±√6/√n_in)), range scaled alike
        g = mod.WEIGHT_INITS["reference"]
        assert g == pytest.approx(math.sqrt(6.0))
        assert torch.allclose(d.digital_twin(mod.rescaled(k, g)), g * d.digital_twin(k), rtol=1e-6,
                              atol=0.0)


def test_global_features_are_one_mean_and_std(monkeypatch):
    import torch
    mod = _load("fashion_algorithms")

    class DS:
        x_train = torch.arange(40.0).reshape(10, 4)
        y_train = torch.zeros(10, dtype=torch.long)
        x_test = torch.ones(3, 4)
        y_test = torch.zeros(3, dtype=torch.long)
    monkeypatch.setattr(mod, "load_dataset", lambda name: DS)
    (xt, _), _, (xs, _) = mod.split(6, 2, 3, 0, features="global")
    assert abs(float(xt.mean())) < 1e-6 and float(xt.std()) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="features = 'pixel'; allowed: per-pixel, global"):
        mod.split(6, 2, 3, 0, features="pixel")


def test_free_mlp_control_inits_as_the_reference_and_trains_greedily(monkeypatch):
    """bench/mono_forward_free_mlp.py: weights U(±√6/√n_in) as the reference's
    kaiming_uniform(a=√5, nonlinearity="relu") draws them (torch ignores a for "relu": gain √2),
    U(±1/√n_in) under the labelled option; projections U(±1/√n), biases 0; while layer 2 trains,
    layer 1 is frozen; the local head of the last layer predicts."""
    import torch
    mod = _load("mono_forward_free_mlp")
    ref = torch.empty(1000, 784)
    torch.nn.init.kaiming_uniform_(ref, a=math.sqrt(5), nonlinearity="relu")
    assert float(ref.abs().max()) == pytest.approx(mod.WEIGHT_INITS["reference"] / math.sqrt(784),
                                                   rel=1e-3)
    for rule, g in (("reference", math.sqrt(6.0)), ("linear-default", 1.0)):
        layers = mod.init_network([784, 50, 30], 10, torch.Generator().manual_seed(0), rule)
        assert [tuple(p["W"].shape) for p in layers] == [(50, 784), (30, 50)]
        assert [tuple(p["M"].shape) for p in layers] == [(10, 50), (10, 30)]
        for p, n_in in zip(layers, (784, 50)):
            assert float(p["W"].abs().max()) <= g / math.sqrt(n_in)
            assert float(p["W"].abs().max()) > 0.9 * g / math.sqrt(n_in)
            assert float(p["b"].abs().max()) == 0.0
            assert float(p["M"].abs().max()) <= 1 / math.sqrt(p["M"].shape[1])

    # a separable toy task through the bench's split: the class moves 10 of the 784 pixels
    g = torch.Generator().manual_seed(1)
    y = torch.arange(300) % 2
    x = 0.3 * torch.randn(300, 784, generator=g)
    x[:, :10] += (2.0 * y - 1.0)[:, None]
    monkeypatch.setattr(mod, "split", lambda n_tr, n_va, n_te, seed, features: (
        (x[:200], y[:200]), (x[200:250], y[200:250]), (x[250:], y[250:])))
    optimised = []
    real_adam = torch.optim.Adam

    def spy(params, **kw):
        params = list(params)
        optimised.append([p.shape for p in params])
        return real_adam(params, **kw)
    monkeypatch.setattr(mod.torch.optim, "Adam", spy)
    h = mod.train_seed(0, [20, 20], epochs=3, batch=32, lr=3e-3, features="per-pixel",
                       n_train=200, n_val=50, n_test=50)
    assert [r[0] for r in h] == [1, 1, 1, 2, 2, 2]         # 3 epochs per layer, in order
    # greedy: one optimiser per layer over that layer's (W, b, M) only
    assert optimised == [[(20, 784), (20,), (10, 20)], [(20, 20), (20,), (10, 20)]]
    assert h[-1][2] > 0.9                                  # the last layer's head predicts


def test_equal_accuracy_reads_the_first_checkpoint_at_the_target(tmp_path, capsys):
    """bench/equal_accuracy.py: the cost at the first checkpoint whose test accuracy reaches the
    target (no interpolation); a seed that never reaches it is counted as not reached."""
    mod = _load("equal_accuracy")

    def run(points, final):
        return {"test": final, "curve": [{"test": t, "vectors": v, "settings": v / 10,
                                          "energy": v / 1000} for v, t in points]}
    table = {"rows": {"a": [run([(0, .1), (100, .32), (200, .5)], .5),
                            run([(0, .1), (300, .35), (400, .6)], .6)],
                      "b": [run([(0, .1), (1000, .2)], .2), run([(0, .1), (900, .4)], .4)]}}
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"tables": {"net/preset": table}}))
    c = mod.cost_to(table["rows"]["a"], 0.3)
    assert c["reached"] == 2 and c["vectors"] == (200.0, 100.0, 300.0)
    assert mod.cost_to(table["rows"]["b"], 0.3)["reached"] == 1
    mod.main([str(f), "--target-row", "b"])          # target = mean(0.2, 0.4) = 0.3
    out = capsys.readouterr().out
    assert "= 0.3000" in out
    assert any(line.startswith("a ") and "2 of 2" in line and "200 [100–300]" in line
               for line in out.splitlines())
    with pytest.raises(SystemExit, match="--target-row 'c': not in the files; allowed: a, b"):
        mod.main([str(f), "--target-row", "c"])
    with pytest.raises(SystemExit, match="allowed: an accuracy in"):
        mod.main([str(f), "--target", "2"])


def test_reference_run_checks_the_checkout_and_feeds_it_the_published_pipeline(tmp_path):
    """bench/mono_forward_reference_run.py: a directory that is not the reference checkout gets one
    line naming the missing files; a checkout's trainer receives the config's MF settings, a
    54k/6k-style random split (a tenth held out), batches of 128 and data normalised by their
    Fashion-MNIST statistics; the accuracy it returns is read as a fraction."""
    import torch
    mod = _load("mono_forward_reference_run")
    with pytest.raises(SystemExit, match=r"missing src/architectures/mf_mlp.py, .*allowed: a "
                                         r"checkout of Przemyslaw11/BeyondBackpropagation"):
        mod.check_reference(tmp_path)
    seen = {}

    class FakeMLP:
        def __init__(self, *args, **kw):
            seen["model"] = (args, kw)

    def fake_train(model, train_loader, config, device, adapter, val_loader=None):
        seen["config"] = config["algorithm_params"]
        seen["sizes"] = (len(train_loader.dataset), len(val_loader.dataset))
        seen["batch"] = train_loader.batch_size
        seen["mean"] = float(train_loader.dataset.dataset.tensors[0].mean())

    def fake_eval(model, loader, device, adapter):
        return {"eval_accuracy": 87.5}
    ref = (FakeMLP, fake_train, fake_eval, lambda s: torch.manual_seed(s))

    class DS:
        x_train = torch.full((200, 784), 0.2860)
        y_train = torch.zeros(200, dtype=torch.long)
        x_test = torch.full((20, 784), 0.2860)
        y_test = torch.zeros(20, dtype=torch.long)
    assert mod.run_seed(ref, 51, mod.normalised(DS)) == pytest.approx(0.875)
    assert seen["sizes"] == (180, 20) and seen["batch"] == 128
    assert seen["mean"] == pytest.approx(0.0, abs=1e-6)      # (x − 0.2860) / 0.3530
    assert seen["config"]["lr"] == pytest.approx(3.873086e-4, rel=1e-6)
    assert seen["config"]["epochs_per_layer"] == 12
    assert seen["config"]["mf_early_stopping_patience"] == 10
    assert seen["model"][0] == (784, [1000, 1000], 10)
