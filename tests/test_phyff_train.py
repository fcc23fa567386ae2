"""FF training against an independent reference implementation, inference batching, and determinism."""

import math

import numpy as np
import pytest
import torch
from phyff_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

from edgeq.errors import UserError
from edgeq.phyff.experiment import DriftConfig, ExperimentConfig, run_experiment
from edgeq.phyff.model import FFNet, NetConfig
from edgeq.phyff.physical import IdentityLayer
from edgeq.phyff.train import FFTrainer, TrainConfig


def _reference_goodness(a, kind, proto):
    if kind == "sumsq":
        return (a ** 2).sum(1)
    absa = a.abs()
    return (absa @ proto) / (absa.norm(dim=1).clamp_min(1e-8) * proto.norm())


def _reference_loss(gp, gn, kind, threshold, theta):
    if kind == "sumsq":
        return (torch.log1p(torch.exp(threshold - gp)) + torch.log1p(torch.exp(gn - threshold))).mean()
    return torch.log1p(torch.exp(-theta * (gp - gn))).mean()


class _ReferenceAdam:
    """Adam written out (Kingma & Ba, torch defaults), so the reference shares no optimiser code with edgeq."""

    def __init__(self, params, lr):
        self.params, self.lr, self.t = params, lr, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.mul_(0.9).add_(0.1 * g)
            v.mul_(0.999).add_(0.001 * g * g)
            mhat = m / (1 - 0.9 ** self.t)
            vhat = v / (1 - 0.999 ** self.t)
            p.sub_(self.lr * mhat / (vhat.sqrt() + 1e-8))


@pytest.mark.parametrize("kind, unit_input", [("cosine", True), ("sumsq", True), ("cosine", False)])
def test_ff_with_identity_layers_matches_a_reference_step_by_step(kind, unit_input):
    n, d, c, hidden, lr, inner = 12, 5, 3, 6, 0.01, 2
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, d, generator=gen)
    y = torch.arange(n) % c
    cfg = NetConfig(hidden=hidden, goodness=kind, threshold=1.5, embedding="append",
                    normalize_input=unit_input)
    net = FFNet([IdentityLayer(d + c), IdentityLayer(hidden)], d, c, cfg, seed=3)
    trainer = FFTrainer(net, TrainConfig(lr=lr, inner_steps=inner), seed=5)
    weights = [[b.linear.weight.detach().clone(), b.linear.bias.detach().clone()] for b in net.blocks]
    protos = net.prototypes.clone()
    optims = [_ReferenceAdam(w, lr) for w in weights]
    rng = np.random.default_rng(5)

    for _ in range(4):
        trainer.step(x, y)
        # reference: embed, then per layer: unit-normalise, identity "hardware", [p, sqrt(dim) * unit], ReLU
        neg = (y + torch.from_numpy(rng.integers(1, c, size=n))) % c
        peak = x.max(1, keepdim=True).values
        h = torch.cat([torch.cat([x, torch.eye(c)[y] * peak], 1), torch.cat([x, torch.eye(c)[neg] * peak], 1)])
        for k, (w, opt) in enumerate(zip(weights, optims)):
            if k == 0 and not unit_input:  # the raw input goes to the hardware and the skip path
                z = torch.cat([h, h], 1)
            else:
                unit = h / (h.norm(dim=1, keepdim=True) + 1e-8)
                z = torch.cat([unit, unit * math.sqrt(h.shape[1])], 1)
            for _ in range(inner):
                wk = [t.clone().requires_grad_(True) for t in w]
                a = torch.relu(z @ wk[0].T + wk[1])
                g = _reference_goodness(a, kind, protos[k])
                loss = _reference_loss(g[:n], g[n:], kind, 1.5, 4.0)
                opt.step(torch.autograd.grad(loss, wk))
            h = a.detach()
        for block, (w, b) in zip(net.blocks, weights):
            torch.testing.assert_close(block.linear.weight.detach(), w, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(block.linear.bias.detach(), b, rtol=1e-5, atol=1e-6)


def test_inference_scores_every_label_in_one_batch_and_sums_layer_goodness():
    d, c = 5, 4
    net = FFNet([IdentityLayer(d + c), IdentityLayer(8)], d, c, NetConfig(hidden=8, embedding="append"), seed=0)
    x = torch.rand(6, d, generator=torch.Generator().manual_seed(1))
    scores = net.scores(x)
    assert scores.shape == (6, c)
    assert sum(layer.passes for layer in [b.phys for b in net.blocks]) == 2 * 6 * c  # one batch of N*C per layer
    for label in range(c):  # the same as scoring label by label
        h = net.embed(x, torch.full((6,), label))
        total = torch.zeros(6)
        for k, block in enumerate(net.blocks):
            h = block.digital(block.hardware_features(h), h)
            total += net.layer_goodness(h, k)
        torch.testing.assert_close(scores[:, label], total)


def test_hardest_negatives_pick_the_best_scoring_wrong_label():
    d, c = 12, 3
    net = FFNet([IdentityLayer(d)], d, c, NetConfig(hidden=6, embedding="overlay"), seed=0)
    trainer = FFTrainer(net, TrainConfig(negatives="hardest"), seed=0)
    x = torch.rand(9, d, generator=torch.Generator().manual_seed(2))
    y = torch.arange(9) % c
    neg = trainer._negatives(x, y)
    scores = net.scores(x)
    assert (neg != y).all()
    scores[torch.arange(9), y] = -torch.inf
    assert torch.equal(neg, scores.argmax(1))


def _tiny_experiment(seed):
    return ExperimentConfig(data="synthetic:200:16:3", physical="wave", layers=2, epochs=2, seed=seed,
                            net=NetConfig(hidden=16), train=TrainConfig(batch_size=32),
                            drift=DriftConfig(deploy_s=100.0, checkpoints=2, online_steps=2))


def test_a_seed_gives_the_same_curves_bit_for_bit():
    (r1, w1), (r2, w2) = run_experiment(_tiny_experiment(4)), run_experiment(_tiny_experiment(4))
    r1.pop("timing"), r2.pop("timing")
    assert r1 == r2
    for method in w1:
        for name in w1[method]:
            assert torch.equal(w1[method][name], w2[method][name])
    r3, _ = run_experiment(_tiny_experiment(5))
    assert r3["methods"]["ff"]["curve"] != r1["methods"]["ff"]["curve"]


def test_bad_training_settings_are_user_errors():
    with pytest.raises(UserError, match="negatives"):
        TrainConfig(negatives="easiest")
    with pytest.raises(UserError, match="goodness"):
        NetConfig(goodness="energy")
    with pytest.raises(UserError, match="method"):
        ExperimentConfig(methods=("ff", "sgd"))
    with pytest.raises(UserError, match="append"):
        FFNet([IdentityLayer(3)], 3, 4, NetConfig(embedding="overlay"), seed=0)
