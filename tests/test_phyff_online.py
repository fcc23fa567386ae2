"""The stronger online backprop baselines: twins recalibrated to the drifted chip, physics-aware training."""

import pytest
import torch
from phyff_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

from edgeq.errors import UserError
from edgeq.phyff.crossbar_layer import CrossbarLayer
from edgeq.phyff.experiment import DriftConfig, ExperimentConfig, run_experiment
from edgeq.phyff.model import BPNet, NetConfig
from edgeq.phyff.physical import CallableLayer, IdentityLayer, WaveLayer
from edgeq.phyff.train import BPTrainer, TrainConfig


def _x(n=32, d=20, seed=0):
    return torch.nn.functional.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def test_recalibrated_wave_twin_is_the_drifted_faulty_medium():
    layer = WaveLayer(20, 12, seed=0, noise=0.0)
    x = _x()
    layer.advance(1800.0)
    layer.add_faults(0.3, seed=1)
    now = layer.forward(x)
    torch.testing.assert_close(layer.recalibrated_twin()(x), now)
    assert _rel(layer.twin(x), now) > 0.3  # the time-0 twin no longer describes the medium
    assert layer.calibration_passes == 20 * 21 // 2


def test_recalibrated_crossbar_twin_follows_relaxation_and_dead_columns():
    layer = CrossbarLayer(20, 12, preset="rram", seed=0)
    x = _x()
    layer.advance(86400.0)
    layer.add_faults(0.3, seed=3)
    now = torch.stack([layer.forward(x) for _ in range(8)]).mean(0)  # average the read noise away
    recal = layer.recalibrated_twin()(x)
    assert _rel(recal, now) < 0.5 * _rel(layer.twin(x), now)
    dead = now.abs().sum(0) == 0
    assert dead.any() and (recal[:, dead] == 0).all()


def test_pat_takes_the_hardware_values_and_the_twin_gradient():
    """forward on the 'hardware' (2 x), backward through the twin (x): PAT's straight-through physics."""
    x, y = _x(16, 6), torch.arange(16) % 3
    layers = [CallableLayer(lambda a: 2 * a, 9, 9, twin=lambda a: a, array="torch")]  # 6 features + 3 labels
    net = BPNet(layers, 6, 3, NetConfig(hidden=8, embedding="append"), seed=0)
    torch.testing.assert_close(net(x, mode="pat"), net(x, mode="hardware"))
    grads = {}
    for mode in ("pat", "twin", "hardware"):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x, mode=mode), y).backward()
        grads[mode] = net.blocks[0].linear.weight.grad.clone()
    assert not torch.allclose(grads["pat"], grads["twin"])  # the forward values differ, so do the gradients
    trainer = BPTrainer(net, TrainConfig(batch_size=16), seed=0, noisy=False, mode="pat")
    trainer.step(x, y)
    assert trainer.cost.physical_passes == 16  # one hardware pass per sample per layer
    assert BPTrainer(net, TrainConfig(), seed=0, noisy=False).cost.physical_passes == 0


def test_layers_without_a_recalibration_say_so():
    fn = CallableLayer(lambda a: a, 4, 4)
    assert not fn.can_recalibrate and WaveLayer(4, 4, seed=0).can_recalibrate and IdentityLayer(4).can_recalibrate
    with pytest.raises(UserError, match="cannot be recalibrated"):
        fn.recalibrated_twin()
    with pytest.raises(UserError, match="mode"):
        BPTrainer(BPNet([IdentityLayer(10)], 10, 2, NetConfig(hidden=4), seed=0), TrainConfig(), 0, False, "magic")


def test_backprop_updates_repeat_every_online_batch():
    """backprop_updates=2: each online backprop variant steps twice per batch (PAT: twice the hardware passes)."""
    def drift_of(updates):
        cfg = ExperimentConfig(data="synthetic:160:16:3", physical="wave:0", layers=2, epochs=1, methods=("bp",),
                               net=NetConfig(hidden=16), drift=DriftConfig(deploy_s=100.0, checkpoints=2,
                                                                            online_steps=1,
                                                                            backprop_updates=updates))
        return run_experiment(cfg)[0]["drift"]

    one, two = drift_of(1), drift_of(2)
    assert two["online_physical_passes"]["bp_pat"] == 2 * one["online_physical_passes"]["bp_pat"] > 0
    assert two["accuracy"]["bp"] == one["accuracy"]["bp"]  # noiseless medium: the frozen model scores the same
    assert two["backprop_updates_per_batch"] == 2 and two["online_batches"] == one["online_batches"] == 2
    with pytest.raises(UserError, match="backprop_updates"):
        DriftConfig(backprop_updates=0)
