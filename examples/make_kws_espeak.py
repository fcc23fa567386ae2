"""Regenerate examples/kws_espeak.npz: spoken keywords synthesised with espeak-ng, as MFCC-like features.

12 classes as in Google Speech Commands' 12-class task: 10 keywords, "unknown" (other words) and "silence" (noise
only). Every utterance uses one espeak-ng voice (an English accent + a voice variant) with a random speed, pitch,
time shift and additive noise (5-30 dB SNR). Train and test use disjoint voices, so the test measures
generalisation to unseen speakers. Features: 1 s at 16 kHz, 25 frames (32 ms window, 40 ms hop), 32 mel bands,
log, DCT -> 12 coefficients, standardised with the training statistics and stored as int8 with one scale per
coefficient (so the file stays well under 1 MB).

Needs espeak-ng (`apt-get install -y espeak-ng`); the tests and experiments only need the .npz.

    python examples/make_kws_espeak.py [--out examples/kws_espeak.npz] [--per-class 200]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
from scipy.fft import dct
from scipy.signal import resample_poly
from tqdm import tqdm

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
UNKNOWN_WORDS = [
    "bed", "bird", "cat", "dog", "happy", "house", "tree", "wow", "marvin", "sheila", "seven", "zero", "learn",
    "follow", "forward", "backward", "visual", "nine", "eight", "three",
]
CLASSES = KEYWORDS + ["unknown", "silence"]
ACCENTS = ["en-us", "en-gb", "en-029", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"]
N_TEST_VOICES = 20
SR = 16000
N_FFT, HOP, N_MELS, N_MFCC = 512, 640, 32, 12
N_FRAMES = 1 + (SR - N_FFT) // HOP


def synthesise(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """Return espeak-ng's utterance of word at 16 kHz, float64 in [-1, 1]."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
        check=True, capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as fh:
        rate = fh.getframerate()
        pcm = np.frombuffer(fh.readframes(fh.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    if rate != 22050:
        raise RuntimeError(f"espeak-ng produced {rate} Hz audio; this script expects 22050 Hz")
    return resample_poly(pcm, 320, 441)


def mel_filterbank() -> np.ndarray:
    """Return a [N_MELS, N_FFT // 2 + 1] triangular mel filterbank from 20 Hz to 7.6 kHz."""
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    mels = np.linspace(hz_to_mel(np.array(20.0)), hz_to_mel(np.array(7600.0)), N_MELS + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    fb = np.zeros((N_MELS, bins.size))
    for m in range(N_MELS):
        lo, mid, hi = hz[m], hz[m + 1], hz[m + 2]
        fb[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)
    return fb


def mfcc(audio: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """Return [N_FRAMES, N_MFCC] MFCC-like features of one second of audio."""
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(N_FRAMES)[:, None]
    frames = audio[idx] * np.hanning(N_FFT)[None, :]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return dct(np.log(power @ fb.T + 1e-8), type=2, norm="ortho", axis=1)[:, :N_MFCC]


def place(utterance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return one second with the utterance at a random offset (cropped if longer), peak-normalised."""
    out = np.zeros(SR)
    u = utterance[:SR]
    start = int(rng.integers(0, SR - u.size + 1))
    out[start : start + u.size] = u
    return out / max(np.max(np.abs(out)), 1e-9) * rng.uniform(0.3, 1.0)


def noise(rng: np.random.Generator) -> np.ndarray:
    """Return one second of white or pink-ish noise with unit RMS."""
    n = rng.standard_normal(SR)
    if rng.random() < 0.5:
        n = np.cumsum(n)
        n -= np.convolve(n, np.ones(64) / 64, mode="same")  # remove the random-walk drift: a pinkish noise
    return n / np.sqrt(np.mean(n**2))


def make_sample(label: str, voice: str, rng: np.random.Generator, fb: np.ndarray) -> np.ndarray:
    """Return the features of one augmented sample of a class spoken by a voice."""
    if label == "silence":
        audio = noise(rng) * 10 ** rng.uniform(-3.0, -1.0)
    else:
        word = UNKNOWN_WORDS[int(rng.integers(len(UNKNOWN_WORDS)))] if label == "unknown" else label
        speech = place(synthesise(word, voice, int(rng.integers(120, 201)), int(rng.integers(25, 76))), rng)
        snr_db = rng.uniform(5.0, 30.0)
        rms = np.sqrt(np.mean(speech**2))
        audio = speech + noise(rng) * rms * 10 ** (-snr_db / 20.0)
    return mfcc(audio, fb)


def main() -> None:
    """Synthesise, featurise and save the dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("kws_espeak.npz")))
    parser.add_argument("--per-class", type=int, default=200, help="samples per class (train 3/4, test 1/4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: apt-get install -y espeak-ng")
    rng = np.random.default_rng(args.seed)
    voices = [f"{a}+{v}" for a in ACCENTS for v in VARIANTS]
    order = rng.permutation(len(voices))
    test_voices = sorted(voices[i] for i in order[:N_TEST_VOICES])
    train_voices = sorted(voices[i] for i in order[N_TEST_VOICES:])
    fb = mel_filterbank()
    n_test = args.per_class // 4
    feats = {"train": [], "test": []}
    labels = {"train": [], "test": []}
    jobs = [(c, split) for c in range(len(CLASSES)) for split in ["test"] * n_test + ["train"] * (args.per_class - n_test)]
    for c, split in tqdm(jobs, desc="synthesising"):
        pool = test_voices if split == "test" else train_voices
        voice = pool[int(rng.integers(len(pool)))]
        feats[split].append(make_sample(CLASSES[c], voice, rng, fb))
        labels[split].append(c)
    x_train, x_test = np.stack(feats["train"]), np.stack(feats["test"])
    mean = x_train.mean(axis=(0, 1))
    std = x_train.std(axis=(0, 1))
    scale = (4.0 * std / 127.0).astype(np.float32)  # int8 covers +-4 sigma per coefficient

    def encode(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round((x - mean) / scale), -127, 127).astype(np.int8)

    np.savez_compressed(
        args.out,
        x_train=encode(x_train), y_train=np.asarray(labels["train"], np.int64),
        x_test=encode(x_test), y_test=np.asarray(labels["test"], np.int64),
        scale=scale, classes=np.asarray(CLASSES), train_voices=np.asarray(train_voices),
        test_voices=np.asarray(test_voices),
    )
    print(f"wrote {args.out}: train {x_train.shape}, test {x_test.shape}, {Path(args.out).stat().st_size} bytes")


if __name__ == "__main__":
    main()
