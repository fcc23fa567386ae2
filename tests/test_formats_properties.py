"""Hypothesis properties of the generic minifloat and integer paths (formats ml_dtypes does not have)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgeq.formats import FloatFormat, IntFormat, Specials, decode_table, fake_quant

settings.register_profile("edgeq", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("edgeq")


@st.composite
def minifloats(draw):
    exp_bits = draw(st.integers(2, 5))
    man_bits = draw(st.integers(0, 6))
    specials = draw(st.sampled_from(list(Specials)))
    if specials is Specials.FN and man_bits == 0:
        specials = Specials.FINITE  # FN needs a mantissa bit to keep a finite top binade
    bias = draw(st.one_of(st.none(), st.integers(-2, (1 << exp_bits))))
    return FloatFormat(exp_bits, man_bits, specials, bias)


formats = st.one_of(minifloats(), st.builds(IntFormat, st.integers(2, 12), st.booleans()))
values = arrays(np.float32, st.integers(1, 64), elements=st.floats(-1e4, 1e4, width=32))


@given(formats, values)
def test_output_on_grid_idempotent_and_identical_across_backends(fmt, x):
    q = fake_quant(x, fmt)
    grid = decode_table(fmt)
    assert np.isin(q, grid[np.isfinite(grid)]).all()
    np.testing.assert_array_equal(fake_quant(q, fmt), q)
    np.testing.assert_array_equal(fake_quant(x, fmt, backend="numpy"), q)
    np.testing.assert_array_equal(fake_quant(torch.from_numpy(x), fmt).numpy(), q)


@given(formats, values)
def test_monotone(fmt, x):
    x = np.sort(x)
    q = fake_quant(x, fmt)
    assert (np.diff(q) >= 0).all()


@given(formats, values)
def test_error_at_most_half_a_step_inside_the_range(fmt, x):
    grid = np.unique(decode_table(fmt)[np.isfinite(decode_table(fmt))]).astype(np.float64)
    inside = (x >= grid[0]) & (x <= grid[-1])
    x = x[inside].astype(np.float64)
    q = fake_quant(x.astype(np.float32), fmt).astype(np.float64)
    # the gap between the grid neighbours around each x bounds the error by half of it
    hi = np.clip(np.searchsorted(grid, x), 1, len(grid) - 1)
    gap = grid[hi] - grid[hi - 1]
    assert (np.abs(q - x) <= gap / 2 + 1e-12).all()
    # and the result is a nearest grid point
    nearest = np.min(np.abs(grid[None, :] - x[:, None]), axis=1) if len(x) else np.zeros(0)
    np.testing.assert_allclose(np.abs(q - x), nearest, rtol=0, atol=1e-12)


@given(formats, values, st.floats(1e-3, 1e3))
def test_scale_maps_onto_scaled_grid(fmt, x, scale):
    scale = np.float32(scale)
    q = fake_quant(x, fmt, scale=scale)
    np.testing.assert_array_equal(q, fake_quant(x / scale, fmt) * scale)
