"""A synthetic formant-vowel data set built from Peterson & Barney's published mean formants; regenerates vowels.npz.

No package reachable here (PyPI, Debian) ships the Peterson-Barney or Deterding/Hillenbrand vowel recordings, so
this is a documented *synthetic* stand-in, not the original measurements. The class means are the mean F0, F1, F2,
F3 (Hz) of the ten American English vowels for men, women and children in G. E. Peterson and H. L. Barney,
"Control methods used in a study of the vowels", J. Acoust. Soc. Am. 24(2):175-184, 1952, Table II (numbers
are facts, not copyrightable). Around those means we draw speakers and tokens:

- each speaker belongs to a group (men / women / children, in PB's 33/28/15 proportions) and has a vocal-tract
  scale factor, log-normal with sigma 0.08, shared by all of the speaker's formants (speaker normalisation is
  what makes vowel recognition hard);
- each token multiplies every formant by its own log-normal factor (sigma 0.10 for F1, 0.08 for F2, 0.06 for F3,
  0.10 for F0). These spreads are our choice (a small MLP then scores about 88%), not fitted to PB data.

Features: log F0, log F1, log F2, log F3, standardised with the training split's mean and std (4 features,
10 classes). Run `python -m edgeq.phyff.vowels` to rewrite vowels.npz byte for byte (seed 0).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

VOWELS = ("i", "I", "E", "ae", "A", "O", "U", "u", "V", "er")  # heed hid head had hod hawed hood who'd hud heard

# Peterson & Barney (1952), Table II: mean F0, F1, F2, F3 in Hz, per vowel (rows as VOWELS), per speaker group.
PB_MEANS_HZ = {
    "men": [(136, 270, 2290, 3010), (135, 390, 1990, 2550), (130, 530, 1840, 2480), (127, 660, 1720, 2410),
            (124, 730, 1090, 2440), (129, 570, 840, 2410), (137, 440, 1020, 2240), (141, 300, 870, 2240),
            (130, 640, 1190, 2390), (133, 490, 1350, 1690)],
    "women": [(235, 310, 2790, 3310), (232, 430, 2480, 3070), (223, 610, 2330, 2990), (210, 860, 2050, 2850),
              (212, 850, 1220, 2810), (216, 590, 920, 2710), (232, 470, 1160, 2680), (231, 370, 950, 2670),
              (221, 760, 1400, 2780), (218, 500, 1640, 1960)],
    "children": [(272, 370, 3200, 3730), (269, 530, 2730, 3600), (260, 690, 2610, 3570), (251, 1010, 2320, 3320),
                 (256, 1030, 1370, 3170), (263, 680, 1060, 3180), (276, 560, 1410, 3310), (274, 430, 1170, 3260),
                 (261, 850, 1590, 3360), (261, 560, 1820, 2160)],
}
GROUP_SPEAKERS = {"men": 33, "women": 28, "children": 15}  # Peterson & Barney's 76 speakers
SPEAKER_SIGMA = 0.08
TOKEN_SIGMA = np.array([0.10, 0.10, 0.08, 0.06])  # F0, F1, F2, F3
TOKENS_PER_VOWEL = 2  # PB recorded each vowel twice per speaker
TEST_SPEAKER_FRACTION = 0.25


def synthesize(seed: int = 0) -> dict[str, np.ndarray]:
    """Return train/test splits (by speaker, so no speaker is in both) of the synthetic formant vowels."""
    rng = np.random.default_rng(seed)
    feats, labels, speakers = [], [], []
    speaker = 0
    for group, n_speakers in GROUP_SPEAKERS.items():
        means = np.log(np.asarray(PB_MEANS_HZ[group], dtype=np.float64))  # [10, 4]
        for _ in range(n_speakers):
            scale = rng.normal(0.0, SPEAKER_SIGMA)
            for _ in range(TOKENS_PER_VOWEL):
                tokens = means + scale + rng.normal(0.0, 1.0, means.shape) * TOKEN_SIGMA
                feats.append(tokens)
                labels.append(np.arange(len(VOWELS)))
                speakers.append(np.full(len(VOWELS), speaker))
            speaker += 1
    x = np.concatenate(feats)
    y = np.concatenate(labels)
    spk = np.concatenate(speakers)
    test_speakers = rng.permutation(speaker)[: int(round(speaker * TEST_SPEAKER_FRACTION))]
    test = np.isin(spk, test_speakers)
    mu, sd = x[~test].mean(0), x[~test].std(0)
    x = ((x - mu) / sd).astype(np.float32)
    return {"x_train": x[~test], "y_train": y[~test].astype(np.int64),
            "x_test": x[test], "y_test": y[test].astype(np.int64)}


def write_npz(path: Path, seed: int = 0) -> None:
    """Write the data set to `path` as an uncompressed npz with a fixed byte layout."""
    buf = io.BytesIO()
    np.savez(buf, **synthesize(seed))
    path.write_bytes(buf.getvalue())


if __name__ == "__main__":
    write_npz(Path(__file__).with_name("vowels.npz"))
