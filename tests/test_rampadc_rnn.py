"""Analog LSTM/GRU: equal to torch.nn.LSTM/GRU with every effect off; ADC and noise effects behave as configured."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from edgeq.simulators.analog_activation import ActivationSpec, AnalogActivation
from edgeq.simulators.analog_rnn import AnalogGRU, AnalogLSTM, AnalogRNNConfig
from edgeq.simulators.ramp_adc import RampADC, RampADCConfig, get_preset
from rampadc_helpers import one_torch_thread

from edgeq.errors import UserError

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


@pytest.mark.parametrize("batch_first", [False, True])
def test_ideal_analog_lstm_equals_torch_lstm(batch_first: bool) -> None:
    torch.manual_seed(0)
    ref = torch.nn.LSTM(7, 16, batch_first=batch_first)
    x = torch.randn(5, 9, 7)
    h0, c0 = torch.randn(1, 9 if not batch_first else 5, 16), torch.randn(1, 9 if not batch_first else 5, 16)
    analog = AnalogLSTM.from_torch(ref)
    y_ref, (h_ref, c_ref) = ref(x, (h0, c0))
    y, (h, c) = analog(x, (h0, c0))
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c, c_ref, rtol=1e-5, atol=1e-6)


def test_ideal_analog_gru_equals_torch_gru() -> None:
    torch.manual_seed(1)
    ref = torch.nn.GRU(6, 12, batch_first=True)
    x = torch.randn(4, 11, 6)
    y_ref, h_ref = ref(x)
    y, h = AnalogGRU.from_torch(ref)(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref, rtol=1e-5, atol=1e-6)


def test_ramp_gates_quantise_to_levels_and_approach_fp_with_bits() -> None:
    torch.manual_seed(2)
    ref = torch.nn.LSTM(8, 32)
    x = torch.randn(20, 16, 8)
    y_ref, _ = ref(x)
    errs = []
    for bits in (3, 5, 8):
        cfg = AnalogRNNConfig.uniform("ramp", bits, per_gate=(("cell", ActivationSpec()),))
        y, _ = AnalogLSTM.from_torch(ref, cfg)(x)
        errs.append(float((y - y_ref).detach().abs().max()))
    assert errs[0] > errs[1] > errs[2] > 0
    assert errs[2] < 0.02


def test_activation_forward_is_the_ramp_adc_and_backward_is_f_prime() -> None:
    spec = ActivationSpec("ramp", RampADCConfig(bits=4))
    act = AnalogActivation("sigmoid", spec, n_columns=6)
    x = torch.linspace(-6, 6, 60).reshape(10, 6).requires_grad_(True)
    out = act(x)
    expected = RampADC(RampADCConfig(bits=4, function="sigmoid")).quantise(x.detach().numpy().astype(np.float64))
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-7)
    out.sum().backward()
    s = torch.sigmoid(x.detach())
    torch.testing.assert_close(x.grad, s * (1 - s))


def test_linear_adc_gate_is_coarser_than_ramp_for_tanh_at_same_bits() -> None:
    x = torch.linspace(-3, 3, 3000).reshape(-1, 1)
    ramp = AnalogActivation("tanh", ActivationSpec("ramp", RampADCConfig(bits=4)), 1)
    lin = AnalogActivation("tanh", ActivationSpec("linear", RampADCConfig(bits=4)), 1)
    err_ramp = float((ramp(x) - torch.tanh(x)).abs().max())
    err_lin = float((lin(x) - torch.tanh(x)).abs().max())
    assert err_ramp < err_lin


def test_noisy_config_changes_output_and_is_reproducible() -> None:
    torch.manual_seed(3)
    ref = torch.nn.LSTM(4, 8)
    x = torch.randn(6, 3, 4)
    cfg = AnalogRNNConfig.uniform("ramp", 5, adc=get_preset("noisy"), crossbar="rram", seed=7)
    a = AnalogLSTM.from_torch(ref, cfg)
    b = AnalogLSTM.from_torch(ref, cfg)
    ya, _ = a(x)
    yb, _ = b(x)
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)
    ya2, _ = a(x)
    assert not torch.equal(ya, ya2), "read and comparator noise must be drawn afresh per run"
    ideal = AnalogLSTM.from_torch(ref, AnalogRNNConfig.uniform("ramp", 5))(x)[0]
    assert not torch.equal(ya, ideal)


def test_hardware_aware_training_step_reduces_loss() -> None:
    torch.manual_seed(4)
    cfg = AnalogRNNConfig.uniform("ramp", 4)
    lstm = AnalogLSTM(3, 8, cfg, batch_first=True)
    head = torch.nn.Linear(8, 2)
    x = torch.randn(32, 5, 3)
    y = (x[:, :, 0].sum(1) > 0).long()
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.1)
    losses = []
    for _ in range(15):
        out, _ = lstm(x)
        loss = torch.nn.functional.cross_entropy(head(out[:, -1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_bad_gate_name_and_function_raise_user_errors() -> None:
    with pytest.raises(UserError, match="unknown gate"):
        AnalogLSTM(2, 3, AnalogRNNConfig(per_gate=(("r", ActivationSpec()),)))
    with pytest.raises(UserError, match="kind"):
        ActivationSpec("log")
    with pytest.raises(UserError, match="single-layer"):
        AnalogLSTM.from_torch(torch.nn.LSTM(2, 3, num_layers=2))


def test_gate_mvms_on_crossbar_tiles_follow_the_crossbar_simulator() -> None:
    from edgeq.simulators.crossbar import program
    from edgeq.simulators.presets import get_preset as crossbar_preset

    torch.manual_seed(5)
    ref = torch.nn.LSTM(4, 6)
    x = torch.randn(3, 2, 4)
    ideal_tiles = AnalogLSTM.from_torch(ref, AnalogRNNConfig(crossbar="ideal"))(x)[0]
    torch.testing.assert_close(ideal_tiles, ref(x)[0], rtol=1e-5, atol=1e-5)
    cfg = AnalogRNNConfig(crossbar="rram", seed=3)
    lstm = AnalogLSTM.from_torch(ref, cfg)
    # the input tile is the crossbar simulator's programmed array, with the same seeds
    arr = program(ref.weight_ih_l0.detach().double().numpy().T, crossbar_preset("rram"), np.random.default_rng([4, 0]))
    expected = arr.matmul(x[0].numpy(), 0.0, np.random.default_rng([4, 1])) + ref.bias_ih_l0.detach().numpy()
    got = lstm.mvm_ih(x[0], lstm.weight_ih_l0, lstm.bias_ih_l0)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert cfg.tile_config().adc.bits == 8  # exact activations: the tile keeps its column ADC
    assert AnalogRNNConfig.uniform("ramp", 5, crossbar="rram").tile_config().adc.bits is None
