"""Hardware-aware training: an MLP trained through noisy RRAM tiles keeps more accuracy on RRAM chips than the
same MLP trained in float with the same recipe (same init, data order, schedule), on the same simulated chips."""

import dataclasses

import numpy as np
import pytest
import torch
from crossbar_helpers import accuracy, digits_split
from edgeq.examples.make_examples import DigitsMLP
from edgeq.simulators import get_preset
from edgeq.simulators.torch_layers import convert_to_analog, reprogram, set_drift_time

TIMES = (1.0, 86400.0, 3.15e7)


def _rram(noise_scale: float):
    cfg = get_preset("rram")
    dev = cfg.device
    return dataclasses.replace(
        cfg, device=dataclasses.replace(dev, programming=dataclasses.replace(dev.programming, scale=noise_scale))
    )


def _train(config, data, epochs=60) -> DigitsMLP:
    """Train the digits MLP with make_examples' recipe, through analog tiles when config is given."""
    torch.manual_seed(0)
    model = DigitsMLP()
    if config is not None:
        model = convert_to_analog(model, config, seed=1)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    xs, ys = torch.from_numpy(data["train_x"]), torch.from_numpy(data["train_y"])
    batches = (len(ys) + 63) // 64
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=epochs * batches)
    order = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(len(ys), generator=order).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xs[idx]), ys[idx]).backward()
            opt.step()
            schedule.step()
    plain = DigitsMLP().eval()
    plain.load_state_dict(model.state_dict())
    return plain


def _chip_accuracy(model, config, data, chips=8) -> np.ndarray:
    """Return (chips, times) accuracy of model programmed on `chips` simulated chips (the same chips for every model)."""
    analog = convert_to_analog(model, config, seed=0).eval()
    acc = np.zeros((chips, len(TIMES)))
    for c in range(chips):
        reprogram(analog, 100 + c)
        for k, t in enumerate(TIMES):
            set_drift_time(analog, t)
            acc[c, k] = accuracy(analog, data["eval_x"], data["eval_y"])
    return acc


@pytest.mark.slow
def test_hardware_aware_training_recovers_accuracy_under_rram():
    torch.set_num_threads(1)
    data = digits_split()
    float_model = _train(None, data)
    assert accuracy(float_model, data["eval_x"], data["eval_y"]) >= 0.97
    for scale, min_gain in ((1.0, 0.001), (3.0, 0.004)):
        cfg = _rram(scale)
        base = _chip_accuracy(float_model, cfg, data)
        hwa = _chip_accuracy(_train(cfg, data), cfg, data)
        gain = hwa.mean() - base.mean()
        print(f"RRAM programming noise x{scale}: float-trained {base.mean(0)}, HWA {hwa.mean(0)}, gain {gain:+.4f}")
        assert gain >= min_gain
        assert np.mean(hwa >= base) >= 0.5  # not one lucky chip: HWA wins or ties on most chip/time pairs
