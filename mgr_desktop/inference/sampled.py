"""A long track's verdict from a few well-spread segments, decoded by seeking.

A library's songs are minutes long, and the full analysis decodes every second and runs the
model on every 3 s segment: for the shipped network that is ~15 ms a segment, 80 segments for
a 4-minute song. A genre does not change every three seconds, so the verdict is read from
`count` segments spread evenly over the track (the middle of each of `count` equal parts,
which skips intros and fade-outs at the edges), and only those spans are decoded. The
segments' columns are computed exactly as the full analysis computes them at those frames (the
span starts half an FFT before the first frame), so a sampled segment equals the full
analysis's segment at the same place, up to the decoder's seek. Tracks too short to gain, and
files whose length is unknown before decoding, get the full analysis.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import numpy as np
import torch

from mgr_desktop.audio.decode import MIN_SECONDS, open_audio
from mgr_desktop.dsp.frames import read_frames

if TYPE_CHECKING:
    from mgr_desktop.inference.engine import Engine, TrackResult

# Sampling pays off only when it skips enough of a track: below this many segments' worth of
# audio per sampled segment, the full analysis runs (a 30 s preview is 10 segments). 1.5
# (20 of 30 segments or more: files over 90 s) kept 34 of 34 real songs' verdicts, as 2.0 did,
# with 14 % fewer segments read (benchmarks/RESULTS.md).
MIN_GAIN = 1.5
TAIL_SECONDS = 5.0  # decoded to the end, for the true length and any truncation


def sampled_starts(total_frames: int, width: int, count: int) -> list[int]:
    """First frames of `count` segments of `width` frames, each in the middle of one of
    `count` equal parts of the track."""
    room = max(0, total_frames - width)
    return sorted({round(room * (i + 0.5) / count) for i in range(count)})


def classify_sampled(
    engine: Engine, path: str | os.PathLike[str], count: int
) -> TrackResult | None:
    """The verdict from `count` segments, or None when the full analysis should run (a short
    track, or a length the header does not state). Raises AudioDecodeError."""
    cfg = engine.cfg
    windows, levels = [], []
    # One open file: its header's length, then a seek per segment.
    with open_audio(path, cfg.sample_rate, min_seconds=MIN_SECONDS) as audio:
        seconds = audio.estimated_duration
        if not seconds or seconds < MIN_GAIN * count * cfg.segment_seconds:
            return None
        tail = _tail(path, engine, seconds)
        if tail is None:  # the header promised more than the file holds: decode it all
            return None
        seconds, note = tail
        total = int(seconds * cfg.sample_rate) // cfg.hop_length
        starts = sampled_starts(total, cfg.segment_frames, count)
        for start in starts:
            wave, missing = read_frames(audio, start, cfg.segment_frames, cfg.n_fft,
                                        cfg.hop_length)  # fmt: skip
            if missing > cfg.n_fft:  # the file ends before the span: decode it all
                return None
            cols = engine.feature_columns(wave)[:, : cfg.segment_frames]
            windows.append(torch.from_numpy(np.ascontiguousarray(cols)))
            core = wave[cfg.n_fft // 2 : cfg.n_fft // 2 + cfg.segment_samples]
            power = float(np.mean(np.square(core, dtype=np.float64)))
            levels.append(10.0 * np.log10(max(power, 1e-20)))
    logp, tags, embs = engine.segment_outputs(torch.stack(windows))
    result = engine._verdict(str(path), seconds, logp, tags, embs, starts, np.array(levels), note)
    return dataclasses.replace(result, sampled=True)


def _tail(path: str | os.PathLike[str], engine: Engine, seconds: float) -> tuple[float, str] | None:
    """The track's last seconds decoded to the end, as the full analysis would: its true
    length and the decoder's note (an mp3 whose last frame is cut off says so). None when it
    ends well before the header said."""
    rate = engine.cfg.sample_rate
    start = max(0.0, seconds - TAIL_SECONDS)
    with open_audio(path, rate, start_seconds=start) as audio:
        decoded = sum(len(b) for b in audio.blocks(TAIL_SECONDS)) / rate
        note, begun = audio.note, audio.start_seconds
    end = begun + decoded
    return (end, note) if end >= seconds - 1.0 else None
