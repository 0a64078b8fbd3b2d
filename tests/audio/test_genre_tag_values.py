"""What goes into a genre tag: genres a file has are kept unless asked (an ID3v1 genre too), a
close second genre is written as a separate value where the format has them, the user's names
replace the model's labels, and a track without a verdict (or outside the model's genres) is
never tagged. Real files made with ffmpeg and lame; the audio is checked unchanged."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf

from mgr_desktop.audio.genre_tags import (
    SECOND_GENRE_RATIO,
    TagChange,
    apply,
    choose,
    choose_labels,
    genre_text,
    plan,
    read_genre,
    write_genre,
)
from tests.audio.test_genre_tags import FORMATS, LAME, audio_md5, make, needs_ffmpeg, title


@dataclass(frozen=True)
class Result:
    """A verdict as tagging reads it (TrackResult's fields, and the coming `outside`)."""

    path: str
    genre: str | None
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)
    outside: bool = False


def between(path: Path, first: str = "jazz", second: str = "blues") -> Result:
    """A track between two genres: 45 % and 35 %."""
    probs = {first: 0.45, second: 0.35, "rock": 0.1, "pop": 0.1}
    return Result(str(path), first, 0.45, probs)


def raw_genres(path: Path) -> list[str]:
    """The genre values as stored, read with mutagen directly."""
    f = mutagen.File(path)
    if path.suffix in (".mp3", ".wav", ".aiff"):
        return [t for fr in f.tags.getall("TCON") for t in fr.text]
    if path.suffix == ".m4a":
        return list(f.tags["\xa9gen"])
    return list(f.tags["genre"])


def sound(path: Path) -> tuple[tuple[str, str], float]:
    """The audio (stored packets and decoded PCM, without tags) and mutagen's length."""
    return audio_md5(path), mutagen.File(path).info.length


def lame_mp3(path: Path, *tags: str) -> Path:
    src = path.with_suffix(".src.wav")
    sf.write(src, (0.3 * np.sin(np.arange(44100) / 20)).astype(np.float32), 44100)
    assert LAME, "lame is missing: scripts/setup.sh test installs it (apt-get install lame)"
    subprocess.run([LAME, "--silent", "-V", "4", *tags, str(src), str(path)], check=True)
    src.unlink()
    return path


# -- the rule ----------------------------------------------------------------------------
def test_the_second_genre_rule() -> None:
    assert SECOND_GENRE_RATIO == 0.5
    p = {"jazz": 0.7, "blues": 0.3, "rock": 0.0}
    assert choose_labels("jazz", 0.7, p, 0.6) == ["jazz"]  # 0.3 < half of 0.7
    p = {"jazz": 0.6, "blues": 0.35, "rock": 0.05}
    assert choose_labels("jazz", 0.6, p, 0.6) == ["jazz", "blues"]
    p = {"jazz": 0.4, "blues": 0.35, "rock": 0.25}
    assert choose_labels("jazz", 0.4, p, 0.6) == ["jazz", "blues"]  # together 75 % >= 60 %
    assert choose_labels("jazz", 0.4, p, 0.8) == []  # together 75 % < 80 %
    p = {"jazz": 0.45, "blues": 0.15, "rock": 0.4}
    assert choose_labels("jazz", 0.45, p, 0.6) == ["jazz", "rock"]  # the runner-up, not blues
    p = {"jazz": 0.5, "blues": 0.2, "rock": 0.3}
    assert choose_labels("jazz", 0.5, p, 0.8) == ["jazz", "rock"]  # exactly at the threshold
    assert choose_labels("jazz", 0.5, p, 0.81) == []
    p = {"jazz": 0.5, "blues": 0.2, "rock": 0.2, "pop": 0.1}
    assert choose_labels("jazz", 0.5, p, 0.6) == []  # 20 % is under half of 50 %: no pair
    assert choose_labels("jazz", 0.5, p, 0.5) == ["jazz"]
    assert choose_labels("jazz", 0.9, {}, 0.6) == ["jazz"]  # no probabilities: one genre
    assert choose_labels(None, 0.0, p, 0.0) == []


def test_choose_names_the_genres_and_says_why_not() -> None:
    names = {"hiphop": "Hip Hop", "Blues": "Delta Blues"}
    r = Result("x.ogg", "hiphop", 0.45, {"hiphop": 0.45, "blues": 0.4, "rock": 0.15})
    assert choose(r, 0.6) == (("Hip-Hop", "Blues"), "")  # the standard spelling by default
    assert choose(r, 0.6, names) == (("Hip Hop", "Delta Blues"), "")  # the label, any case
    assert choose(r, 0.9, names) == ((), "below the threshold (45%)")
    assert choose(Result("x.ogg", None, 0.0), 0.0) == ((), "no verdict")
    outside = Result("x.ogg", None, 0.3, {"jazz": 0.3, "blues": 0.2}, outside=True)
    assert choose(outside, 0.0) == ((), "none of its genres")
    assert genre_text("hiphop", names) == "Hip Hop" and genre_text("hiphop") == "Hip-Hop"
    assert genre_text("gqom", names) == "gqom"


# -- several values, per format ----------------------------------------------------------
@needs_ffmpeg
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_two_genres_are_separate_values_where_the_format_has_them(fmt: str, tmp_path: Path) -> None:
    f = make(tmp_path / "song", fmt)
    before = sound(f)
    change = plan(between(f), 0.6)
    assert change == TagChange(str(f), None, ("Jazz", "Blues"), 0.45)
    assert apply(change).describe() == "(none) -> Jazz; Blues"

    if fmt == "m4a":  # one (c)gen text
        assert raw_genres(f) == ["Jazz; Blues"]
    else:  # Vorbis/FLAC/Opus GENRE twice; ID3v2.4 (ffmpeg's, or a new one) TCON two values
        assert raw_genres(f) == ["Jazz", "Blues"]
    if fmt in ("mp3", "wav", "aiff"):
        assert mutagen.File(f).tags.version == (2, 4, 0)
    assert read_genre(f) == "Jazz; Blues"
    assert plan(between(f), 0.6, replace=True).skip == "already tagged"
    assert title(f) == "A Song"
    assert sound(f) == before


@needs_ffmpeg
def test_a_new_id3_tag_is_v23_for_one_genre_and_v24_for_two(tmp_path: Path) -> None:
    from mutagen.id3 import ID3

    one, two = lame_mp3(tmp_path / "one.mp3"), lame_mp3(tmp_path / "two.mp3")
    assert mutagen.File(one).tags is None
    before = sound(two)
    write_genre(one, "Jazz")
    write_genre(two, ["Jazz", "Blues"])
    assert ID3(one).version == (2, 3, 0) and raw_genres(one) == ["Jazz"]
    assert ID3(two).version == (2, 4, 0) and raw_genres(two) == ["Jazz", "Blues"]
    assert sound(two) == before


@needs_ffmpeg
def test_an_id3v23_tag_stays_v23_with_the_genres_joined_by_a_slash(tmp_path: Path) -> None:
    from mutagen.id3 import ID3, TIT2, TYER

    f = lame_mp3(tmp_path / "old.mp3")
    tags = ID3()
    tags.add(TIT2(encoding=1, text="Title"))
    tags.add(TYER(encoding=1, text="1999"))
    tags.save(f, v2_version=3)
    before = sound(f)

    assert apply(plan(between(f), 0.6)).old is None
    tags = ID3(f)
    assert tags.version == (2, 3, 0)  # not upgraded: its readers keep reading it
    assert raw_genres(f) == ["Jazz/Blues"]  # as Picard and mutagen write several in v2.3
    assert str(tags["TIT2"]) == "Title" and str(tags["TDRC"]) == "1999"
    assert b"TYER" in f.read_bytes()[:4096]  # the year stays a v2.3 frame on disk
    assert read_genre(f) == "Jazz/Blues"
    assert plan(between(f), 0.6, replace=True).skip == "already tagged"
    assert sound(f) == before


@needs_ffmpeg
def test_an_id3v1_genre_is_a_genre_the_file_has(tmp_path: Path) -> None:
    f = lame_mp3(tmp_path / "v1.mp3", "--id3v1-only", "--tg", "Rock", "--tt", "Old")
    data = f.read_bytes()
    assert data[-128:-125] == b"TAG" and not data.startswith(b"ID3")
    assert read_genre(f) == "Rock"

    kept = plan(between(f), 0.6)
    assert (kept.will_write, kept.skip, kept.old) == (False, "already has genres", "Rock")
    assert kept.describe() == "Rock (kept: already has genres)"
    assert f.read_bytes() == data

    before = sound(f)
    done = apply(plan(between(f), 0.6, replace=True))
    assert done.describe() == "Rock -> Jazz; Blues"
    assert raw_genres(f) == ["Jazz", "Blues"]
    tail = f.read_bytes()[-128:]
    assert tail[:3] == b"TAG" and tail[-1] == 8  # the ID3v1 genre follows: 8 is Jazz
    assert sound(f) == before


# -- names, and what is never written ----------------------------------------------------
@needs_ffmpeg
def test_the_users_names_are_written(tmp_path: Path) -> None:
    f = make(tmp_path / "song", "flac")
    r = Result(str(f), "hiphop", 0.9, {"hiphop": 0.9, "jazz": 0.1})
    done = apply(plan(r, 0.6, names={"hiphop": "Hip Hop"}))
    assert done.new == ("Hip Hop",)
    assert raw_genres(f) == ["Hip Hop"]
    assert plan(r, 0.6, names={"hiphop": "Hip Hop"}).skip == "already tagged"


@needs_ffmpeg
@pytest.mark.parametrize("replace", [False, True])
def test_no_verdict_and_outside_are_never_written(replace: bool, tmp_path: Path) -> None:
    empty, tagged = make(tmp_path / "empty", "ogg"), make(tmp_path / "tagged", "ogg")
    write_genre(tagged, "Rock")
    files = {p: p.read_bytes() for p in (empty, tagged)}
    for f in files:
        probs = {"jazz": 0.9, "blues": 0.1}
        outside = Result(str(f), None, 0.9, probs, outside=True)
        silent = Result(str(f), None, 0.0)
        for r, why in ((outside, "none of its genres"), (silent, "no verdict")):
            change = plan(r, 0.0, read_all=True, replace=replace)
            assert (change.will_write, change.skip, change.new) == (False, why, ())
            assert change.old == (None if f == empty else "Rock")
            with pytest.raises(ValueError):
                apply(change)
    assert {p: p.read_bytes() for p in files} == files
