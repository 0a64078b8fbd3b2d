"""Labelled synthetic "genres" in GTZAN layout, for tests, benchmarks and the self-test.

Classes differ in rhythm (tempo and beat pattern), timbre (harmonic profile, noise colour)
and pitch (key), each randomised per track, so a model has to learn the class, not the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def synth_track(
    label_index: int, n_classes: int, seconds: float, rng: np.random.Generator, sr: int = 22050
) -> np.ndarray:
    k = label_index / max(1, n_classes - 1)
    t = np.arange(int(seconds * sr)) / sr
    # pitch: each class its own key region, +-1 semitone per track
    base = 82.4 * 2 ** ((label_index * 7 % 24 + rng.uniform(-1, 1)) / 12)
    # timbre: bright classes keep many harmonics, dark ones few; odd-only for every third class
    n_harm = 1 + (label_index * 3) % 8
    harmonics = np.arange(1, n_harm + 1)
    if label_index % 3 == 0:
        harmonics = harmonics * 2 - 1
    weights = harmonics ** -(0.6 + 1.5 * k)
    # melody: a short random motif from the class's scale, one note per beat
    tempo = 70 + 90 * k + rng.uniform(-4, 4)
    beat = 60.0 / tempo
    scale = np.array([0, 2, 4, 5, 7, 9, 11]) if label_index % 2 else np.array([0, 3, 5, 7, 10])
    motif = rng.choice(scale, size=4)
    note_idx = (t / beat).astype(int)
    freq = base * 2 ** (motif[note_idx % 4] / 12)
    # one cycle of the timbre as a wavetable, read at the melody's phase: one lookup per
    # sample instead of one sin() per harmonic
    cycle = np.linspace(0, 2 * np.pi, 2048, endpoint=False)
    table = sum(
        (
            w * np.sin(h * cycle + rng.uniform(0, 2 * np.pi))
            for h, w in zip(harmonics, weights, strict=True)
        ),
        np.zeros_like(cycle),  # an array even for no harmonics (there is always one)
    )
    phase = np.cumsum(freq) / sr
    tone = table[((phase % 1.0) * 2048).astype(np.int64)]
    env = np.exp(-((t % beat) / (beat * (0.15 + 0.6 * (1 - k)))))
    # percussion: noise bursts on a class-specific pattern of sixteenths, filtered by class
    step = beat / 4
    pattern = np.array([(label_index >> b) & 1 or b == 0 for b in range(4)], dtype=float)
    hit = pattern[(t / step).astype(int) % 4] * np.exp(-(t % step) / (0.01 + 0.03 * k))
    noise = rng.standard_normal(len(t))
    if label_index % 2:  # brighter noise: first difference emphasises highs
        noise = np.diff(noise, prepend=0.0)
    x = 0.5 * tone * env / np.abs(weights).sum() + 0.3 * hit * noise
    x += 0.01 * rng.standard_normal(len(t))
    return (x / (np.abs(x).max() + 1e-9) * rng.uniform(0.3, 0.8)).astype(np.float32)


def make_corpus(
    root: str | Path,
    n_classes: int = 10,
    tracks_per_class: int = 20,
    seconds: float = 15.0,
    seed: int = 0,
    sr: int = 22050,
    names: list[str] | None = None,
) -> Path:
    """Write `root/genres_original/<label>/<label>.000NN.wav` (16-bit, like GTZAN)."""
    from mgr_desktop.config import GTZAN_GENRES

    labels = names or (list(GTZAN_GENRES) if n_classes <= 10 else [])
    labels = labels[:n_classes] or [f"class{i:02d}" for i in range(n_classes)]
    out = Path(root) / "genres_original"
    rng = np.random.default_rng(seed)
    for i, label in enumerate(labels):
        (out / label).mkdir(parents=True, exist_ok=True)
        for j in range(tracks_per_class):
            path = out / label / f"{label}.{j:05d}.wav"
            sf.write(path, synth_track(i, len(labels), seconds, rng, sr), sr, subtype="PCM_16")
    return Path(root)
