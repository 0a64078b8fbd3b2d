"""Genre and artist tags read from real files made with ffmpeg and lame, tagged with mutagen
the way taggers and players write them: several values per file, joined or repeated, ID3v1
numbers, and the many spellings of one genre."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from mgr_desktop.audio.tag_reading import (
    FileTags,
    TagReadError,
    fold_genre,
    read_artist,
    read_genres,
    read_tags,
)
from tests.audio.media import ffmpeg, lame, needs_ffmpeg, needs_lame, write_source

CODECS = {
    ".ogg": ["-c:a", "libvorbis", "-q:a", "2"],
    ".opus": ["-c:a", "libopus", "-b:a", "48k"],
    ".flac": ["-c:a", "flac"],
    ".m4a": ["-c:a", "aac", "-b:a", "64k"],
    ".wma": ["-c:a", "wmav2", "-b:a", "64k"],
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_source(tmp_path_factory.mktemp("src") / "src.wav", 1.5)


def _encode(source: Path, path: Path) -> Path:
    if path.suffix == ".mp3":
        lame("-b", "64", source, path)
    else:
        ffmpeg("-i", source, *CODECS[path.suffix], "-map_metadata", "-1", path)
    return path


def _id3(path: Path, version: int, genres: list[str], **frames: str) -> Path:
    from mutagen import id3

    tags = id3.ID3()
    tags.add(id3.TCON(encoding=3, text=genres))
    for name, text in frames.items():
        tags.add(getattr(id3, name)(encoding=3, text=[text]))
    tags.save(path, v2_version=version)
    return path


def _tag(path: Path, **values: list[str]) -> Path:
    import mutagen

    f = mutagen.File(path)
    assert f is not None
    if f.tags is None:
        f.add_tags()
    for key, vals in values.items():
        f.tags[key] = vals
    f.save()
    return path


@needs_lame
def test_id3v24_keeps_each_value_and_v23_splits_the_joined_text(
    source: Path, tmp_path: Path
) -> None:
    v24 = _id3(_encode(source, tmp_path / "v24.mp3"), 4, ["Hip-Hop", "Jazz"], TPE1="MF DOOM")
    assert read_genres(v24) == ["Hip-Hop", "Jazz"]
    assert read_artist(v24) == "MF DOOM"
    # ID3v2.3 has no multi-value frames: mutagen (like most taggers) writes "Rock/Pop"
    v23 = _id3(_encode(source, tmp_path / "v23.mp3"), 3, ["Rock", "Pop"], TPE1="Queen")
    from mutagen.id3 import ID3

    assert ID3(v23).version[:2] == (2, 3) and ID3(v23).getall("TCON")[0].text == ["Rock/Pop"]
    assert read_genres(v23) == ["Rock", "Pop"]
    assert read_artist(v23) == "Queen"


@needs_lame
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["(17)"], ["Rock"]),  # ID3v1 genre number, as old taggers write it
        (["17"], ["Rock"]),
        (["(17)(18)"], ["Rock", "Techno"]),
        (["(17)Rock"], ["Rock"]),  # number and refinement name the same genre once
        (["Electronic; Dance"], ["Electronic", "Dance"]),
        (["Rock | Pop", "Rock"], ["Rock", "Pop"]),  # an exact repeat is read once
        (["(255)", "Unknown", "  "], []),  # "no genre", said three ways
    ],
)
def test_id3_numbers_and_joined_text(
    source: Path, tmp_path: Path, values: list[str], expected: list[str]
) -> None:
    f = _id3(_encode(source, tmp_path / "song.mp3"), 3, values, TPE2="Album Artist")
    assert read_genres(f) == expected
    assert read_artist(f) == "Album Artist"  # no TPE1: the album artist


@needs_ffmpeg
def test_flac_repeats_genre_and_keeps_other_spellings(source: Path, tmp_path: Path) -> None:
    f = _tag(_encode(source, tmp_path / "a.flac"), genre=["Rock", "hip hop", "Hip-Hop"],
                artist=["Björk"])  # fmt: skip
    assert read_genres(f) == ["Rock", "hip hop", "Hip-Hop"]  # folding is the caller's
    assert read_artist(f) == "Björk"


@needs_ffmpeg
def test_ogg_vorbis_slash_joined_with_album_artist_only(source: Path, tmp_path: Path) -> None:
    f = _tag(_encode(source, tmp_path / "a.ogg"), genre=["Hip-Hop/Rap"],
                albumartist=["Various"])  # fmt: skip
    assert read_tags(f).genres == ("Hip-Hop", "Rap")
    assert read_artist(f) == "Various"
    assert read_tags(f).seconds == pytest.approx(1.5, abs=0.1)


@needs_ffmpeg
def test_opus_several_genre_comments(source: Path, tmp_path: Path) -> None:
    f = _tag(_encode(source, tmp_path / "a.opus"), GENRE=["Jazz", "Blues"], ARTIST=["Nina"])
    assert read_genres(f) == ["Jazz", "Blues"]
    assert read_artist(f) == "Nina"


@needs_ffmpeg
def test_m4a_text_genres_and_numeric_gnre(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mutagen.mp4 import MP4, AtomDataType, MP4Tags

    f = _tag(_encode(source, tmp_path / "a.m4a"), **{"\xa9gen": ["Hip Hop", "Soul"],
                                                       "\xa9ART": ["Erykah"]})  # fmt: skip
    assert read_genres(f) == ["Hip Hop", "Soul"]
    assert read_artist(f) == "Erykah"
    # iTunes' numeric genre atom (ID3v1 number + 1); mutagen reads but does not write it
    atoms = MP4Tags._MP4Tags__atoms  # type: ignore[attr-defined]

    def render(self: MP4Tags, key: str, value: list[int]) -> bytes:
        data = [struct.pack(">H", v) for v in value]
        return self._MP4Tags__render_data(key, 0, AtomDataType.IMPLICIT, data)  # type: ignore[attr-defined]

    monkeypatch.setitem(atoms, b"gnre", (atoms[b"gnre"][0], render))
    g = _encode(source, tmp_path / "b.m4a")
    mp4 = MP4(g)
    if mp4.tags is None:
        mp4.add_tags()
    assert mp4.tags is not None
    mp4.tags["gnre"] = [18]
    mp4.tags["aART"] = ["Band"]
    mp4.save()
    monkeypatch.undo()
    assert read_genres(g) == ["Rock"]
    assert read_artist(g) == "Band"


@needs_ffmpeg
def test_wma_genres_and_album_artist(source: Path, tmp_path: Path) -> None:
    f = _tag(_encode(source, tmp_path / "a.wma"), **{"WM/Genre": ["Jazz", "Latin"],
                                                     "WM/AlbumArtist": ["Orquesta"]})  # fmt: skip
    assert read_genres(f) == ["Jazz", "Latin"]
    assert read_artist(f) == "Orquesta"


@needs_ffmpeg
def test_no_tags_and_damaged_files(source: Path, tmp_path: Path) -> None:
    bare = _encode(source, tmp_path / "bare.flac")
    assert read_genres(bare) == [] and read_artist(bare) == ""
    wav = tmp_path / "plain.wav"
    wav.write_bytes(source.read_bytes())
    assert read_tags(wav).genres == () and read_tags(wav).seconds == pytest.approx(1.5)
    (tmp_path / "bad.flac").write_bytes(b"fLaC" + bytes(50))
    with pytest.raises(TagReadError, match="cannot read its tags"):
        read_genres(tmp_path / "bad.flac")
    (tmp_path / "notes.mp3").write_bytes(b"just some text, not audio at all" * 10)
    with pytest.raises(TagReadError, match="can't sync to MPEG frame"):
        read_tags(tmp_path / "notes.mp3")
    (tmp_path / "voice.amr").write_bytes(b"#!AMR\n" + bytes(100))
    assert read_tags(tmp_path / "voice.amr") == FileTags(
        (), "", 0.0
    )  # a format without tags we read


@pytest.mark.parametrize(
    "spellings",
    [
        ("Hip-Hop", "hip hop", "HipHop", "Hip Hop", "HIP-HOP", " hip-hop "),
        ("R&B", "RnB", "R & B", "Rhythm and Blues", "rhythm & blues"),
        ("Drum & Bass", "Drum and Bass", "drum'n'bass", "DnB"),
        ("Électronique", "electronique", "ELECTRONIQUE"),
        ("Rock", "ROCK", "rock.", "Ｒｏｃｋ"),  # full-width letters, as some CJK taggers write
    ],
)
def test_spellings_of_one_genre_fold_to_one_key(spellings: tuple[str, ...]) -> None:
    assert len({fold_genre(s) for s in spellings}) == 1


def test_different_genres_stay_apart() -> None:
    names = ["Rock", "Pop", "Pop Rock", "Hip-Hop", "Trip-Hop", "Jazz", "Acid Jazz", "J-Pop", "日本"]
    assert len({fold_genre(n) for n in names}) == len(names)
    assert fold_genre("日本") == "日本"  # letters of any script are kept
