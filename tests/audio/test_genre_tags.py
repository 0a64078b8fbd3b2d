"""Genre tags written into real files made with ffmpeg and lame: each format round-trips through
mutagen, the audio stream is byte for byte the same, and a failure leaves the file as it was."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf

from mgr_desktop.audio import genre_tags
from mgr_desktop.audio.genre_tags import (
    TagChange,
    TagError,
    apply,
    genre_text,
    plan,
    read_genre,
    write_genre,
)
from mgr_desktop.inference.engine import TrackResult

FFMPEG, FFPROBE, LAME = shutil.which("ffmpeg"), shutil.which("ffprobe"), shutil.which("lame")
needs_ffmpeg = pytest.mark.skipif(
    not (FFMPEG and FFPROBE), reason="ffmpeg not installed (scripts/setup.sh test installs it)"
)

# name -> (extension, ffmpeg encoder arguments)
FORMATS = {
    "mp3": (".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    "ogg": (".ogg", ["-c:a", "libvorbis", "-q:a", "3"]),
    "opus": (".opus", ["-c:a", "libopus", "-b:a", "64k"]),
    "flac": (".flac", ["-c:a", "flac"]),
    "m4a": (".m4a", ["-c:a", "aac", "-b:a", "96k"]),
    "wav": (".wav", ["-c:a", "pcm_s16le"]),
    "aiff": (".aiff", ["-c:a", "pcm_s16be"]),
}


def ffmpeg(*args: str | Path) -> bytes:
    assert FFMPEG
    return subprocess.run(
        [FFMPEG, "-v", "error", "-nostdin", "-y", *map(str, args)],
        check=True,
        capture_output=True,
    ).stdout


def make(path: Path, fmt: str, title: str = "A Song", seconds: float = 2.0) -> Path:
    ext, codec = FORMATS[fmt]
    path = path.with_suffix(ext)
    path.parent.mkdir(parents=True, exist_ok=True)
    src = path.with_name(path.stem + ".src.wav")
    t = np.arange(int(seconds * 44100)) / 44100
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 0.5 * t)
    sf.write(src, np.stack([wave, wave * 0.5], 1).astype(np.float32), 44100)
    ffmpeg("-i", src, *codec, "-metadata", f"title={title}", path)
    src.unlink()
    return path


def audio_md5(path: Path) -> tuple[str, str]:
    """(the audio packets as stored, the decoded PCM): neither includes any tag."""
    packets = ffmpeg(
        "-i", path, "-map", "0:a", "-map_metadata", "-1", "-c", "copy", "-f", "data", "-"
    )
    pcm = ffmpeg("-i", path, "-map", "0:a", "-f", "s16le", "-")
    assert packets and pcm
    return hashlib.md5(packets).hexdigest(), hashlib.md5(pcm).hexdigest()


def mutagen_genre(path: Path) -> list[str]:
    """The genre read back with mutagen directly, not through the module under test."""
    f = mutagen.File(path)
    if path.suffix in (".mp3", ".wav", ".aiff"):
        return [g for fr in f.tags.getall("TCON") for g in fr.genres]
    if path.suffix == ".m4a":
        return list(f.tags["\xa9gen"])
    return list(f.tags["genre"])


def title(path: Path) -> str:
    """The title as ffprobe sees it (for WAV, ffmpeg keeps it in the INFO chunk, not ID3)."""
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_entries", "format_tags=title:stream_tags=title",
         "-of", "default=nw=1:nk=1", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return out.split("\n")[0]


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


@needs_ffmpeg
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_round_trips_and_keeps_its_audio(fmt: str, tmp_path: Path) -> None:
    f = make(tmp_path / "song", fmt)
    os.chmod(f, 0o640)
    before = audio_md5(f)
    assert read_genre(f) is None

    assert write_genre(f, "Jazz") is None
    assert mutagen_genre(f) == ["Jazz"]
    assert read_genre(f) == "Jazz"
    assert title(f) == "A Song"  # other tags stay
    assert audio_md5(f) == before
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o640
    assert leftovers(tmp_path) == []

    assert write_genre(f, "Hip-Hop") == "Jazz"  # an existing genre is replaced, not added to
    assert mutagen_genre(f) == ["Hip-Hop"]
    assert audio_md5(f) == before


@pytest.mark.skipif(not (FFMPEG and LAME), reason="needs ffmpeg and lame")
def test_lame_mp3_with_id3v23_and_cover_art_keeps_its_version(tmp_path: Path) -> None:
    from mutagen.id3 import APIC, ID3, TCON, TIT2

    src = tmp_path / "src.wav"
    sf.write(src, (0.3 * np.sin(np.arange(88200) / 20)).astype(np.float32), 44100)
    f = tmp_path / "lame.mp3"
    subprocess.run([LAME, "--silent", "-V", "4", str(src), str(f)], check=True)
    tags = ID3()
    tags.add(TIT2(encoding=1, text="Title"))
    tags.add(TCON(encoding=1, text="(17)"))  # ID3v1 genre number 17: Rock
    tags.add(APIC(encoding=0, mime="image/png", type=3, desc="", data=b"\x89PNG" + bytes(5000)))
    tags.save(f, v2_version=3)
    before = audio_md5(f)

    assert read_genre(f) == "Rock"
    assert write_genre(f, "Blues") == "Rock"
    assert ID3(f).version == (2, 3, 0)
    assert mutagen_genre(f) == ["Blues"]
    assert len(ID3(f).getall("APIC")) == 1
    assert audio_md5(f) == before


def test_labels_get_the_standard_spelling() -> None:
    assert genre_text("hiphop") == "Hip-Hop"
    assert genre_text("jazz") == "Jazz"
    assert genre_text("rock") == "Rock"
    assert genre_text("gqom") == "gqom"  # not a standard genre: as the model names it


@needs_ffmpeg
def test_read_only_and_unsupported_files_are_refused_and_untouched(tmp_path: Path) -> None:
    ro = make(tmp_path / "ro", "flac")
    os.chmod(ro, 0o444)
    data = ro.read_bytes()
    with pytest.raises(TagError, match="read-only"):
        write_genre(ro, "Jazz")
    assert ro.read_bytes() == data

    au = tmp_path / "x.au"
    sf.write(au, np.zeros(1000, np.float32), 8000)
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all\n")
    for bad, why in ((au, "unsupported format"), (text, "cannot read its tags")):
        data = bad.read_bytes()
        with pytest.raises(TagError, match=why):
            write_genre(bad, "Jazz")
        assert bad.read_bytes() == data
    with pytest.raises(TagError):
        write_genre(tmp_path / "missing.mp3", "Jazz")
    assert leftovers(tmp_path) == []


@needs_ffmpeg
def test_a_failure_while_tagging_leaves_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = make(tmp_path / "song", "ogg")
    data, mtime = f.read_bytes(), f.stat().st_mtime_ns

    def broken(audio: object, genre: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(genre_tags, "_set_genre", broken)
    with pytest.raises(TagError, match="No space left"):
        write_genre(f, "Jazz")
    assert f.read_bytes() == data and f.stat().st_mtime_ns == mtime
    assert leftovers(tmp_path) == []


@needs_ffmpeg
def test_a_symlink_is_followed(tmp_path: Path) -> None:
    f = make(tmp_path / "real", "mp3")
    link = tmp_path / "link.mp3"
    link.symlink_to(f)
    write_genre(link, "Jazz")
    assert link.is_symlink()
    assert mutagen_genre(f) == ["Jazz"]


def result(path: Path, genre: str | None, confidence: float) -> TrackResult:
    return TrackResult(str(path), genre, confidence, {}, [], 2.0)


@needs_ffmpeg
def test_plan_respects_the_threshold_and_skips_what_is_already_right(tmp_path: Path) -> None:
    f = make(tmp_path / "song", "flac")
    assert plan(result(f, None, 0.0), 0.6).skip == "no verdict"
    low = plan(result(f, "jazz", 0.59), 0.6)
    assert not low.will_write and "below" in low.skip
    ok = plan(result(f, "jazz", 0.6), 0.6)
    assert ok == TagChange(str(f), None, ("Jazz",), 0.6)
    assert ok.describe() == "(none) -> Jazz"
    assert apply(ok).old is None
    assert plan(result(f, "jazz", 0.9), 0.6).skip == "already tagged"
    data = f.read_bytes()
    kept = plan(result(f, "blues", 0.9), 0.6)  # a genre it has is kept unless asked
    assert (kept.old, kept.new, kept.will_write) == ("Jazz", ("Blues",), False)
    assert kept.skip == "already has genres"
    assert kept.describe() == "Jazz (kept: already has genres)"
    with pytest.raises(ValueError):
        apply(kept)
    assert f.read_bytes() == data
    swap = plan(result(f, "blues", 0.9), 0.6, replace=True)
    assert (swap.old, swap.new, swap.will_write) == ("Jazz", ("Blues",), True)
    assert swap.describe() == "Jazz -> Blues"


# -- nothing lost: names, extended attributes, leftovers (issue 20) -------------------------
def wav(path: Path) -> Path:
    from tests.helpers import tone, write

    return write(path, tone(1.0), 22050)


def test_a_file_with_a_255_byte_name_can_be_tagged(tmp_path: Path) -> None:
    for stem in ("a" * 251, "é" * 125):  # 255 and 254 bytes with ".wav": the longest allowed
        f = wav(tmp_path / f"{stem}.wav")
        assert len(os.fsencode(f.name)) >= 254
        pcm = sf.read(f)[0]
        assert write_genre(f, "Jazz") is None
        assert mutagen_genre(f) == ["Jazz"]
        np.testing.assert_array_equal(sf.read(f)[0], pcm)
    assert leftovers(tmp_path) == []


def test_extended_attributes_owner_and_mode_are_kept(tmp_path: Path) -> None:
    f = wav(tmp_path / "song.wav")
    os.chmod(f, 0o640)
    try:
        os.setxattr(f, "user.xdg.comment", b"from grandma's tapes")
        os.setxattr(f, "user.rating", b"5")
    except (AttributeError, OSError) as e:  # no os.setxattr (not Linux), or a filesystem without
        pytest.skip(f"this filesystem refuses user extended attributes: {e}")
    before = os.stat(f)
    write_genre(f, "Jazz")
    assert mutagen_genre(f) == ["Jazz"]
    assert sorted(os.listxattr(f)) == ["user.rating", "user.xdg.comment"]
    assert os.getxattr(f, "user.xdg.comment") == b"from grandma's tapes"
    assert os.getxattr(f, "user.rating") == b"5"
    after = os.stat(f)
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)


def test_the_temporary_copy_has_a_short_name_and_another_run_leaves_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mgr_desktop.audio.genre_tags import sweep_leftovers

    f = wav(tmp_path / ("x" * 200 + ".wav"))
    seen: list[str] = []
    set_genre = genre_tags._set_genre

    def watching(audio: object, genres: list[str]) -> list[str]:
        seen.extend(leftovers(tmp_path))
        assert sweep_leftovers(tmp_path) == []  # a second run at work: not its to remove
        return set_genre(audio, genres)

    monkeypatch.setattr(genre_tags, "_set_genre", watching)
    write_genre(f, "Jazz")
    assert len(seen) == 1 and re.fullmatch(r"\.mgr-[0-9a-f]{12}\.tagtmp", seen[0]), seen
    assert mutagen_genre(f) == ["Jazz"] and leftovers(tmp_path) == []


def test_only_our_abandoned_copies_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mgr_desktop import atomic
    from mgr_desktop.audio.genre_tags import sweep_leftovers

    song = wav(tmp_path / "song.wav")
    left = tmp_path / ".mgr-0123456789ab.tagtmp"  # what a SIGKILL leaves
    left.write_bytes(song.read_bytes())
    busy = tmp_path / ".mgr-aaaaaaaaaaaa.tagtmp"  # another run is writing this one
    busy.write_bytes(b"half a copy")
    fcntl = pytest.importorskip("fcntl")
    held = open(busy, "rb")  # noqa: SIM115 (held across the sweeps below)
    fcntl.flock(held.fileno(), fcntl.LOCK_EX)
    others = [".mgr-notours.tagtmp", "song.tagtmp", ".mgr-0123456789ab.tmp", ".mgr-0123.tagtmp"]
    for name in others:
        (tmp_path / name).write_bytes(b"the user's")
    (tmp_path / ".mgr-bbbbbbbbbbbb.tagtmp").mkdir()
    (tmp_path / ".mgr-cccccccccccc.tagtmp").symlink_to(song)
    try:
        assert sweep_leftovers(tmp_path) == [str(left)]
        assert busy.exists() and song.exists()
        for name in [*others, ".mgr-bbbbbbbbbbbb.tagtmp", ".mgr-cccccccccccc.tagtmp"]:
            assert (tmp_path / name).exists() or (tmp_path / name).is_symlink()
    finally:
        held.close()
    assert sweep_leftovers(tmp_path) == [str(busy)]  # its writer is gone

    # Where there are no locks, age decides: a copy a minute old is a leftover, a new one not.
    monkeypatch.setattr(atomic, "fcntl", None)
    young, old = tmp_path / ".mgr-dddddddddddd.tagtmp", tmp_path / ".mgr-eeeeeeeeeeee.tagtmp"
    young.write_bytes(b"1")
    old.write_bytes(b"2")
    stale = time.time() - atomic.STALE_AFTER_S - 5
    os.utime(old, (stale, stale))
    assert sweep_leftovers(tmp_path) == [str(old)]
    assert young.exists()


def test_a_file_that_is_not_the_one_classified_is_refused(tmp_path: Path) -> None:
    from mgr_desktop.atomic import identity
    from mgr_desktop.audio.genre_tags import CHANGED, tag_file

    f = wav(tmp_path / "song.wav")
    seen = identity(f)
    assert seen is not None
    other = wav(tmp_path / "other.wav")
    os.replace(other, f)  # replaced after its audio was read: same name, another file
    data = f.read_bytes()
    with pytest.raises(TagError, match=CHANGED):
        write_genre(f, "Jazz", expect=seen)
    assert f.read_bytes() == data and leftovers(tmp_path) == []

    now = identity(f)
    old, written = tag_file(f, "Jazz", expect=now)
    assert old is None and mutagen_genre(f) == ["Jazz"]
    assert written == identity(f) != now  # the tagged file's own identity, for the cache
