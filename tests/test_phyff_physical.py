"""Physical layers are black boxes: never differentiated, never changed by training, checked for bad output."""

import numpy as np
import pytest
import torch
from phyff_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

from edgeq.errors import UserError
from edgeq.phyff.model import FFNet, NetConfig
from edgeq.phyff.physical import CallableLayer, IdentityLayer, WaveLayer
from edgeq.phyff.train import FFTrainer, TrainConfig


class _RaiseOnBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.tanh(x)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("gradient reached the physical layer")


def _tiny_data(n=24, d=16, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g)
    y = torch.arange(n) % c
    return x, y


def test_gradients_never_reach_a_physical_layer():
    calls = []

    def hardware(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.requires_grad)
        return _RaiseOnBackward.apply(x)[:, :8]

    # the probe is live: backward through it does raise
    probe = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient reached"):
        _RaiseOnBackward.apply(probe).sum().backward()

    x, y = _tiny_data()
    layers = [CallableLayer(hardware, 16, 8, array="torch"), CallableLayer(hardware, 8, 8, array="torch")]
    net = FFNet(layers, 16, 3, NetConfig(hidden=8), seed=0)
    trainer = FFTrainer(net, TrainConfig(batch_size=8, inner_steps=2), seed=0)
    trainer.epoch(x, y)
    assert calls and not any(calls)  # every call got a detached input
    assert trainer.cost.physical_passes == 2 * 2 * 24  # pos + neg through both layers, once per batch


def test_training_never_changes_the_physical_layer():
    x, y = _tiny_data()
    layers = [WaveLayer(16, 8, seed=1), WaveLayer(8, 8, seed=2)]
    before = [{k: v.copy() for k, v in layer.state_arrays().items()} for layer in layers]
    net = FFNet(layers, 16, 3, NetConfig(hidden=8), seed=0)
    digital_before = [p.detach().clone() for p in net.parameters()]
    FFTrainer(net, TrainConfig(batch_size=8), seed=0).epoch(x, y)
    for layer, snap in zip(layers, before):
        after = layer.state_arrays()
        assert after.keys() == snap.keys()
        for k in snap:
            np.testing.assert_array_equal(after[k], snap[k])
        assert layer.time_s == 0.0
    assert any(not torch.equal(a, b) for a, b in zip(net.parameters(), digital_before))  # the digital part learned


def test_nan_from_the_physical_layer_is_a_user_error():
    layer = CallableLayer(lambda a: np.full((a.shape[0], 4), np.nan), 3, 4)
    with pytest.raises(UserError, match="NaN"):
        layer.forward(torch.ones(5, 3))


def test_shape_mismatch_is_a_user_error():
    layer = CallableLayer(lambda a: a[:, :2], 3, 4)
    with pytest.raises(UserError, match="returned shape"):
        layer.forward(torch.ones(5, 3))
    with pytest.raises(UserError, match=r"expects inputs of shape \[N, 3\]"):
        layer.forward(torch.ones(5, 7))


def test_a_failing_user_function_is_reported_in_one_line():
    def broken(a):
        raise ValueError("instrument offline")

    with pytest.raises(UserError, match="ValueError: instrument offline"):
        CallableLayer(broken, 3, 4).forward(torch.ones(2, 3))


def test_wave_layer_twin_is_the_noiseless_response_at_time_zero():
    layer = WaveLayer(10, 6, seed=3, noise=0.0)
    x = torch.randn(7, 10, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(layer.forward(x), layer.twin(x), rtol=0, atol=0)
    assert layer.passes == 7


def test_wave_layer_noise_drift_and_faults():
    x = torch.nn.functional.normalize(torch.randn(256, 10, generator=torch.Generator().manual_seed(0)), dim=1)
    noisy = WaveLayer(10, 6, seed=3, noise=0.05)
    ideal = noisy.twin(x)
    rel = ((noisy.forward(x) - ideal) / ideal.clamp_min(1e-3)).std()
    assert 0.02 < float(rel) < 0.2  # read noise is there, about 5% relative
    clean = WaveLayer(10, 6, seed=3, noise=0.0, decorrelation_s=100.0)
    y0 = clean.forward(x)
    clean.advance(10.0)
    y1 = clean.forward(x)
    clean.advance(1000.0)
    y2 = clean.forward(x)
    d1, d2 = float((y1 - y0).abs().mean()), float((y2 - y0).abs().mean())
    assert 0 < d1 < d2  # drift grows with time
    clean.add_faults(0.5, seed=0)
    dead = (clean.forward(x) == 0).all(dim=0)
    assert 0 < int(dead.sum()) < 6
    with pytest.raises(UserError):
        clean.advance(-1.0)


def test_identity_layer_returns_its_input():
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(IdentityLayer(5).forward(x), x)
