"""Every odd-but-valid and every bad input, generated in code, through real decoding."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mgr_desktop.audio.decode import AudioDecodeError, decode_file
from tests.helpers import tone, write

SR = 22050


@pytest.mark.parametrize(
    ("name", "sr", "channels", "kw"),
    [
        ("pcm16.wav", 22050, 1, {}),
        ("u8.wav", 22050, 1, {"subtype": "PCM_U8"}),
        ("8k.wav", 8000, 1, {}),
        ("96k-6ch.wav", 96000, 6, {}),
        ("cd-stereo.wav", 44100, 2, {}),
        ("float.wav", 22050, 1, {"subtype": "FLOAT"}),
        ("a.flac", 44100, 2, {}),
        ("a.aiff", 22050, 1, {}),
        ("a.au", 22050, 1, {}),
        ("a.ogg", 22050, 2, {"format": "OGG", "subtype": "VORBIS"}),
        ("a.opus", 48000, 1, {"format": "OGG", "subtype": "OPUS"}),
        ("a.mp3", 44100, 2, {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
        ("Café del Mar – ñandú 雨 song.wav", 22050, 1, {}),
    ],
)
def test_valid_formats_decode_to_mono_at_model_rate(
    tmp_path: Path, name: str, sr: int, channels: int, kw: dict
) -> None:
    path = write(tmp_path / name, tone(2.0, sr, channels=channels), sr, **kw)
    audio = decode_file(path, SR)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.sample_rate == SR and audio.source_rate == sr
    assert audio.source_channels == channels
    assert audio.duration == pytest.approx(2.0, abs=0.1)  # codecs add a little padding
    # The 440 Hz tone survives resampling and downmixing: its spectral peak is where it was.
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert np.fft.rfftfreq(len(audio.samples), 1 / SR)[spectrum.argmax()] == pytest.approx(
        440, abs=5
    )


def test_silence_and_full_scale_square_wave(tmp_path: Path) -> None:
    silent = decode_file(write(tmp_path / "silence.wav", np.zeros(SR * 3, np.float32), SR))
    assert not silent.samples.any()
    square = np.sign(tone(3.0)).astype(np.float32)
    loud = decode_file(write(tmp_path / "square.wav", square, SR))
    assert np.abs(loud.samples).max() == pytest.approx(1.0, abs=1e-3)


def test_ten_minute_file(tmp_path: Path) -> None:
    path = write(tmp_path / "long.flac", tone(600.0, 16000), 16000)
    assert decode_file(path).duration == pytest.approx(600.0, abs=0.01)


def test_nan_and_inf_samples_are_sanitised(tmp_path: Path) -> None:
    x = tone(2.0)
    x[100:200] = np.nan
    x[300] = np.inf
    x[301] = -np.inf
    audio = decode_file(write(tmp_path / "nan.wav", x, SR, subtype="FLOAT"))
    assert np.isfinite(audio.samples).all()
    assert audio.samples[100:200].max() == 0


def test_between_one_second_and_one_window_is_accepted(tmp_path: Path) -> None:
    assert decode_file(write(tmp_path / "short.wav", tone(1.2), SR)).duration == pytest.approx(1.2)


def _wav_bytes(seconds: float = 3.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _lying_header(tmp_path: Path) -> Path:
    data = bytearray(_wav_bytes(2.0))
    pos = data.index(b"data") + 4
    struct.pack_into("<I", data, pos, struct.unpack_from("<I", data, pos)[0] * 3)
    return _write_bytes(tmp_path / "lying.wav", bytes(data))


BAD = {
    "empty": (lambda d: _write_bytes(d / "empty.wav", b""), "empty"),
    "truncated header": (lambda d: _write_bytes(d / "hdr.wav", _wav_bytes()[:30]), "corrupt"),
    "text as wav": (lambda d: _write_bytes(d / "notes.wav", b"hello, not audio\n" * 20), "text"),
    "pdf as mp3": (
        lambda d: _write_bytes(d / "paper.mp3", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n"),
        "PDF",
    ),
    "random bytes": (
        lambda d: _write_bytes(d / "noise.wav", np.random.default_rng(1).bytes(5000)),
        "recognised",
    ),
    "header claims more data": (_lying_header, "truncated"),
    "cut in half": (
        lambda d: _write_bytes(d / "half.wav", _wav_bytes()[: len(_wav_bytes()) // 2]),
        "truncated",
    ),
    "too short": (lambda d: write(d / "blip.wav", tone(0.5), SR), "too short"),
    "dangling symlink": (lambda d: _symlink(d), "dangling"),
    "folder": (lambda d: _folder(d), "folder"),
    "missing": (lambda d: d / "nope.wav", "no such file"),
}


def _symlink(d: Path) -> Path:
    link = d / "gone.wav"
    link.symlink_to(d / "deleted-target.wav")
    return link


def _folder(d: Path) -> Path:
    (d / "dir.wav").mkdir()
    return d / "dir.wav"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_typed_error_naming_file_and_reason(tmp_path: Path, case: str) -> None:
    make, reason = BAD[case]
    path = make(tmp_path)
    with pytest.raises(AudioDecodeError) as info:
        decode_file(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    assert reason.lower() in message.lower()
    assert "\n" not in message


def test_unreadable_file_reports_permission(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.wav", tone(2.0), SR)
    os.chmod(path, 0)
    if os.access(path, os.R_OK):
        pytest.skip("root reads mode-000 files; tests/cli covers this case in a user namespace")
    with pytest.raises(AudioDecodeError, match="permission denied"):
        decode_file(path)


def test_streaming_placeholder_size_is_not_called_truncated(tmp_path: Path) -> None:
    data = bytearray(_wav_bytes(2.0))
    struct.pack_into("<I", data, data.index(b"data") + 4, 0xFFFFFFFF)
    path = _write_bytes(tmp_path / "stream.wav", bytes(data))
    assert decode_file(path).duration == pytest.approx(2.0)


def test_pcm16_fast_path_matches_libsndfile_float_conversion(tmp_path: Path) -> None:
    x = (np.random.default_rng(5).uniform(-1, 1, (22050, 2)) * 0.9).astype(np.float32)
    path = write(tmp_path / "pcm16.wav", x, 22050, subtype="PCM_16")
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    got = decode_file(path, 22050, min_seconds=0.5).samples
    np.testing.assert_array_equal(got, expected.mean(axis=1, dtype=np.float32))
