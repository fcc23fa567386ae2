"""Analog torch layers: ideal = float layers, straight-through gradients, program once in eval, reproducible chips."""

import dataclasses

import numpy as np
import pytest
import torch
from edgeq.simulators import get_preset
from edgeq.simulators.torch_layers import (
    AnalogConv2d,
    AnalogLinear,
    analog_layers,
    convert_to_analog,
    reprogram,
    set_drift_time,
    with_config,
)
from torch import nn

torch.set_num_threads(1)


def _no_read_noise(name: str):
    cfg = get_preset(name)
    return dataclasses.replace(
        cfg, device=dataclasses.replace(cfg.device, read=dataclasses.replace(cfg.device.read, scale=0.0))
    )


def test_ideal_analog_linear_equals_linear():
    torch.manual_seed(0)
    ref = nn.Linear(70, 30)
    layer = AnalogLinear.from_linear(ref, "ideal").eval()
    x = torch.randn(5, 3, 70)
    torch.testing.assert_close(layer(x), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=2, dilation=2), dict(kernel_size=(1, 3))])
def test_ideal_analog_conv_equals_conv(kw):
    torch.manual_seed(1)
    kw = {"kernel_size": 3, **kw}
    ref = nn.Conv2d(4, 6, **kw)
    layer = AnalogConv2d.from_conv(ref, "ideal").eval()
    x = torch.randn(2, 4, 9, 11)
    torch.testing.assert_close(layer(x), ref(x), rtol=1e-5, atol=1e-5)


def test_gradients_are_those_of_the_ideal_layer():
    torch.manual_seed(2)
    ref = nn.Linear(20, 8)
    layer = AnalogLinear.from_linear(ref, "rram").train()
    x1 = torch.randn(16, 20, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    c = torch.randn(16, 8)
    y_analog = layer(x1)
    (y_analog * c).sum().backward()
    (ref(x2) * c).sum().backward()
    assert not torch.allclose(y_analog, ref(x2))  # the forward is the noisy simulation...
    torch.testing.assert_close(layer.weight.grad, ref.weight.grad)  # ...the gradient the ideal one
    torch.testing.assert_close(layer.bias.grad, ref.bias.grad)
    torch.testing.assert_close(x1.grad, x2.grad)


def test_eval_programs_once_train_reprograms_every_step():
    torch.manual_seed(3)
    layer = AnalogLinear(32, 16, config=_no_read_noise("rram"), seed=4)
    x = torch.randn(8, 32)
    layer.eval()
    assert torch.equal(layer(x), layer(x))  # same chip, no read noise
    layer.train()
    assert not torch.equal(layer(x), layer(x))  # fresh programming noise each training step
    layer.eval()
    with torch.no_grad():
        layer.weight.mul_(0.5)  # changed weights are reprogrammed
    first = layer(x)
    assert torch.equal(first, layer(x))
    np.testing.assert_allclose(first.detach().numpy(), (x @ layer.weight.t() + layer.bias).detach().numpy(), atol=0.6)


def test_convert_reprogram_and_drift_are_reproducible():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    x = torch.randn(3, 1, 8, 8)
    analog = convert_to_analog(model, "pcm", seed=7).eval()
    assert isinstance(model[0], nn.Conv2d) and not isinstance(model[0], AnalogConv2d)  # the original is untouched
    assert [type(m) for m in analog_layers(analog)] == [AnalogConv2d, AnalogLinear]
    set_drift_time(analog, 3.15e7)
    y1 = analog(x)
    y2 = convert_to_analog(model, "pcm", seed=7).eval()
    set_drift_time(y2, 3.15e7)
    assert torch.equal(y1, y2(x))
    reprogram(analog, 1)
    y3 = analog(x)
    reprogram(analog, 1)
    assert torch.equal(y3, analog(x)) and not torch.equal(y1, y3)
    set_drift_time(analog, 1.0)
    assert not torch.equal(analog(x), y3)


def test_with_config_switches_every_layer():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 3))
    x = torch.randn(4, 10)
    analog = convert_to_analog(model, "rram", seed=2).eval()
    assert not torch.allclose(analog(x), model(x), atol=1e-4)
    with_config(analog, "ideal")
    assert [layer.config.name for layer in analog_layers(analog)] == ["ideal", "ideal"]
    torch.testing.assert_close(analog(x), model(x), rtol=1e-5, atol=1e-5)
