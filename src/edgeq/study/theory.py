"""Expected quantization SQNR of a number format for a known input distribution, exactly and by sampling.

The exact figure integrates the density over every rounding cell of the format's grid (Gauss-Legendre per cell,
split at the density's kinks, plus scipy quadrature for the saturating tails), so it carries no sampling noise.
A free scale absorbs the exponent bias of a minifloat (scaling by 2^k is a bias change of -k), so "best clipping
range / exponent bias" is one search over the scale; the equivalent integer bias is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from ..formats import decode_table, fake_quant, get_format
from ..formats.spec import FloatFormat, IntFormat

THEORY_FORMATS: tuple[str, ...] = ("int8", "fp8_e2m5", "fp8_e3m4", "fp8_e4m3", "fp8_e5m2")
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)


@dataclass(frozen=True)
class Distribution:
    """A zero-mean symmetric input distribution: a scipy frozen law, its support and the points where it kinks."""

    name: str
    law: object
    support: float
    kinks: tuple[float, ...] = (0.0,)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Return the density at x."""
        return self.law.pdf(x)

    def variance(self) -> float:
        """Return E[x^2] (the signal power)."""
        return float(self.law.var())

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Return n float32 draws."""
        return self.law.rvs(size=n, random_state=rng).astype(np.float32)


def distributions() -> dict[str, Distribution]:
    """Return the study's four input laws (uniform, Gaussian, Laplace, Student-t with 3 degrees of freedom)."""
    root3 = float(np.sqrt(3.0))
    return {
        "uniform": Distribution("uniform", stats.uniform(-root3, 2 * root3), root3, (-root3, root3)),
        "gaussian": Distribution("gaussian", stats.norm(), np.inf),
        "laplace": Distribution("laplace", stats.laplace(), np.inf),
        "student_t3": Distribution("student_t3", stats.t(3), np.inf),
    }


def format_grid(fmt_name: str) -> np.ndarray:
    """Return the sorted finite values of a format at scale 1 (float64, -0 merged with +0)."""
    fmt = get_format(fmt_name)
    if not isinstance(fmt, (IntFormat, FloatFormat)):
        raise ValueError(f"{fmt.name}: the theory covers scalar int and minifloat formats")
    values = decode_table(fmt).astype(np.float64)
    return np.unique(values[np.isfinite(values)])


def format_top(fmt_name: str) -> float:
    """Return the value a symmetric scale maps the clipping range onto (qmax for ints, max for minifloats)."""
    fmt = get_format(fmt_name)
    return float(fmt.qmax if isinstance(fmt, IntFormat) else fmt.max)


def exact_mse(dist: Distribution, grid: np.ndarray, scale: float) -> float:
    """Return E[(x - Q(x))^2] for round-to-nearest onto grid * scale with saturation, by quadrature per cell."""
    points = grid * scale
    edges = 0.5 * (points[1:] + points[:-1])
    # Bounded pieces: every rounding edge and kink inside [outer edges], each piece smooth (Gauss-Legendre exact).
    inner = edges[(edges > -dist.support) & (edges < dist.support)]
    kinks = np.array([k for k in dist.kinks if edges[0] < k < edges[-1]])
    cuts = np.unique(np.concatenate((inner, kinks, np.clip(edges[[0, -1]], -dist.support, dist.support))))
    a, b = cuts[:-1], cuts[1:]
    g = points[np.searchsorted(edges, 0.5 * (a + b))]
    half = 0.5 * (b - a)
    x = (a + b)[:, None] * 0.5 + half[:, None] * _NODES[None, :]
    total = float(np.sum(half * (((x - g[:, None]) ** 2 * dist.pdf(x)) @ _WEIGHTS)))
    # The two saturating end cells (x beyond the outer rounding edges): symmetric laws, so one side twice over
    # when the grid is symmetric, else each side on its own.
    for edge, top in ((edges[-1], points[-1]), (-edges[0], -points[0])):
        total += _tail_mse(dist, edge, top)
    return total


def _gauss_legendre(f, lo: float, hi: float, pieces: int) -> float:
    """Return the integral of a smooth vectorised f over [lo, hi] with `pieces` 24-point Gauss-Legendre panels."""
    cuts = np.linspace(lo, hi, pieces + 1)
    half = 0.5 * (cuts[1:] - cuts[:-1])
    x = 0.5 * (cuts[1:] + cuts[:-1])[:, None] + half[:, None] * _NODES[None, :]
    return float(np.sum(half * (f(x) @ _WEIGHTS)))


def _tail_mse(dist: Distribution, edge: float, top: float) -> float:
    """Return the integral of (x - top)^2 p(x) over x > edge (x mapped to top), finite part plus a 1/x tail."""
    if edge >= dist.support:
        return 0.0
    far = max(4.0 * abs(top), edge + 8.0)
    near = _gauss_legendre(lambda t: (t - top) ** 2 * dist.pdf(t), edge, min(far, dist.support), 64)
    if not np.isinf(dist.support):
        return near
    # x = 1/u turns the slowly decaying heavy tail (integrand ~ x^-2 for Student-t(3)) into a smooth bounded one.
    def beyond(u: np.ndarray) -> np.ndarray:
        x = 1.0 / u
        return (x - top) ** 2 * dist.pdf(x) * x * x

    return near + _gauss_legendre(beyond, 0.0, 1.0 / far, 32)


def exact_sqnr_db(dist: Distribution, fmt_name: str, clip: float) -> float:
    """Return the exact SQNR in dB of `fmt_name` with its largest value mapped to `clip`."""
    grid = format_grid(fmt_name)
    return 10.0 * np.log10(dist.variance() / exact_mse(dist, grid, clip / format_top(fmt_name)))


@dataclass(frozen=True)
class TheoryRow:
    """One (distribution, format) cell of the theory table."""

    distribution: str
    fmt: str
    best_clip: float
    equivalent_bias: float
    exact_db: float
    sampled_clip: float
    sampled_db: float


def best_clip(dist: Distribution, fmt_name: str, coarse_points: int = 301) -> tuple[float, float]:
    """Return (clip, SQNR dB) maximising the exact SQNR: a fine log-spaced scan, then a bounded refinement.

    A minifloat's SQNR is periodic-ish in log2(clip) with sharp peaks (data edges meeting binade edges), so the
    scan is fine (70 points per decade) before the local refinement.
    """
    std = np.sqrt(dist.variance())
    clips = std * np.logspace(-0.3, 5.0, coarse_points)
    values = np.array([exact_sqnr_db(dist, fmt_name, c) for c in clips])
    i = int(np.argmax(values))
    lo, hi = np.log(clips[max(i - 1, 0)]), np.log(clips[min(i + 1, len(clips) - 1)])
    res = optimize.minimize_scalar(
        lambda t: -exact_sqnr_db(dist, fmt_name, float(np.exp(t))), bounds=(lo, hi), method="bounded",
        options={"xatol": 1e-5},
    )
    if -res.fun >= values[i]:
        return float(np.exp(res.x)), float(-res.fun)
    return float(clips[i]), float(values[i])


def sampled_sqnr_db(samples: np.ndarray, fmt_name: str, clip: float) -> float:
    """Return the SQNR in dB of edgeq's fake_quant on the samples with the format's top value at `clip`."""
    scale = np.float32(clip / format_top(fmt_name))
    q = fake_quant(samples, fmt_name, scale=scale).astype(np.float64)
    s = samples.astype(np.float64)
    return float(10.0 * np.log10(np.sum(s * s) / np.sum((s - q) ** 2)))


def sampled_best_sqnr_db(samples: np.ndarray, fmt_name: str, scan_points: int = 81) -> tuple[float, float]:
    """Return (clip, SQNR dB) of the best clip found on the samples alone: a log scan, then a finer local scan."""
    std = float(np.std(samples.astype(np.float64)))
    clips = std * np.logspace(-0.3, 5.0, scan_points)
    values = [sampled_sqnr_db(samples, fmt_name, c) for c in clips]
    i = int(np.argmax(values))
    local = clips[i] * np.logspace(-0.07, 0.07, 29)
    local_values = [sampled_sqnr_db(samples, fmt_name, c) for c in local]
    j = int(np.argmax(local_values))
    if local_values[j] > values[i]:
        return float(local[j]), float(local_values[j])
    return float(clips[i]), float(values[i])


def equivalent_bias(fmt_name: str, clip: float) -> float:
    """Return the exponent bias that puts the format's max at `clip` with scale 1 (ints: nan)."""
    fmt = get_format(fmt_name)
    if not isinstance(fmt, FloatFormat):
        return float("nan")
    return fmt.effective_bias - float(np.log2(clip / fmt.max))


def theory_table(
    n_samples: int, seed: int, seeds: int = 1, formats: tuple[str, ...] = THEORY_FORMATS, progress=None
) -> list[TheoryRow]:
    """Return exact and sampled best-clip SQNR for every distribution and format.

    The sampled figure is the median over `seeds` independent draws of n_samples (each searched for its own best
    clip), so one extreme Student-t draw cannot decide it.
    """
    rows = []
    for d_index, dist in enumerate(distributions().values()):
        draws = [dist.sample(n_samples, np.random.default_rng([seed, d_index, k])) for k in range(seeds)]
        for fmt_name in formats:
            clip, exact = best_clip(dist, fmt_name)
            found = [sampled_best_sqnr_db(x, fmt_name) for x in draws]
            median = int(np.argsort([v for _, v in found])[len(found) // 2])
            rows.append(TheoryRow(dist.name, fmt_name, clip, equivalent_bias(fmt_name, clip), exact, *found[median]))
            if progress is not None:
                progress()
    return rows


def sampled_convergence(
    dist: Distribution, fmt_name: str, sizes: tuple[int, ...], seeds: int, seed: int
) -> list[tuple[int, float]]:
    """Return (n, median over `seeds` draws of the sample-searched SQNR) for each sample size n."""
    out = []
    for n in sizes:
        draws = (dist.sample(n, np.random.default_rng([seed, n, k])) for k in range(seeds))
        runs = [sampled_best_sqnr_db(x, fmt_name, 41)[1] for x in draws]
        out.append((n, float(np.median(runs))))
    return out
