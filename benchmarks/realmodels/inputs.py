"""Deterministic, realistic raw inputs for the corpus: textured images, rendered text, speech-like audio, token ids.

Every function takes an explicit `np.random.Generator`; the same seed gives the same bytes. No downloads: the
font is the DejaVu Sans that matplotlib ships.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.signal import lfilter

SR = 16000  # Hz; every audio model in the corpus runs at 16 kHz
ALPHABET = string.ascii_letters + string.digits


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Return DejaVu Sans at `size` px (shipped with matplotlib, so rendering needs no system fonts)."""
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Return an RGB uint8 image of 1/f ("pink") noise plus a few flat shapes: natural-image-like statistics."""
    white = rng.standard_normal((height, width, 3))
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    # Natural images have a power spectrum close to 1/f^2, i.e. amplitude 1/f.
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(height, width))
    img = np.stack([np.fft.irfft2(np.fft.rfft2(white[..., c]) * amp, s=(height, width)) for c in range(3)], -1)
    img = (img - img.mean()) / (img.std() + 1e-9)
    img = np.clip(128 + 40 * img + rng.uniform(-40, 40, 3), 0, 255).astype(np.uint8)
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(width // 10, width // 3), y0 + rng.integers(height // 10, height // 3)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=fill)
    return np.asarray(pil)


def random_text(rng: np.random.Generator, low: int, high: int, alphabet: str = ALPHABET) -> str:
    """Return a random string of `low`..`high` characters from `alphabet`."""
    return "".join(rng.choice(list(alphabet), int(rng.integers(low, high + 1))))


def text_line(rng: np.random.Generator, text: str, height: int, gray: bool = False) -> np.ndarray:
    """Return a tight crop of dark `text` on a light textured background, `height` px high (RGB or L uint8)."""
    size = int(height * 0.75)
    w = int(font(size).getlength(text)) + size
    bg = texture(rng, height, w).astype(np.float32)
    bg = 170 + 0.3 * (bg - bg.mean())  # light paper
    pil = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    ink = tuple(int(v) for v in rng.integers(0, 70, 3))
    draw.text((size // 2, int(height * 0.08)), text, font=font(size), fill=ink)
    for _ in range(int(rng.integers(0, 3))):  # captcha-style strike lines
        pts = [(int(rng.integers(0, w)), int(rng.integers(0, height))) for _ in range(2)]
        draw.line(pts, fill=ink, width=1)
    return np.asarray(pil.convert("L") if gray else pil)


def text_scene(rng: np.random.Generator, height: int, width: int, lines: int) -> tuple[np.ndarray, list]:
    """Return an RGB texture with `lines` text lines pasted at random places, and their boxes (x0, y0, x1, y1)."""
    img = Image.fromarray(texture(rng, height, width))
    boxes = []
    for _ in range(lines):
        line = Image.fromarray(text_line(rng, random_text(rng, 3, 12), int(rng.integers(18, 40))))
        if line.width >= width:
            line = line.crop((0, 0, width - 1, line.height))
        x, y = int(rng.integers(0, width - line.width)), int(rng.integers(0, height - line.height))
        img.paste(line, (x, y))
        boxes.append((x, y, x + line.width, y + line.height))
    return np.asarray(img), boxes


def fit_width(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to `height` keeping the aspect ratio, then crop or right-pad with zeros to `width` (PaddleOCR style)."""
    pil = Image.fromarray(img)
    w = min(width, max(1, round(pil.width * height / pil.height)))
    arr = np.asarray(pil.resize((w, height), Image.BILINEAR))
    out = np.zeros((height, width) + arr.shape[2:], np.uint8)
    out[:, :w] = arr
    return out


def speech(rng: np.random.Generator, seconds: float, pause: float = 0.3) -> np.ndarray:
    """Return float32 speech-like audio in [-1, 1] at 16 kHz: voiced syllables, fricatives, pauses, room noise.

    Voiced parts are a glottal pulse train (f0 90-240 Hz with vibrato, harmonics falling as 1/k) through three
    formant resonators; fricatives are high-passed noise; pauses (probability `pause`) leave only background
    noise, so voice-activity models see both classes.
    """
    n = int(seconds * SR)
    out = np.zeros(n)
    t = 0
    while t < n:
        dur = int(rng.uniform(0.08, 0.3) * SR)
        seg = np.zeros(dur)
        if rng.random() >= pause:
            if rng.random() < 0.75:
                f0 = rng.uniform(90, 240) * (1 + 0.03 * np.sin(2 * np.pi * 5 * np.arange(dur) / SR))
                phase = 2 * np.pi * np.cumsum(f0) / SR
                seg = sum(np.sin(k * phase) / k for k in range(1, 30))
                for formant in (rng.uniform(300, 850), rng.uniform(900, 2300), rng.uniform(2400, 3200)):
                    seg = _resonator(seg, formant, 80 + formant * 0.05)
            else:
                seg = np.diff(rng.standard_normal(dur + 1))  # first difference: a crude high-pass
                seg = _resonator(seg, rng.uniform(3500, 6000), 1500)
            env = np.sin(np.linspace(0, np.pi, dur)) ** 0.5
            seg = seg * env / (np.abs(seg).max() + 1e-9) * rng.uniform(0.2, 0.8)
        m = min(dur, n - t)
        out[t : t + m] = seg[:m]
        t += dur
    noise = np.cumsum(rng.standard_normal(n)) * 1e-4  # brown-ish room noise
    out = out + noise - noise.mean() + 3e-3 * rng.standard_normal(n)
    return np.clip(out, -1, 1).astype(np.float32)


def _resonator(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    """Two-pole resonator at `freq` Hz with `bandwidth` Hz: one formant of the vocal tract."""
    r = np.exp(-np.pi * bandwidth / SR)
    theta = 2 * np.pi * freq / SR
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def token_ids(rng: np.random.Generator, length: int, vocab: int = 30522) -> tuple[np.ndarray, np.ndarray]:
    """Return BERT-style (input_ids, attention_mask), int64 [1, length]: [CLS] words [SEP] then padding."""
    words = int(rng.integers(6, length - 1))
    # 1996.. are whole-word pieces in the uncased BERT vocab; word frequency is roughly Zipfian.
    body = 1996 + np.minimum(rng.zipf(1.3, words), vocab - 1997)
    ids = np.zeros(length, np.int64)
    ids[: words + 2] = [101, *body, 102]
    mask = (np.arange(length) < words + 2).astype(np.int64)
    return ids[None], mask[None]
