"""The one streaming frame-cutter: any block sizes give the frames of a centred STFT."""

from __future__ import annotations

import numpy as np
import pytest

from mgr_desktop.dsp.frames import CentredFrames


def frames_of(spans: list[np.ndarray | None], n_fft: int, hop: int) -> list[np.ndarray]:
    """Every frame (n_fft samples) in the spans, in order."""
    out = []
    for span in spans:
        if span is not None:
            out += [span[i : i + n_fft] for i in range(0, len(span) - n_fft + 1, hop)]
    return out


@pytest.mark.parametrize("blocks", [[1000], [1, 999], [300, 300, 400], [7] * 142 + [6]])
def test_any_blocks_give_the_centred_frames_of_the_whole_signal(blocks: list[int]) -> None:
    n_fft, hop = 64, 16
    x = np.random.default_rng(0).standard_normal(sum(blocks)).astype(np.float32)
    padded = np.pad(x, n_fft // 2)  # centred framing, as torch.stft(center=True) with zeros
    want = [padded[t * hop : t * hop + n_fft] for t in range(1 + len(x) // hop)]
    cutter = CentredFrames(n_fft, hop)
    spans, at = [], 0
    for b in blocks:
        spans.append(cutter.push(x[at : at + b]))
        at += b
    spans.append(cutter.finish())
    got = frames_of(spans, n_fft, hop)
    assert len(got) == len(want) == cutter.frames
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_too_few_samples_give_no_frame_until_the_end() -> None:
    cutter = CentredFrames(64, 16)
    assert cutter.push(np.ones(10, np.float32)) is None
    end = cutter.finish()
    assert end is not None and len(end) == 64 and cutter.frames == 1
