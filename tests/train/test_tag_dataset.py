"""A library labelled by its genre tags: folding, too-small genres, several genres per file,
untagged files, and splits that never put one artist on both sides."""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mgr_desktop.train.data import make_splits
from mgr_desktop.train.dataset_tracks import DatasetError, Track
from mgr_desktop.train.splits import group_kfold, group_split
from mgr_desktop.train.tag_dataset import (
    DroppedGenre,
    TagRules,
    artist_key,
    discover_tagged,
    preview_command,
    read_untagged,
    write_untagged,
)
from tests.train.tagged_library import Song, small_library_songs, write_library


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_library(tmp_path_factory.mktemp("lib"), small_library_songs(), seconds=1.5)
    (root / "Broken").mkdir()
    (root / "Broken" / "bad.flac").write_bytes(b"fLaC" + bytes(40))
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.flac").write_bytes((root / "Mixed" / "both.flac").read_bytes())
    return root


def test_genres_fold_and_take_their_most_common_spelling(library: Path) -> None:
    report = discover_tagged(library)
    # "Hip-Hop" x4, "hip hop" x2, "HipHop" x2 -> one genre, named by the commonest spelling
    assert report.labels == ["Hip-Hop", "Jazz", "Rock"]
    assert report.spellings["Hip-Hop"] == ["Hip-Hop", "hip hop", "HipHop"]
    assert report.spellings["Rock"] == ["Rock", "ROCK"]
    # 8 each; Jazz also gets the file tagged Polka + Jazz once Polka is dropped
    assert report.counts() == {"Hip-Hop": 8, "Jazz": 9, "Rock": 8}
    assert report.artists() == {"Hip-Hop": 4, "Jazz": 5, "Rock": 4}
    assert report.seconds["Jazz"] == pytest.approx(9 * 1.5, abs=0.1)


def test_small_genres_several_genres_untagged_and_unreadable_are_reported(library: Path) -> None:
    report = discover_tagged(library)
    assert report.dropped == [DroppedGenre("Polka", tracks=1, artists=1, tagged=2)]
    assert report.several == [(str(library / "Mixed" / "both.flac"), ["Rock", "Jazz"])]  # tag order
    assert report.only_dropped == [str(library / "Polka Band" / "p1.flac")]
    assert sorted(Path(p).name for p in report.untagged) == [
        "untagged-0.flac", "untagged-1.flac", "untagged-2.flac"]  # fmt: skip
    assert [(Path(p).name, "cannot read its tags" in why) for p, why in report.unreadable] == [
        ("bad.flac", True)]  # fmt: skip
    assert report.files == 31  # the hidden folder is not searched
    used = {str(t.path) for t in report.tracks}
    assert not used & {*report.untagged, *report.only_dropped, report.several[0][0]}
    text = report.summary()
    for needle in (
        "25 tracks in 3 genres",
        "31 audio files, 3 untagged",
        "also hip hop, HipHop",
        "dropped, under 5 tracks or 2 artists: Polka: 1 tracks by 1 artists",
        "skipped, several genres: 1 files",
        "untagged (no genre; not trained on): 3",
    ):
        assert needle in text, needle  # fmt: skip
    doc = report.to_json()
    assert doc["labels_from_tags"] is True and len(doc["untagged"]) == 3  # type: ignore[arg-type]
    assert doc["dropped"] == [{"name": "Polka", "tracks": 1, "artists": 1, "tagged": 2}]


def test_a_file_without_an_artist_is_grouped_by_its_folder(library: Path) -> None:
    report = discover_tagged(library)
    groups = {Path(p).name: g for p, g in report.groups.items()}
    assert groups["Hip-Hop-0-0.flac"] == groups["Hip-Hop-0-1.flac"] == "folder:Unknown Album"
    assert groups["Jazz-2-0.flac"] == "artist:jazzartist2"


def test_too_few_tracks_or_artists_drop_a_genre_and_dropping_frees_its_files(
    tmp_path: Path,
) -> None:
    songs = [Song(f"solo/{i}.flac", ("Ambient",), "One Artist") for i in range(6)]  # 1 artist
    songs += [Song(f"f{i}/{i}.flac", ("Folk",), f"Folk {i}") for i in range(4)]
    songs += [Song("f9/x.flac", ("Folk", "Ambient"), "Folk 9")]  # Folk once Ambient is gone
    songs += [Song(f"p{i}/{i}.flac", ("Punk",), f"Punk {i % 2}") for i in range(5)]
    songs += [Song(f"r{i}/{i}.flac", ("Reggae",), f"R {i}") for i in range(3)]
    report = discover_tagged(write_library(tmp_path, songs, seconds=1.2))
    assert report.labels == ["Folk", "Punk"]
    assert report.counts() == {"Folk": 5, "Punk": 5}
    assert {d.name: (d.tracks, d.artists) for d in report.dropped} == {
        "Ambient": (6, 1), "Reggae": (3, 3)}  # fmt: skip
    # one artist is enough now: Ambient stays, and Folk (4 tracks of its own) goes, which
    # gives Ambient the file tagged with both
    laxer = discover_tagged(tmp_path, TagRules(min_tracks=5, min_artists=1))
    assert laxer.labels == ["Ambient", "Punk"]
    assert laxer.counts() == {"Ambient": 7, "Punk": 5}
    assert {d.name: (d.tracks, d.artists) for d in laxer.dropped} == {
        "Folk": (4, 4), "Reggae": (3, 3)}  # fmt: skip
    assert laxer.several == [] and len(laxer.only_dropped) == 4 + 3


def test_fewer_than_two_genres_is_refused_with_what_was_found(tmp_path: Path) -> None:
    songs = [Song(f"a{i}/{i}.flac", ("Jazz",), f"A{i}") for i in range(6)]
    songs += [Song(f"b/{i}.flac", ("Rock",), "B") for i in range(2)]
    songs += [Song("c/x.flac", ())]
    write_library(tmp_path, songs, seconds=1.2)
    with pytest.raises(DatasetError) as e:
        discover_tagged(tmp_path)
    assert "training needs two" in str(e.value) and "Rock (2 tracks, 1 artists)" in str(e.value)
    assert "1 of 9 audio files have no genre tag" in str(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no audio files"):
        discover_tagged(tmp_path / "empty")
    with pytest.raises(DatasetError, match="no such folder"):
        discover_tagged(tmp_path / "nothing-here")


def test_fault_filtered_is_refused_for_tag_labels(library: Path) -> None:
    with pytest.raises(DatasetError, match="with labels from tags use --split random"):
        make_splits(discover_tagged(library), "fault-filtered", 0)


def _artist_library(n_artists: int = 30, seed_genres: int = 4) -> tuple[list[Track], dict]:
    """Artists with 1-5 tracks, some in two genres."""
    tracks, groups = [], {}
    for a in range(n_artists):
        for i in range(1 + a % 5):
            genre = f"g{(a + (i if a % 7 == 0 else 0)) % seed_genres}"
            path = f"/m/artist{a}/{i}.flac"
            tracks.append(Track(Path(path), genre))
            groups[path] = f"artist:{a}"
    return tracks, groups


def _parts_of_each_artist(split, groups: dict) -> dict[str, set[str]]:
    where: dict[str, set[str]] = defaultdict(set)
    for part in ("train", "valid", "test"):
        for t in getattr(split, part):
            where[groups[str(t.path)]].add(part)
    return where


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_split_never_puts_an_artist_on_both_sides(seed: int) -> None:
    tracks, groups = _artist_library()
    split = group_split(tracks, groups, seed)
    split.check_disjoint()
    assert sum(len(getattr(split, p)) for p in ("train", "valid", "test")) == len(tracks)
    assert all(len(parts) == 1 for parts in _parts_of_each_artist(split, groups).values())
    for part in ("train", "valid", "test"):  # every genre is trained, validated and tested
        assert set(Counter(t.label for t in getattr(split, part))) == {"g0", "g1", "g2", "g3"}
    assert group_split(tracks, groups, seed) == split  # seeded
    assert split.name == "by-artist"


def test_artist_kfold_tests_every_artist_once_and_never_trains_on_it() -> None:
    tracks, groups = _artist_library()
    folds = group_kfold(tracks, groups, k=5, seed=0)
    tested = Counter(groups[str(t.path)] for f in folds for t in f.test)
    assert len(tested) == 30
    assert Counter(str(t.path) for f in folds for t in f.test) == Counter(
        str(t.path) for t in tracks)  # fmt: skip
    for f in folds:
        assert all(len(p) == 1 for p in _parts_of_each_artist(f, groups).values())
    with pytest.raises(DatasetError, match="at least 5 artists"):
        group_kfold(tracks[:3], groups, k=5)


def test_a_genre_of_two_artists_is_validated_not_tested() -> None:
    tracks = [Track(Path(f"/m/{a}/{i}"), "duo") for a in "xy" for i in range(3)]
    tracks += [Track(Path(f"/m/{a}/{i}"), "many") for a in "abcdef" for i in range(2)]
    groups = {str(t.path): t.path.parent.name for t in tracks}
    split = group_split(tracks, groups, 0)
    labels = {p: Counter(t.label for t in getattr(split, p)) for p in ("train", "valid", "test")}
    assert labels["train"]["duo"] == labels["valid"]["duo"] == 3 and labels["test"]["duo"] == 0
    assert all(labels[p]["many"] > 0 for p in labels)


@pytest.mark.parametrize(
    ("a", "b"),
    [("The Beatles", "beatles"), ("Jay-Z feat. Alicia Keys", "JAY Z"), ("Björk", "Bjork"),
     ("Simon & Garfunkel", "Simon and Garfunkel"), ("Drake (ft. Rihanna)", "Drake")],
)  # fmt: skip
def test_spellings_of_one_artist_are_one_group(a: str, b: str) -> None:
    assert artist_key(a) == artist_key(b)
    assert artist_key("Beatles") != artist_key("Beat")


def test_untagged_list_and_the_preview_command(library: Path, tmp_path: Path) -> None:
    report = discover_tagged(library)
    listing = write_untagged(tmp_path / "run", report)
    assert listing == tmp_path / "run" / "untagged.txt"
    assert read_untagged(tmp_path / "run") == report.untagged
    assert read_untagged(tmp_path / "elsewhere") is None
    model = tmp_path / "my run" / "model.safetensors"
    cmd = preview_command(model, report.untagged, listing)
    assert shlex.split(cmd) == ["mgr-desktop", "classify", "--model", str(model),
                                "--write-tags", "--dry-run", *report.untagged]  # fmt: skip
    many = [f"/music/song {i}.mp3" for i in range(50)]
    cmd = preview_command(model, many, listing)
    assert cmd.startswith(f"tr '\\n' '\\0' < {listing} | xargs -0 mgr-desktop classify")
    assert cmd.endswith("--write-tags --dry-run") and shlex.quote(str(model)) in cmd


def test_a_library_of_one_artist_per_genre_cannot_be_split_by_artist(tmp_path: Path) -> None:
    songs = [Song(f"{g}/{i}.flac", (g,), f"{g} only") for g in ("Jazz", "Rock") for i in range(5)]
    report = discover_tagged(write_library(tmp_path, songs, seconds=1.2), TagRules(5, 1))
    assert report.labels == ["Jazz", "Rock"]
    with pytest.raises(DatasetError, match="needs one to validate on"):
        make_splits(report, "random", 0)
