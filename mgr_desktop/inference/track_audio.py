"""The audio a file's verdict is computed from, read without torch: a long track's spread
segments (decoded by seeking) or a short track's whole audio. Apart from the model so that
it can run in a decoding process forked before torch is imported (inference/decode_pool.py);
the engine runs the same functions in its own threads where there is no such process.

A long track's verdict comes from `count` segments spread evenly over it (the middle of each
of `count` equal parts, which skips intros and fade-outs at the edges), and only those spans
are decoded. Each span starts half an FFT before its first frame, so a sampled segment's
features equal the full analysis's at the same place, up to the decoder's seek.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mgr_desktop.audio.decode import MIN_SECONDS, AudioDecodeError, open_audio
from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.frames import read_frames

# A long file's verdict from this many segments spread over it: the same verdict as every
# segment's on 34 of 34 real songs (benchmarks/RESULTS.md).
SAMPLE_SEGMENTS = 20
BLOCK_SECONDS = 10.0  # decoded audio in flight per file
# Sampling pays off only when it skips enough of a track: below this many segments' worth of
# audio per sampled segment, the full analysis runs (a 30 s preview is 10 segments). 1.5
# (20 of 30 segments or more: files over 90 s) kept 34 of 34 real songs' verdicts, as 2.0 did,
# with 14 % fewer segments read (benchmarks/RESULTS.md).
MIN_GAIN = 1.5
TAIL_SECONDS = 5.0  # decoded to the end, for the true length and any truncation
# A whole track is handed over in memory up to this long (at 16 kHz, 19 MB); a longer one, or
# one whose header lies about its length, is streamed by the engine instead.
WHOLE_LIMIT_SECONDS = 300.0


@dataclass(frozen=True)
class SampledAudio:
    """A long track's true length, its decoder's note, and its segments' first frames with the
    samples each one's frames are computed from."""

    seconds: float
    note: str
    starts: list[int]
    waves: list[np.ndarray]


@dataclass(frozen=True)
class WholeAudio:
    """A short track's samples, in the blocks it was decoded in, and its decoder's note."""

    blocks: list[np.ndarray]
    note: str


@dataclass(frozen=True)
class Unreadable:
    """Why a file cannot be decoded (an AudioDecodeError's reason, as a value that crosses
    from a decoding process)."""

    reason: str


TrackAudio = SampledAudio | WholeAudio | Unreadable


def sampled_starts(total_frames: int, width: int, count: int) -> list[int]:
    """First frames of `count` segments of `width` frames, each in the middle of one of
    `count` equal parts of the track."""
    room = max(0, total_frames - width)
    return sorted({round(room * (i + 0.5) / count) for i in range(count)})


def read_sampled(
    path: str | os.PathLike[str], cfg: FeatureConfig, count: int
) -> SampledAudio | None:
    """`count` spread segments' samples, or None when the full analysis should run (a short
    track, or a length the header does not state or overstates). Raises AudioDecodeError."""
    waves = []
    # One open file: its header's length, then a seek per segment.
    with open_audio(path, cfg.sample_rate, min_seconds=MIN_SECONDS) as audio:
        seconds = audio.estimated_duration
        if count <= 0 or not seconds or seconds < MIN_GAIN * count * cfg.segment_seconds:
            return None
        tail = _tail(path, cfg.sample_rate, seconds)
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
            waves.append(wave)
    return SampledAudio(seconds, note, starts, waves)


def _tail(path: str | os.PathLike[str], rate: int, seconds: float) -> tuple[float, str] | None:
    """The track's last seconds decoded to the end, as the full analysis would: its true
    length and the decoder's note (an mp3 whose last frame is cut off says so). None when it
    ends well before the header said."""
    start = max(0.0, seconds - TAIL_SECONDS)
    with open_audio(path, rate, start_seconds=start) as audio:
        decoded = sum(len(b) for b in audio.blocks(TAIL_SECONDS)) / rate
        note, begun = audio.note, audio.start_seconds
    end = begun + decoded
    return (end, note) if end >= seconds - 1.0 else None


def read_whole(
    path: str | os.PathLike[str], cfg: FeatureConfig, block_seconds: float,
    limit_seconds: float = WHOLE_LIMIT_SECONDS,
) -> WholeAudio | None:  # fmt: skip
    """The whole track in `block_seconds` blocks, or None when it is (or turns out) longer
    than `limit_seconds`. Raises AudioDecodeError."""
    limit = limit_seconds * cfg.sample_rate
    with open_audio(path, cfg.sample_rate, min_seconds=MIN_SECONDS) as audio:
        if (audio.estimated_duration or 0.0) > limit_seconds:
            return None
        blocks, have = [], 0
        for block in audio.blocks(block_seconds):
            blocks.append(block)
            have += len(block)
            if have > limit:
                return None
        return WholeAudio(blocks, audio.note)


def read_track(
    path: str | os.PathLike[str], cfg: FeatureConfig, count: int, block_seconds: float
) -> TrackAudio | None:
    """What the engine classifies a file from: its sampled segments where sampling applies,
    else its whole audio; None where it must be streamed (too long to hold)."""
    try:
        sampled = read_sampled(path, cfg, count)
        return sampled if sampled is not None else read_whole(path, cfg, block_seconds)
    except AudioDecodeError as e:
        return Unreadable(e.reason)
