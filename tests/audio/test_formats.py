"""Files as real music libraries hold them, made in the test with ffmpeg and lame: each decodes
in full, with the length ffprobe reports, by the decoder its content calls for."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mgr_desktop.audio.decode import AudioDecodeError, decode_file, open_audio
from mgr_desktop.audio.sniff import has_vbr_header, sniff
from tests.audio.media import (
    ffmpeg,
    ffprobe_duration,
    ffprobe_packet_duration,
    lame,
    needs_ffmpeg,
    needs_lame,
    peak_hz,
    write_source,
)

SR = 22050
SECONDS = 12.0


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_source(tmp_path_factory.mktemp("src") / "source.wav", SECONDS)


@pytest.fixture(scope="module")
def cover(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not installed (scripts/setup.sh test installs it)")
    path = tmp_path_factory.mktemp("art") / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=400x400:d=1", "-frames:v", "1", path)
    return path


def _ff(codec: str, *extra: str) -> Callable[[Path, Path, Path], None]:
    return lambda src, out, _cover: ffmpeg("-i", src, "-c:a", codec, *extra, out)


# name -> (file name, how to make it, decoder that must read it, the codec it reports)
KINDS = {
    "mp3 with ID3v2 cover art": (
        "cover.mp3",
        lambda src, out, cover: lame("-b", "192", "--ti", cover, src, out),
        "ffmpeg",
        "mp3",
    ),
    "VBR mp3 with Xing header": (
        "xing.mp3",
        lambda s, o, _: lame("-V", "2", s, o),
        "ffmpeg",
        "mp3",
    ),
    "VBR mp3 without Xing header": (
        "noxing.mp3",
        lambda s, o, _: lame("-V", "2", "-t", s, o),  # -t: no Xing/LAME tag
        "ffmpeg",
        "mp3",
    ),
    "AAC m4a": ("a.m4a", _ff("aac", "-b:a", "128k"), "ffmpeg", "aac"),
    "Opus in WebM": ("a.webm", _ff("libopus", "-b:a", "96k"), "ffmpeg", "opus"),
    "WMA": ("a.wma", _ff("wmav2", "-b:a", "128k"), "ffmpeg", "wmav2"),
    "FLAC 24-bit 96 kHz": (
        "hires.flac",
        _ff("flac", "-ar", "96000", "-sample_fmt", "s32"),
        "libsndfile",
        "FLAC PCM_24",
    ),
    "float32 WAV": ("float.wav", _ff("pcm_f32le"), "libsndfile", "FLOAT"),
    "24-bit WAV": ("s24.wav", _ff("pcm_s24le"), "libsndfile", "PCM_24"),
    "AIFF": ("a.aiff", _ff("pcm_s16be"), "libsndfile", "AIFF PCM_16"),
}


@needs_ffmpeg
@needs_lame
@pytest.mark.parametrize("kind", list(KINDS))
def test_decoded_duration_matches_ffprobe(
    tmp_path: Path, source: Path, cover: Path, kind: str
) -> None:
    name, make, decoder, codec = KINDS[kind]
    path = tmp_path / name
    make(source, path, cover)
    noxing = kind == "VBR mp3 without Xing header"
    # ffprobe's header duration for an mp3 without a Xing header is a bitrate guess; the truth
    # is then the sum of its packets.
    expected = ffprobe_packet_duration(path) if noxing else ffprobe_duration(path)
    with open_audio(path, SR) as audio:
        blocks = list(audio.blocks())
    assert audio.decoder == decoder and codec in audio.codec
    assert audio.duration == pytest.approx(expected, abs=0.1)
    assert audio.duration == pytest.approx(SECONDS, abs=0.1)  # and nothing was cut short
    assert audio.note == ""
    assert peak_hz(decode_file(path, SR).samples, SR) == pytest.approx(440, abs=3)
    assert sum(map(len, blocks)) == round(audio.duration * SR)
    if kind.startswith("mp3 with ID3"):
        head = path.read_bytes()[:10]
        assert head.startswith(b"ID3") and sniff(head) == "id3"
        assert path.stat().st_size > cover.stat().st_size  # the picture is in the tag
    if noxing:
        # The kind that decoded to a third of its length when reading stopped at libsndfile's
        # estimate: no header states its frame count.
        assert not has_vbr_header(path.read_bytes()[:8192])


@needs_ffmpeg
@pytest.mark.parametrize(
    ("made_as", "named"),
    [("a.m4a", "song.mp3"), ("a.mp3", "song.wav"), ("a.wav", "song.m4a"), ("a.webm", "song.ogg")],
)
def test_decoder_is_picked_by_content_not_extension(
    tmp_path: Path, source: Path, made_as: str, named: str
) -> None:
    real = tmp_path / made_as
    ffmpeg("-i", source, real)
    liar = real.rename(tmp_path / named)
    assert decode_file(liar, SR).duration == pytest.approx(SECONDS, abs=0.1)


def _package_tracks(package: str, suffix: str) -> list[Path]:
    if not shutil.which("dpkg"):
        pytest.skip(f"not a Debian system: no dpkg to find the {package} package")
    listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip(f"{package} is not installed (scripts/setup.sh test installs it)")
    found = {Path(line).resolve() for line in listing.stdout.split() if line.endswith(suffix)}
    tracks = sorted(p for p in found if p.is_file())  # language folders link to one copy
    assert tracks, f"{package} is installed but holds no {suffix} files"
    return tracks


@needs_ffmpeg
@pytest.mark.slow  # an hour of Ogg Vorbis: about 7 s
@pytest.mark.parametrize(("package", "suffix"), [("asc-music", ".mp3"), ("drascula-music", ".ogg")])
def test_every_debian_game_music_track_decodes_in_full(package: str, suffix: str) -> None:
    wrong = []
    for track in _package_tracks(package, suffix):
        with open_audio(track, SR) as audio:
            for _ in audio.blocks():
                pass
        expected = ffprobe_duration(track)
        if abs(audio.duration - expected) > 0.1 or audio.note:
            wrong.append(f"{track.name}: {audio.duration:.2f} s, ffprobe {expected:.2f} s")
    assert not wrong


# --- damaged and odd real media ---------------------------------------------------------------

NOTE_CUT = re.compile(r"^the last frame was cut off; decoded the (\d+\.\d\d) s that are there$")


@needs_lame
@pytest.mark.parametrize("keep", ["all but 150 bytes", "first half"])
def test_mp3_cut_mid_frame_decodes_what_is_there_and_says_so(
    tmp_path: Path, source: Path, keep: str
) -> None:
    whole = tmp_path / "whole.mp3"
    lame("-b", "128", source, whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp3"
    size = len(data) - 150 if keep.startswith("all") else len(data) // 2 + 37
    cut.write_bytes(data[:size])  # CBR 128 kbit/s frames are 417-418 bytes: cut inside one
    audio = decode_file(cut, SR)
    m = NOTE_CUT.match(audio.note)
    assert m, audio.note
    assert float(m.group(1)) == pytest.approx(audio.duration, abs=0.005)
    expected = SECONDS if keep.startswith("all") else SECONDS / 2
    assert audio.duration == pytest.approx(expected, abs=0.1)
    assert audio.duration < decode_file(whole, SR).duration


@needs_ffmpeg
@pytest.mark.parametrize("name", ["silence.wav", "silence.mp3", "silence.m4a", "silence.webm"])
def test_fully_silent_file_decodes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "5", path)
    audio = decode_file(path, SR)
    assert audio.duration == pytest.approx(5.0, abs=0.1)
    assert abs(audio.samples).max() < 1e-4 and audio.note == ""


def _one_line_error(path: Path) -> str:
    with pytest.raises(AudioDecodeError) as info:
        decode_file(path, SR)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_zero_byte_m4a_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.m4a"
    path.write_bytes(b"")
    assert _one_line_error(path).endswith("file is empty (0 bytes)")


@needs_ffmpeg
def test_video_only_webm_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "clip.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:d=2", "-c:v", "libvpx-vp9", path)
    assert _one_line_error(path).endswith("contains no audio stream (only video)")


@needs_ffmpeg
def test_m4a_without_its_index_is_a_clear_error(tmp_path: Path, source: Path) -> None:
    whole = tmp_path / "a.m4a"
    ffmpeg("-i", source, "-c:a", "aac", whole)  # ffmpeg writes the moov box at the end
    half = tmp_path / "half.m4a"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert "corrupt" in _one_line_error(half)


@needs_ffmpeg
def test_webm_cut_short_decodes_what_is_there_and_says_so(tmp_path: Path, source: Path) -> None:
    whole = tmp_path / "a.webm"
    ffmpeg("-i", source, "-c:a", "libopus", whole)
    half = tmp_path / "half.webm"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    audio = decode_file(half, SR)
    assert 4.0 < audio.duration < 8.0
    assert audio.note.startswith("the file ends early (its header promises 12.0")
    assert audio.note.endswith(f"decoded the {audio.duration:.2f} s that are there")


@pytest.mark.parametrize("name", ["noise.m4a", "noise.webm", "noise.wma", "noise.mp3"])
def test_random_bytes_in_any_container_name_are_not_audio(tmp_path: Path, name: str) -> None:
    import numpy as np

    path = tmp_path / name
    path.write_bytes(np.random.default_rng(3).bytes(20000))
    assert "not a recognised audio format" in _one_line_error(path)


@needs_ffmpeg
def test_joined_mp3s_that_change_rate_midway_decode_in_full(tmp_path: Path) -> None:
    parts = []
    for rate, channels in ((44100, 1), (48000, 2)):
        part = tmp_path / f"{rate}.mp3"
        ffmpeg("-f", "lavfi", "-i", f"sine=f=440:r={rate}:d=3", "-ac", str(channels),
               "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", part)  # fmt: skip
        parts.append(part.read_bytes())
    joined = tmp_path / "joined.mp3"
    joined.write_bytes(b"".join(parts))  # as `cat a.mp3 b.mp3 > c.mp3` makes them
    audio = decode_file(joined, SR)
    assert audio.duration == pytest.approx(6.0, abs=0.1)
    assert peak_hz(audio.samples[-SR:], SR) == pytest.approx(440, abs=3)  # not 440 * 48/44.1
