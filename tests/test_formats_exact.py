"""Bit-exact agreement of edgeq.formats with ml_dtypes and torch, over every code and over hard inputs."""

import json

import ml_dtypes
import numpy as np
import pytest
import torch

from edgeq.formats import decode, decode_table, encode, fake_quant, get_format, list_formats

# edgeq name -> ml_dtypes type, for every format ml_dtypes has
ML_FLOATS = {
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "fp8_e3m4": ml_dtypes.float8_e3m4,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}
ML_INTS = {"int4": ml_dtypes.int4, "uint4": ml_dtypes.uint4, "int2": ml_dtypes.int2, "uint2": ml_dtypes.uint2}
# torch's casts saturate for E4M3FN only; the others overflow to inf/NaN like ml_dtypes (saturate=False here)
TORCH_FLOATS = {
    "fp8_e4m3": (torch.float8_e4m3fn, True),
    "fp8_e5m2": (torch.float8_e5m2, False),
    "fp8_e4m3fnuz": (torch.float8_e4m3fnuz, False),
    "fp8_e5m2fnuz": (torch.float8_e5m2fnuz, False),
}
BACKENDS = ("numba", "numpy", "torch")


def run(x, fmt, backend, **kw):
    """fake_quant through one backend, always returning a NumPy array."""
    if backend == "torch":
        return fake_quant(torch.from_numpy(np.array(x, np.float32)), fmt, **kw).numpy()
    return fake_quant(x, fmt, backend=backend, **kw)


def ml_values(name, n_codes):
    return np.arange(n_codes, dtype=np.uint8).view(ML_FLOATS[name]).astype(np.float32)


def hard_inputs(fmt) -> np.ndarray:
    """Codes' values, midpoints between neighbours (ties), just-off-midpoints, subnormals, overflow, inf, nan."""
    table = decode_table(fmt).astype(np.float64)
    finite = np.unique(table[np.isfinite(table)])
    mids = (finite[:-1] + finite[1:]) / 2  # exactly representable in float32: one more mantissa bit
    beyond = fmt.max * np.array([1.0001, 1.03, 1.06, 1.2, 2.0, 1e6])
    tiny = fmt.min_subnormal * np.array([0.25, 0.5, 0.5000001, 0.75, 1.5, 2.5])
    x = np.concatenate([finite, mids, np.nextafter(mids, 0), np.nextafter(mids, np.inf), beyond, -beyond, tiny, -tiny])
    rng = np.random.default_rng(0)
    x = np.concatenate([x.astype(np.float32), (rng.standard_normal(4000) * fmt.max / 3).astype(np.float32)])
    return np.concatenate([x, np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], np.float32)])


@pytest.mark.parametrize("name", ML_FLOATS)
def test_decode_table_matches_ml_dtypes_on_every_code(name):
    fmt = get_format(name)
    n = 1 << fmt.bits
    np.testing.assert_array_equal(decode_table(fmt), ml_values(name, n))
    finfo = ml_dtypes.finfo(ML_FLOATS[name])
    assert fmt.max == float(finfo.max)
    assert fmt.min_normal == float(finfo.smallest_normal)
    assert fmt.min_subnormal == float(finfo.smallest_subnormal)
    finite = ml_values(name, n)
    assert fmt.num_finite == len(np.unique(finite[np.isfinite(finite)]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ML_FLOATS)
def test_fake_quant_matches_ml_dtypes_cast(name, backend):
    fmt = get_format(name)
    x = hard_inputs(fmt)
    if fmt.specials.value == "finite":
        x = x[~np.isnan(x)]  # no NaN code: ml_dtypes' result for NaN is arbitrary
    expected = x.astype(ML_FLOATS[name]).astype(np.float32)
    got = run(x, fmt, backend, saturate=False)
    np.testing.assert_array_equal(got, expected)
    # The sign of zero matters for the bit patterns too.
    np.testing.assert_array_equal(np.signbit(got[got == 0]), np.signbit(expected[expected == 0]))


@pytest.mark.parametrize("name", ML_FLOATS)
def test_encode_gives_ml_dtypes_bit_patterns(name):
    fmt = get_format(name)
    x = hard_inputs(fmt)
    x = x[~np.isnan(x) & ~np.isinf(x)]
    expected = x.astype(ML_FLOATS[name])
    finite = np.isfinite(expected.astype(np.float32))
    codes = encode(x[finite], fmt)
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, expected[finite].view(np.uint8))


@pytest.mark.parametrize("name", list(ML_FLOATS) + ["fp8_e2m5", "fp16", "bf16", "e3m3b2", "e2m2fnuz"])
def test_encode_decode_round_trip_on_every_code(name):
    fmt = get_format(name)
    table = decode_table(fmt)
    codes = np.arange(len(table))
    keep = np.isfinite(table) & ~((table == 0) & ~fmt.signed_zero & (codes != 0))
    np.testing.assert_array_equal(encode(table[keep], fmt).astype(np.int64), codes[keep])
    np.testing.assert_array_equal(decode(codes[keep], fmt), table[keep])
    if fmt.has_nan:
        assert np.isnan(decode(encode(np.array([np.nan], np.float32), fmt), fmt)).all()


@pytest.mark.parametrize("name", ML_INTS)
def test_integers_match_ml_dtypes(name):
    fmt = get_format(name)
    codes = np.arange(1 << fmt.bits, dtype=np.uint8)
    ml = np.array(codes, dtype=np.uint8).view(np.int8 if fmt.signed else np.uint8)
    # ml_dtypes int4/int2 store the value sign-extended in one byte: compare values, then our low-bit codes.
    values = decode_table(fmt)
    as_ml = values.astype(ML_INTS[name])
    np.testing.assert_array_equal(as_ml.astype(np.float32), values)
    np.testing.assert_array_equal(encode(values, fmt), codes)
    assert len(ml) == fmt.num_finite
    x = np.random.default_rng(1).uniform(fmt.qmin - 3, fmt.qmax + 3, 5000).astype(np.float32)
    x = np.concatenate([x, np.arange(fmt.qmin, fmt.qmax) + np.float32(0.5)])  # ties round to even
    expected = np.clip(np.rint(x), fmt.qmin, fmt.qmax).astype(ML_INTS[name]).astype(np.float32)
    for backend in BACKENDS:
        np.testing.assert_array_equal(run(x, fmt, backend), expected)


@pytest.mark.parametrize("name", TORCH_FLOATS)
def test_fake_quant_matches_torch_cast(name):
    fmt = get_format(name)
    dtype, saturating = TORCH_FLOATS[name]
    x = hard_inputs(fmt)
    expected = torch.from_numpy(x).to(dtype).to(torch.float32).numpy()
    for backend in BACKENDS:
        np.testing.assert_array_equal(run(x, fmt, backend, saturate=saturating), expected)


ORT_TYPES = {"fp8_e4m3": 17, "fp8_e4m3fnuz": 18, "fp8_e5m2": 19, "fp8_e5m2fnuz": 20, "int8": 3, "uint8": 2, "int4": 22}


@pytest.mark.parametrize("name", ORT_TYPES)
def test_saturating_fake_quant_matches_onnxruntime_qdq(name):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    fmt = get_format(name)
    x = hard_inputs(fmt) if fmt.kind == "float" else np.linspace(-20, 20, 4001, dtype=np.float32)
    scale = np.float32(0.37)
    x = x * scale
    zero = helper.make_tensor("zp", ORT_TYPES[name], [], [0])
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"])],
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(x)])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [len(x)])],
        initializer=[numpy_helper.from_array(scale, "s"), zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x})[0]
    for backend in BACKENDS:
        np.testing.assert_array_equal(run(x, fmt, backend, scale=scale), expected)


def test_scaled_per_channel_and_per_block_equal_slice_by_slice():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5, 70)).astype(np.float32)
    per_channel = rng.uniform(0.01, 0.1, 5).astype(np.float32)
    got = fake_quant(x, "fp8_e4m3", scale=per_channel, axis=1)
    for c in range(5):
        np.testing.assert_array_equal(got[:, c], fake_quant(x[:, c], "fp8_e4m3", scale=per_channel[c]))
    blocks = rng.uniform(0.01, 0.1, (6, 5, 3)).astype(np.float32)  # 70 elements in blocks of 32 -> 3
    got = fake_quant(x, "int4", scale=blocks, axis=2, block_size=32)
    for b in range(3):
        sl = slice(32 * b, 32 * (b + 1))
        expected = fake_quant(x[:, :, sl] / blocks[:, :, b : b + 1], "int4") * blocks[:, :, b : b + 1]
        np.testing.assert_allclose(got[:, :, sl], expected, rtol=1e-6)
    for backend in BACKENDS:
        np.testing.assert_array_equal(run(x, "int4", backend, scale=blocks, axis=2, block_size=32), got)


def test_asymmetric_uint8_with_zero_point():
    x = np.linspace(-1, 3, 1001, dtype=np.float32)
    scale, zp = np.float32(4 / 255), 64
    got = fake_quant(x, "uint8", scale=scale, zero_point=zp)
    q = np.clip(np.rint(x / scale) + zp, 0, 255)
    np.testing.assert_array_equal(got, ((q - zp) * scale).astype(np.float32))
    codes = encode(x, "uint8", scale=scale, zero_point=zp)
    np.testing.assert_array_equal(codes, q.astype(np.uint8))
    np.testing.assert_array_equal(decode(codes, "uint8", scale=scale, zero_point=zp), got)


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8"])
def test_mx_blocks_share_power_of_two_scales(name):
    from edgeq.formats import mx_scale_exponents

    fmt = get_format(name)
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 96)) * np.exp(rng.uniform(-8, 8, (4, 1)))).astype(np.float32)
    q = fake_quant(x, fmt, axis=1)
    exps = mx_scale_exponents(x, fmt, axis=1)
    assert exps.shape == (4, 3)
    step = 2.0**-6 if name == "mxint8" else 1.0
    for r in range(4):
        for b in range(3):
            block_q = q[r, 32 * b : 32 * (b + 1)].astype(np.float64)
            elements = block_q / (2.0 ** float(exps[r, b]) * step)
            element_fmt = fmt.element
            grid = decode_table(element_fmt).astype(np.float64)
            assert np.isin(elements, grid).all()  # every element lies on the element grid
            amax = np.abs(x[r, 32 * b : 32 * (b + 1)]).max()
            assert exps[r, b] == np.floor(np.log2(amax)) - fmt.element_emax  # OCP MX shared-scale rule
    for backend in ("numpy", "torch"):
        np.testing.assert_array_equal(run(x, fmt, backend, axis=1), q)


def test_torch_gradient_passes_straight_through():
    x = torch.linspace(-600, 600, 101, requires_grad=True)
    y = fake_quant(x, "fp8_e4m3", scale=1.0)
    (y * torch.arange(101.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(101.0, dtype=np.float32))
    np.testing.assert_array_equal(y.detach().numpy(), fake_quant(x.detach().numpy(), "fp8_e4m3"))


def test_format_properties_are_exact():
    e2m5 = get_format("fp8_e2m5")
    assert (e2m5.max, e2m5.min_normal, e2m5.min_subnormal) == (7.75, 1.0, 2.0**-5)
    custom = get_format("e3m4b5")
    assert custom.effective_bias == 5 and custom.max == 2.0 ** (6 - 5) * (1 + 15 / 16)
    assert get_format("int8").qmin == -128 and get_format("uint4").qmax == 15
    assert get_format("mxfp4").bits_per_element == 4.25
    assert get_format("bf16").max == float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    assert get_format("fp16").max == float(np.finfo(np.float16).max)
    names = [f.name for f in list_formats()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("bad", ["int1", "e9m2", "fp8_e4m9", "float7", "e0m3"])
def test_unknown_formats_raise_value_error(bad):
    with pytest.raises(ValueError):
        get_format(bad)


def test_cli_formats_json(capsys):
    from edgeq.cli import main

    assert main(["formats", "--json", "--fmt", "fp8_e4m3", "--fmt", "e2m3fnuz"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["max"] == 448.0 and rows[0]["num_finite"] == 253
    assert rows[1]["bias"] == 2 and rows[1]["signed_zero"] is False
    assert main(["formats", "--fmt", "nope"]) == 2


@pytest.mark.parametrize("name", ["int8", "int4", "fp8_e4m3", "fp8_e5m2", "fp4_e2m1", "mxfp4", "mxint8", "mxfp8_e4m3"])
def test_encoded_codes_decode_to_fake_quant_values_with_awkward_scales(name):
    fmt = get_format(name)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    if fmt.kind == "block":
        from edgeq.formats import mx_scale_exponents

        codes = encode(x, fmt, axis=1)
        step = 2.0**-6 if name == "mxint8" else 1.0
        scale = np.repeat(np.ldexp(np.float32(step), mx_scale_exponents(x, fmt, axis=1)), 32, axis=1)
        element = "int8" if name == "mxint8" else fmt.element
        np.testing.assert_array_equal(decode(codes, element) * scale, fake_quant(x, fmt, axis=1))
        return
    # scales like 0.1/3 make (q * s) / s miss the grid by an ulp: encode must not depend on that round trip
    scale = (rng.uniform(0.5, 2, 8) / 30).astype(np.float32)
    codes = encode(x, fmt, scale=scale, axis=0)
    np.testing.assert_array_equal(decode(codes, fmt, scale=scale, axis=0), fake_quant(x, fmt, scale=scale, axis=0))
