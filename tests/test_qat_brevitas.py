"""brevitas' core quantizers reproduce edgeq.formats bit for bit, and prepare/calibrate/convert behave."""

import numpy as np
import pytest
import torch
from torch import nn

import edgeq.qat as qat
from edgeq.errors import UserError
from edgeq.formats import decode_table, fake_quant, get_format
from edgeq.qat.brevitas_ops import BrevitasFakeQuant, supports
from edgeq.qat.quantizer import FakeQuantizer

BREVITAS_FORMATS = ["int2", "int4", "int8", "int16", "fp8_e4m3", "fp8_e5m2", "fp8_e3m4", "fp8_e2m5", "e3m4b5",
                    "e4m3b3fn", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1"]


def _probe(fmt, rng):
    """Random values over many binades, every grid value, every midpoint (ties) and values beyond max."""
    x = rng.standard_normal(20000) * np.exp(rng.uniform(-10, 10, 20000))
    if fmt.kind == "float":
        grid = np.unique(decode_table(fmt)[np.isfinite(decode_table(fmt))]).astype(np.float64)
        x = np.concatenate([x, grid, 0.5 * (grid[1:] + grid[:-1]), [fmt.max * 1.01, -fmt.max * 1.5, 1e30]])
    else:
        ints = np.arange(fmt.qmin, fmt.qmax + 1, dtype=np.float64)
        x = np.concatenate([x, ints, ints + 0.5, [fmt.qmax + 3.0, fmt.qmin - 7.0]])
    return x.astype(np.float32)


@pytest.mark.parametrize("name", BREVITAS_FORMATS)
@pytest.mark.parametrize("scale", [1.0, 0.37, 2.0**-5])
def test_brevitas_rounding_matches_edgeq_bit_for_bit(name, scale):
    fmt = get_format(name)
    assert supports(fmt)
    x = _probe(fmt, np.random.default_rng(0)) * np.float32(scale)
    ours = fake_quant(x, fmt, scale=np.float32(scale))
    theirs = BrevitasFakeQuant(fmt)(torch.from_numpy(x), torch.tensor(scale, dtype=torch.float32)).numpy()
    np.testing.assert_array_equal(theirs.view(np.uint32), ours.view(np.uint32))


def test_unsupported_formats_fall_back_to_edgeq():
    for name in ("mxfp4", "fp8_e4m3fnuz", "uint8"):
        assert FakeQuantizer(get_format(name), None, "dynamic").backend == "edgeq"
    assert FakeQuantizer(get_format("fp8_e4m3"), 0, "dynamic").backend == "brevitas"


@pytest.mark.parametrize("name", ["int8", "fp8_e4m3", "mxfp4"])
def test_straight_through_gradient_and_learned_scale_gradient(name):
    torch.manual_seed(0)
    x = (3 * torch.randn(64, 32)).requires_grad_(True)
    q = FakeQuantizer(get_format(name), None, "learned")
    q.set_range(torch.tensor(2.0))
    q(x).sum().backward()
    inside = x.detach().abs() < 2.0
    if name != "mxfp4":
        # LSQ straight-through: exactly 1 inside the range, 0 where it clips (int8 reaches -128 * scale below -2).
        clipped = (x.detach() > 2.01) | (x.detach() < -2.05)
        assert torch.all(x.grad[inside] == 1.0) and torch.all(x.grad[clipped] == 0.0)
    else:
        assert torch.allclose(x.grad, torch.ones_like(x.grad))  # MX: plain straight-through everywhere
    if name != "mxfp4":
        assert q.scale.grad is not None and torch.isfinite(q.scale.grad) and q.scale.grad != 0


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 16, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def test_prepare_leaves_input_untouched_and_quantizes_every_layer():
    torch.manual_seed(0)
    net, x = _Net(), torch.rand(32, 1, 4, 4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    q = qat.prepare(net, "int4", "int8", "channel", calib=[x])
    assert set(qat.quant_layers(q)) == {"conv", "fc"}
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    w = q.conv.quantized_weight().detach()
    scale = net.conv.weight.detach().abs().amax(dim=(1, 2, 3)) / 7
    assert torch.allclose(w, fake_quant(net.conv.weight.detach(), "int4", scale, axis=0))
    with torch.no_grad():
        assert not torch.equal(q(x), net(x))
        assert torch.allclose(qat.float_model(q)(x), net(x))


def test_overrides_keep_a_layer_at_higher_precision():
    net = _Net()
    q = qat.prepare(net, "int8", "int8", overrides={"fc": ("int8", "int16")}, calib=[torch.rand(8, 1, 4, 4)])
    assert q.fc.input_quant.fmt.name == "int16" and q.conv.input_quant.fmt.name == "int8"


def test_bad_names_are_user_errors():
    with pytest.raises(UserError, match="unknown format"):
        qat.prepare(_Net(), "int9x", "int8")
    with pytest.raises(UserError, match="no quantizable layer named"):
        qat.prepare(_Net(), "int8", "int8", exclude=["nope"])
    with pytest.raises(UserError, match="granularity"):
        qat.prepare(_Net(), "int8", "int8", granularity="row")
    with pytest.raises(RuntimeError, match="calibrate"):
        qat.prepare(_Net(), "int8", "int8")(torch.rand(2, 1, 4, 4))


def test_context_manager_trains_and_convert_retargets():
    torch.manual_seed(0)
    x, y = torch.rand(128, 1, 4, 4), torch.randint(0, 3, (128,))
    with qat.quantization_aware(_Net(), calib=[x], weights="fp8_e4m3", acts="fp8_e4m3", learn_scales=True) as q:
        opt = torch.optim.SGD(q.parameters(), lr=0.1)
        first = None
        for _ in range(10):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(q(x), y)
            loss.backward()
            opt.step()
            first = first if first is not None else float(loss.detach())
    assert float(loss.detach()) < first and not q.training
    as_int = qat.convert(q, [x], "int8", "int8")
    layers = qat.quant_layers(as_int).values()
    assert {m.fmt.name for layer in layers for m in (layer.weight_quant, layer.input_quant)} == {"int8"}
