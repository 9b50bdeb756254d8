"""Tests for algorithms.updates (optax-shaped transformations on dicts of tensors)."""
import math

import pytest
import torch

from algorithms.updates import (
    GradientTransformation,
    adam,
    apply_updates,
    chain,
    clip_by_global_norm,
    global_norm,
    momentum,
    scale,
    sgd,
)

DT = torch.float64


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(3, 4, generator=g, dtype=DT), "b": torch.randn(4, generator=g, dtype=DT)}


def _grad_seq(n, seed=1):
    return [_params(seed + i) for i in range(n)]


def _clone(tree):
    return {k: v.clone() for k, v in tree.items()}


def _assert_tree_close(a, b, **kw):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], **kw)


def _run(tx, params, grads_seq):
    state = tx.init(params)
    for g in grads_seq:
        upd, state = tx.update(g, state, params)
        params = apply_updates(params, upd)
    return params, state


def test_sgd_step_exact_and_pure():
    params, grads = _params(), _params(7)
    p0, g0 = _clone(params), _clone(grads)
    tx = sgd(0.1)
    assert isinstance(tx, GradientTransformation)
    upd, _ = tx.update(grads, tx.init(params), params)
    new = apply_updates(params, upd)
    for k in params:
        assert torch.equal(upd[k], -0.1 * grads[k])
        assert torch.equal(new[k], params[k] + (-0.1 * grads[k]))
    _assert_tree_close(params, p0, rtol=0, atol=0)   # inputs untouched
    _assert_tree_close(grads, g0, rtol=0, atol=0)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_reference_and_torch(nesterov):
    lr, beta, steps = 0.05, 0.8, 6
    params, gs = _params(), _grad_seq(steps)
    ours, _ = _run(momentum(lr, beta, nesterov), params, gs)

    # hand-written recurrence
    ref, m = _clone(params), {k: torch.zeros_like(v) for k, v in params.items()}
    for g in gs:
        for k in ref:
            m[k] = beta * m[k] + g[k]
            ref[k] = ref[k] - lr * ((g[k] + beta * m[k]) if nesterov else m[k])
    _assert_tree_close(ours, ref)

    # torch.optim.SGD with dampening 0 follows the same recurrence
    tp = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.SGD(list(tp.values()), lr=lr, momentum=beta, nesterov=nesterov)
    for g in gs:
        for k, v in tp.items():
            v.grad = g[k].clone()
        opt.step()
    _assert_tree_close(ours, {k: v.detach() for k, v in tp.items()}, rtol=0, atol=1e-12)


def test_adam_matches_reference_and_torch():
    lr, b1, b2, eps, steps = 1e-2, 0.9, 0.999, 1e-8, 8
    params, gs = _params(), _grad_seq(steps)
    ours, state = _run(adam(lr, b1, b2, eps), params, gs)
    assert state.count == steps

    ref = _clone(params)
    m = {k: torch.zeros_like(v) for k, v in params.items()}
    v = {k: torch.zeros_like(x) for k, x in params.items()}
    for t, g in enumerate(gs, start=1):
        for k in ref:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            mhat, vhat = m[k] / (1 - b1 ** t), v[k] / (1 - b2 ** t)
            ref[k] = ref[k] - lr * mhat / (torch.sqrt(vhat) + eps)
    _assert_tree_close(ours, ref)

    tp = {k: x.clone().requires_grad_(True) for k, x in params.items()}
    opt = torch.optim.Adam(list(tp.values()), lr=lr, betas=(b1, b2), eps=eps)
    for g in gs:
        for k, x in tp.items():
            x.grad = g[k].clone()
        opt.step()
    _assert_tree_close(ours, {k: x.detach() for k, x in tp.items()}, rtol=0, atol=1e-6)


def test_adam_state_is_not_mutated():
    params, g = _params(), _params(3)
    tx = adam(1e-3)
    s0 = tx.init(params)
    mu0 = _clone(s0.mu)
    _, s1 = tx.update(g, s0, params)
    _assert_tree_close(s0.mu, mu0, rtol=0, atol=0)
    assert s0.count == 0 and s1.count == 1


def test_clip_by_global_norm_caps_across_dict():
    grads = {"a": torch.tensor([3.0, 0.0], dtype=DT), "b": torch.tensor([[0.0, 4.0]], dtype=DT)}
    assert math.isclose(global_norm(grads).item(), 5.0)
    tx = clip_by_global_norm(1.0)
    upd, _ = tx.update(grads, tx.init(grads))
    assert math.isclose(global_norm(upd).item(), 1.0)
    _assert_tree_close(upd, {k: v / 5.0 for k, v in grads.items()})   # direction kept
    # below the cap: unchanged (and not the same dict object)
    upd, _ = clip_by_global_norm(10.0).update(grads, ())
    _assert_tree_close(upd, grads, rtol=0, atol=0)
    assert upd is not grads


def test_chain_clip_adam_composes():
    params, gs = _params(), [{k: 50 * v for k, v in g.items()} for g in _grad_seq(4)]
    tx = chain(clip_by_global_norm(1.0), adam(1e-2))
    ours, state = _run(tx, params, gs)
    assert isinstance(state, tuple) and len(state) == 2
    clip, ad = clip_by_global_norm(1.0), adam(1e-2)
    s, ref = ad.init(params), params
    for g in gs:
        g, _ = clip.update(g, ())
        upd, s = ad.update(g, s, ref)
        ref = apply_updates(ref, upd)
    _assert_tree_close(ours, ref, rtol=0, atol=0)


def test_scale_and_chain_equals_sgd():
    params, g = _params(), _params(5)
    a, _ = chain(scale(0.5), sgd(0.2)).update(g, chain(scale(0.5), sgd(0.2)).init(params))
    _assert_tree_close(a, {k: -0.1 * v for k, v in g.items()})


def test_apply_updates_key_mismatch_and_dtype():
    params = {"w": torch.zeros(2, dtype=torch.float32)}
    out = apply_updates(params, {"w": torch.ones(2, dtype=DT)})
    assert out["w"].dtype == torch.float32
    with pytest.raises(ValueError):
        apply_updates(params, {"v": torch.ones(2)})
    with pytest.raises(ValueError):
        momentum(0.1).update({"v": torch.ones(2)}, momentum(0.1).init(params))


@pytest.mark.parametrize("make", [
    lambda: sgd(0.0),
    lambda: sgd(-1.0),
    lambda: sgd(float("nan")),
    lambda: sgd(float("inf")),
    lambda: momentum(0.1, beta=1.0),
    lambda: momentum(0.1, beta=-0.1),
    lambda: momentum(-0.1),
    lambda: adam(0.0),
    lambda: adam(1e-3, b1=1.0),
    lambda: adam(1e-3, b2=1.5),
    lambda: adam(1e-3, eps=-1.0),
    lambda: clip_by_global_norm(0.0),
    lambda: clip_by_global_norm(float("nan")),
    lambda: scale(float("inf")),
    lambda: chain(sgd(0.1), "adam"),
])
def test_invalid_hyperparameters_raise(make):
    with pytest.raises(ValueError):
        make()


def test_adam_torch_form_equals_torch_optim_adam_bit_for_bit():
    """The "torch" form, applied as p + update, equals torch.optim.Adam's in-place step bit for
    bit over 200 steps of gradients spanning six decades, and so does LeafAdam (per-tensor step
    counts, tensors without a gradient skipped) with two rate groups."""
    import torch

    from algorithms.baselines.leaf_adam import LeafAdam
    from algorithms.updates import adam

    gen = torch.Generator().manual_seed(0)
    p0 = torch.randn(5, 7, generator=gen)
    ref = p0.clone().requires_grad_(True)
    opt = torch.optim.Adam([ref], lr=1e-2)
    rule, state, q = adam(1e-2, form="torch"), None, p0.clone()
    state = rule.init({"p": q})
    a = torch.randn(6, generator=gen).requires_grad_(True)
    b = torch.randn(3, generator=gen).requires_grad_(True)
    a_ref, b_ref = a.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
    torch_two = torch.optim.Adam([{"params": [a_ref], "lr": 1e-3}, {"params": [b_ref], "lr": 0.1}])
    leaf = LeafAdam([([a], 1e-3), ([b], 0.1)])
    for t in range(200):
        g = torch.randn(5, 7, generator=gen) * 10.0 ** (t % 6 - 3)
        ref.grad = g.clone()
        opt.step()
        u, state = rule.update({"p": g}, state)
        q = q + u["p"]
        assert torch.equal(ref.detach(), q), t
        leaf.zero_grad()
        torch_two.zero_grad()
        ga, gb = torch.randn(6, generator=gen), torch.randn(3, generator=gen)
        a.grad, a_ref.grad = ga.clone(), ga.clone()
        if t % 3:                                 # b has no gradient every third step
            b.grad, b_ref.grad = gb.clone(), gb.clone()
        leaf.step()
        torch_two.step()
        assert torch.equal(a, a_ref) and torch.equal(b, b_ref), t


def test_adam_form_is_validated():
    import pytest

    from algorithms.updates import adam
    with pytest.raises(ValueError, match="form='keras'.*allowed"):
        adam(1e-3, form="keras")
