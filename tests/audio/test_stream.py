"""Streaming in blocks: the same samples as the whole-file path, resampling that does not care
where a block ends, and memory that does not grow with the file's length."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from mgr_desktop.audio.decode import (
    DEFAULT_BLOCK_SECONDS,
    AudioDecodeError,
    decode_file,
    decode_self_check,
    open_audio,
)
from tests.audio.media import music_like
from tests.helpers import tone, write

SR = 22050


def _write_av(path: Path, x: np.ndarray, sr: int, codec: str = "pcm_s16le") -> Path:
    """Write stereo float32 through PyAV (FFmpeg's libraries; no ffmpeg program needed)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout="stereo")
        fmt = stream.codec_context.format.name
        step = sr  # one second per frame
        for i in range(0, len(x), step):
            chunk = x[i : i + step]
            if fmt == "s16":
                data = (chunk * 32767).astype(np.int16).reshape(1, -1)
            else:  # planar float, as the lossy encoders want
                data = np.ascontiguousarray(chunk.T)
            frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="stereo")
            frame.sample_rate, frame.pts = sr, i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """20 s of stereo 44.1 kHz: as WAV (libsndfile) and as AAC in .m4a (FFmpeg)."""
    d = tmp_path_factory.mktemp("stream")
    x = music_like(20.0)
    return {
        "wav": write(d / "a.wav", x, 44100, subtype="PCM_16"),
        "m4a": _write_av(d / "a.m4a", x, 44100, codec="aac"),
    }


@pytest.mark.parametrize("kind", ["wav", "m4a"])
def test_blocks_have_the_asked_length_and_join_to_decode_file(
    files: dict[str, Path], kind: str
) -> None:
    with open_audio(files[kind], SR) as audio:
        assert (audio.source_rate, audio.source_channels) == (44100, 2)
        assert audio.estimated_duration == pytest.approx(20.0, abs=0.1)
        blocks = list(audio.blocks(block_seconds=3.0))
    assert all(len(b) == 3 * SR for b in blocks[:-1]) and 0 < len(blocks[-1]) <= 3 * SR
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    joined = np.concatenate(blocks)
    assert audio.duration == len(joined) / SR == pytest.approx(20.0, abs=0.1)
    whole = decode_file(files[kind], SR)
    assert whole.duration == audio.duration and whole.note == audio.note == ""
    # decode_file is the stream with its default block length: the very same samples.
    with open_audio(files[kind], SR) as audio:
        default = np.concatenate(list(audio.blocks(DEFAULT_BLOCK_SECONDS)))
    np.testing.assert_array_equal(whole.samples, default)
    # A block boundary anywhere else changes nothing either.
    np.testing.assert_allclose(joined, whole.samples, atol=1e-6)


@pytest.mark.parametrize("block_seconds", [0.7777, 1.2345, 10.0, 60.0])
def test_streamed_resampling_matches_resampling_in_one_go(
    files: dict[str, Path], block_seconds: float
) -> None:
    x, sr = sf.read(files["wav"], dtype="float32")
    one_go = soxr.resample(x.mean(axis=1, dtype=np.float32), sr, SR, quality="HQ")
    with open_audio(files["wav"], SR) as audio:
        streamed = np.concatenate(list(audio.blocks(block_seconds)))
    assert len(streamed) == len(one_go)
    np.testing.assert_allclose(streamed, one_go, atol=1e-5)


def test_blocks_can_be_iterated_once(files: dict[str, Path]) -> None:
    with open_audio(files["wav"], SR) as audio:
        list(audio.blocks())
        with pytest.raises(RuntimeError, match="only once"):
            list(audio.blocks())


def test_too_short_is_judged_on_what_was_decoded(tmp_path: Path) -> None:
    path = write(tmp_path / "blip.wav", tone(0.5), SR)
    with (
        open_audio(path, SR, min_seconds=1.0) as audio,
        pytest.raises(AudioDecodeError, match=r"too short: 0\.50 s"),
    ):
        list(audio.blocks())
    assert decode_file(path, SR, min_seconds=0.25).duration == pytest.approx(0.5)


def test_self_check_encodes_and_decodes_m4a_and_webm() -> None:
    detail = decode_self_check()
    assert "m4a 1.0 s" in detail and "webm 1.0 s" in detail


# --- bounded memory ---------------------------------------------------------------------------

LONG_SECONDS = 20 * 60
FULL_OUTPUT_MB = LONG_SECONDS * SR * 4 / 2**20  # what holding the decoded file would take


@pytest.fixture(scope="module")
def long_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """20 minutes of 44.1 kHz stereo sine + noise, written a minute at a time: as 16-bit WAV
    (libsndfile) and as PCM in Matroska (FFmpeg's demuxer and decoder)."""
    d = tmp_path_factory.mktemp("long")
    rng = np.random.default_rng(0)
    t = np.arange(60 * 44100) / 44100
    minute = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None]
    wav = d / "long.wav"
    import av

    mka = d / "long.mka"
    with sf.SoundFile(wav, "w", 44100, 2, "PCM_16") as f, av.open(str(mka), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=44100, layout="stereo")
        for i in range(LONG_SECONDS // 60):
            x = minute + 0.05 * rng.standard_normal((len(t), 2)).astype(np.float32)
            f.write(x)
            pcm = (x * 32767).astype(np.int16)
            for j in range(0, len(pcm), 4096):  # packets of the size real files have
                frame = av.AudioFrame.from_ndarray(
                    pcm[j : j + 4096].reshape(1, -1), format="s16", layout="stereo"
                )
                frame.sample_rate, frame.pts = 44100, i * len(t) + j
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return {"wav": wav, "mka": mka}


@pytest.mark.parametrize("kind", ["wav", "mka"])
def test_streaming_a_20_minute_file_holds_only_a_few_blocks(
    long_files: dict[str, Path], kind: str
) -> None:
    tracemalloc.start()
    try:
        with open_audio(long_files[kind], SR) as audio:
            n = sum(len(block) for block in audio.blocks())
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert n / SR == pytest.approx(LONG_SECONDS, abs=0.1)
    assert audio.duration == pytest.approx(LONG_SECONDS, abs=0.1)
    # 10 s blocks of 44.1 kHz stereo float32 are 3.4 MB; the whole output would be 101 MB.
    assert peak_mb < 20, f"peak {peak_mb:.1f} MB of Python/numpy memory while streaming"
    assert FULL_OUTPUT_MB > 100


_RSS_PROBE = """
import sys
from mgr_desktop.audio.stream import open_audio

def kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

with open_audio(sys.argv[1], 22050) as audio:
    blocks = audio.blocks()
    next(blocks)  # the first block sets up the decoder, the resampler and their buffers
    base = kb("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to now
    for _ in blocks:
        pass
print((kb("VmHWM:") - base) / 1024)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("kind", ["wav", "mka"])
def test_streaming_a_20_minute_file_does_not_grow_the_process(
    long_files: dict[str, Path], kind: str
) -> None:
    """The same in resident memory, so FFmpeg's and libsndfile's own buffers count too."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(long_files[kind])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    growth_mb = float(out.split()[-1])
    assert growth_mb < 40, f"peak RSS grew {growth_mb:.0f} MB while streaming 20 minutes"
