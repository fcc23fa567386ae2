"""The crossbar physical layer on edgeq.simulators."""

import numpy as np
import pytest
import torch
from phyff_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

from edgeq.errors import UserError

from edgeq.phyff.crossbar_layer import CrossbarLayer  # noqa: E402
from edgeq.phyff.model import FFNet, NetConfig  # noqa: E402
from edgeq.phyff.train import FFTrainer, TrainConfig  # noqa: E402


def _x(n=32, d=20, seed=0):
    return torch.nn.functional.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_ideal_crossbar_is_the_ideal_model():
    layer = CrossbarLayer(20, 12, preset="ideal", seed=0)
    x = _x()
    torch.testing.assert_close(layer.forward(x), layer.twin(x), rtol=1e-5, atol=1e-5)


def test_rram_crossbar_is_noisy_drifts_and_stays_programmed_once():
    layer = CrossbarLayer(20, 12, preset="rram", seed=0)
    x = _x()
    ideal = layer.twin(x)
    y0, y0b = layer.forward(x), layer.forward(x)
    rel = float((y0 - ideal).norm() / ideal.norm())
    assert 0.01 < rel < 0.5  # programming + read noise, but still the same matrix
    assert not torch.equal(y0, y0b)  # fresh read noise every call
    layer.advance(86400.0)
    y1 = layer.forward(x)
    assert float((y1 - ideal).norm() / ideal.norm()) > rel  # relaxation after a day moves it further


def test_training_on_the_crossbar_changes_only_digital_weights():
    x = _x(24, 20)
    y = torch.arange(24) % 3
    layers = [CrossbarLayer(20, 8, preset="rram", seed=1), CrossbarLayer(8, 8, preset="rram", seed=2)]
    before = [layer.state_arrays() for layer in layers]
    net = FFNet(layers, 20, 3, NetConfig(hidden=8), seed=0)
    FFTrainer(net, TrainConfig(batch_size=8), seed=0).epoch(x, y)
    for layer, snap in zip(layers, before):
        for key, arr in layer.state_arrays().items():
            np.testing.assert_array_equal(arr, snap[key])


def test_noisy_twin_carries_the_ideal_gradient():
    layer = CrossbarLayer(20, 12, preset="rram", seed=0)
    x = _x().requires_grad_(True)
    out = layer.twin(x, torch.Generator().manual_seed(0))
    assert not torch.allclose(out, layer.twin(x))
    out.sum().backward()
    torch.testing.assert_close(x.grad, layer.twin(torch.zeros(1, 20)).new_ones(32, 12) @ layer._w_torch.T)


def test_unknown_preset_is_a_user_error():
    with pytest.raises(UserError, match="crossbar:flash"):
        CrossbarLayer(4, 4, preset="flash")


def test_device_faults_break_single_devices_not_columns():
    from edgeq.phyff.hardware import make_physical

    layer = make_physical("crossbar:ideal:devices", 20, 12, seed=0)
    assert isinstance(layer, CrossbarLayer) and layer.faults == "devices"
    x = _x()
    before = layer.forward(x)
    layer.add_faults(0.2, seed=1)
    after = layer.forward(x)
    changed = (after - before).abs().amax(dim=0) > 1e-6
    assert changed.all()  # stuck devices are spread over every column ...
    assert (after.abs().amax(dim=0) > 0).all()  # ... and no column reads zero, unlike column faults
    columns = make_physical("crossbar:ideal", 20, 12, seed=0)
    columns.add_faults(0.5, seed=1)
    assert (columns.forward(x).abs().amax(dim=0) == 0).any()
    with pytest.raises(UserError, match="faults"):
        make_physical("crossbar:ideal:pixels", 20, 12, seed=0)
