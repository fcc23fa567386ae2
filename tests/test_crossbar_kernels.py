"""Each Numba kernel of the crossbar gives the same numbers as its NumPy twin; the noise source is a unit Gaussian."""

import numpy as np
import pytest
from edgeq.simulators.kernels import (
    dac_encode_nb,
    dac_encode_np,
    gaussian_np,
    tile_accumulate_nb,
    tile_accumulate_np,
)


@pytest.mark.parametrize("k,fixed", [(0, 0.0), (127, 0.0), (7, 0.0), (127, 0.5), (2**23 - 1, 0.0), (2**21 - 1, 0.5)])
@pytest.mark.parametrize("rows,cols", [(37, 50), (1500, 50), (40, 2307)])  # serial, parallel, many lanes
def test_dac_encode_twins_agree(k, fixed, rows, cols):
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    x[3] = 0.0  # an all-zero row keeps scale 1
    xn, s, ss = np.empty_like(x), np.empty(rows, np.float32), np.empty(rows)
    dac_encode_nb(x, k, fixed, xn, s, ss)
    xn_ref, s_ref, ss_ref = dac_encode_np(x, k, fixed)
    assert np.array_equal(xn, xn_ref) and np.array_equal(s, s_ref)
    np.testing.assert_allclose(ss, ss_ref, rtol=1e-12)  # summed in another order: the last bits may differ
    assert np.abs(xn).max() <= 1.0 and s[3] == (fixed or 1.0)


def test_dac_encode_of_a_column_block_equals_encoding_the_copied_block():
    x = np.random.default_rng(2).standard_normal((300, 700)).astype(np.float32)
    xn, s, ss = np.empty((300, 211), np.float32), np.empty(300, np.float32), np.empty(300)
    dac_encode_nb(x, 127, 0.0, xn, s, ss, columns=(256, 467))
    xn_ref, s_ref, ss_ref = dac_encode_np(x[:, 256:467].copy(), 127, 0.0)
    assert np.array_equal(xn, xn_ref) and np.array_equal(s, s_ref)
    np.testing.assert_allclose(ss, ss_ref, rtol=1e-12)


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("lsb,bound", [(0.0, np.inf), (0.05, 1.5)])
@pytest.mark.parametrize("rows,cols", [(41, 29), (300, 260)])  # the serial and the parallel build
def test_tile_accumulate_twins_agree(mode, lsb, bound, rows, cols):
    rng = np.random.default_rng(1)
    acc = rng.standard_normal((rows, cols)).astype(np.float32)
    var_full = rng.uniform(0, 0.1, (rows, cols)).astype(np.float32)
    var_row = rng.uniform(0, 0.1, rows)
    xs, cs = rng.uniform(0.5, 2, rows).astype(np.float32), rng.uniform(0.5, 2, cols).astype(np.float32)
    out_nb = rng.standard_normal((rows, cols)).astype(np.float32)
    out_np = out_nb.copy()
    key = np.uint64(0xDEADBEEFCAFEF00D)
    # per-column ADC ranges: the given one on even columns, a calibrated (narrower) one on odd columns
    lsb_c, bound_c = np.full(cols, float(lsb)), np.full(cols, float(bound))
    lsb_c[1::2], bound_c[1::2] = lsb_c[1::2] / 3, bound_c[1::2] / 3
    tile_accumulate_nb(acc, var_full, var_row, mode, key, 1000, lsb_c, bound_c, xs, cs, out_nb)
    tile_accumulate_np(acc, var_full, var_row, mode, key, 1000, lsb_c, bound_c, xs, cs, out_np)
    assert np.array_equal(out_nb, out_np)


def test_counter_gaussian_is_unit_normal_and_batch_independent():
    z = gaussian_np(12345, 0, 1000, 1000).ravel()
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    # tail mass and a Kolmogorov-Smirnov distance against the normal CDF
    from scipy import stats

    assert abs(np.mean(np.abs(z) > 2) - 2 * stats.norm.sf(2)) < 0.002
    assert stats.kstest(z[:200_000], "norm").statistic < 0.005
    # rows are addressed by absolute sample index: a slice of the batch draws the same numbers
    assert np.array_equal(gaussian_np(7, 10, 5, 8), gaussian_np(7, 0, 15, 8)[10:])
    assert not np.allclose(gaussian_np(7, 0, 4, 8), gaussian_np(8, 0, 4, 8))


def im2col(x: np.ndarray, kernel, pads, strides, dil) -> tuple[np.ndarray, int, int]:
    """Return (N*Ho*Wo, C*kh*kw) patches of x (N, C, H, W) in Conv weight order, and Ho, Wo: the unrolled matrix
    the simulator no longer writes, kept here as the reference its gathered patches are checked against."""
    n, c, h, w = x.shape
    kh, kw = kernel
    if kh == kw == 1 and not any(pads) and strides[0] == strides[1] == 1:  # pointwise: a transpose, no copies
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1), dtype=np.float32).reshape(n * h * w, c), h, w
    xp = x if not any(pads) else np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    ho = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    wo = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    cols = np.empty((n, ho, wo, c, kh, kw), dtype=np.float32)
    for i in range(kh):  # one strided copy per kernel position, never per element
        for j in range(kw):
            patch = xp[:, :, i * dil[0] : i * dil[0] + strides[0] * (ho - 1) + 1 : strides[0],
                       j * dil[1] : j * dil[1] + strides[1] * (wo - 1) + 1 : strides[1]]
            cols[:, :, :, :, i, j] = patch.transpose(0, 2, 3, 1)
    return cols.reshape(n * ho * wo, c * kh * kw), ho, wo


@pytest.mark.parametrize("geometry", [((3, 3), [1, 1, 1, 1], [1, 1], [1, 1]), ((3, 3), [0, 1, 2, 0], [2, 2], [1, 1]),
                                      ((1, 1), [0, 0, 0, 0], [1, 1], [1, 1]), ((3, 2), [2, 1, 2, 1], [1, 2], [2, 1])])
def test_conv_patches_encode_the_im2col_rows(geometry):
    """Patches gathered from the padded input encode to exactly what im2col + the DAC kernel give, per row tile."""
    from edgeq.simulators.patches import conv_patches

    kernel, pads, strides, dil = geometry
    x = np.random.default_rng(3).standard_normal((2, 5, 9, 11)).astype(np.float32)
    cols, ho, wo = im2col(x, kernel, pads, strides, dil)
    patches, ho2, wo2 = conv_patches(x, kernel, pads, strides, dil)
    assert (ho, wo) == (ho2, wo2) and patches.shape == cols.shape
    assert np.array_equal(patches.dense(), cols)
    lo, hi = cols.shape[1] // 3, cols.shape[1] - 1  # a row tile that starts and ends inside a kernel window
    xn, s, ss = np.empty((cols.shape[0], hi - lo), np.float32), np.empty(cols.shape[0], np.float32), np.empty(len(cols))
    patches.encode(lo, hi, 127, 0.0, xn, s, ss, True)
    xn_ref, s_ref, ss_ref = dac_encode_np(cols[:, lo:hi], 127, 0.0)
    assert np.array_equal(xn, xn_ref) and np.array_equal(s, s_ref)
    np.testing.assert_allclose(ss, ss_ref, rtol=1e-12)
