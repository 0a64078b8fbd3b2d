"""A long track's verdict from a few well-spread segments (inference/track_audio.py reads
them).

A library's songs are minutes long, and the full analysis decodes every second and runs the
model on every 3 s segment: 80 segments for a 4-minute song. A genre does not change every
three seconds, so the verdict is read from a fixed number of segments spread over the track,
and only those spans are decoded. Tracks too short to gain, and files whose length is unknown
before decoding, get the full analysis.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import numpy as np
import torch

from mgr_desktop.inference.track_audio import SampledAudio, read_sampled

if TYPE_CHECKING:
    from mgr_desktop.inference.engine import Engine, TrackResult


def classify_sampled(
    engine: Engine, path: str | os.PathLike[str], count: int
) -> TrackResult | None:
    """The verdict from `count` segments, or None when the full analysis should run (a short
    track, or a length the header does not state). Raises AudioDecodeError."""
    audio = read_sampled(path, engine.cfg, count)
    return None if audio is None else sampled_verdict(engine, str(path), audio)


def sampled_verdict(engine: Engine, path: str, audio: SampledAudio) -> TrackResult:
    """The verdict from a track's sampled segments: each one's features as the full analysis
    computes them at those frames, one model call for them all."""
    cfg = engine.cfg
    windows, levels = [], []
    for wave in audio.waves:
        cols = engine.feature_columns(wave)[:, : cfg.segment_frames]
        windows.append(torch.from_numpy(np.ascontiguousarray(cols)))
        core = wave[cfg.n_fft // 2 : cfg.n_fft // 2 + cfg.segment_samples]
        power = float(np.mean(np.square(core, dtype=np.float64)))
        levels.append(10.0 * np.log10(max(power, 1e-20)))
    logp, tags, embs = engine.segment_outputs(torch.stack(windows))
    result = engine._verdict(path, audio.seconds, logp, tags, embs, audio.starts,
                             np.array(levels), audio.note)  # fmt: skip
    return dataclasses.replace(result, sampled=True)
