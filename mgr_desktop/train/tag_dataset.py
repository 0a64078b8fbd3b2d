"""A music library labelled by its own genre tags (`train --labels-from-tags`): which files
train, as which genre, which are left out and why, and who the artists are for the split.

The rules, in order:
- Every audio file under the folder is read with mutagen (`audio.tag_reading`): its genre
  values and its artist (else album artist). A file with no genre value is *untagged*: not
  used for training, listed (the model can tag it afterwards).
- Genre values are folded (`fold_genre`: "Hip-Hop", "hip hop", "HipHop" are one genre); a
  genre is named by its most common spelling in the library.
- A genre needs at least `min_tracks` usable tracks by at least `min_artists` artists; the
  others are dropped, listed with their counts.
- A file whose values fold to several genres is used only when exactly one of them is kept:
  a genre head gives one verdict per track, so a file tagged both "Rock" and "Jazz" (both
  kept) has no single right answer and is skipped, listed. Dropping a genre can make such a
  file usable for its other genre, so genres are dropped in rounds (`_drop_small`) until
  every kept genre passes with the files it alone claims.
- Each track's *group* is its artist (case, accents, punctuation and "feat. ..." ignored), or,
  for a file without an artist, its folder (an album, usually). Splits keep a group on one
  side (`splits.group_split`), so no artist is both trained on and tested.
"""

from __future__ import annotations

import os
import re
import shlex
import unicodedata
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mgr_desktop.audio.decode import is_audio_path
from mgr_desktop.audio.tag_reading import FileTags, TagReadError, fold_genre, read_tags
from mgr_desktop.train.dataset_tracks import DatasetError, DatasetReport, Track

MIN_TRACKS = 5
MIN_ARTISTS = 2
MAX_GENRE_CHARS = 64  # a longer value is not a genre name (and no model label may be longer)
MIN_SECONDS = 1.0
UNTAGGED_FILE = "untagged.txt"  # in the run folder: the untagged files, one path a line
INLINE_PATHS = 10  # up to this many untagged files, the preview command names them itself


@dataclass(frozen=True)
class TagRules:
    min_tracks: int = MIN_TRACKS
    min_artists: int = MIN_ARTISTS

    def __post_init__(self) -> None:
        if self.min_tracks < 1 or self.min_artists < 1:
            raise ValueError("--min-tracks and --min-artists must be at least 1")


@dataclass(frozen=True)
class DroppedGenre:
    name: str
    tracks: int  # tracks it could use (no other kept genre) when it was dropped
    artists: int  # their artists (or album folders)
    tagged: int  # files carrying the genre at all


@dataclass
class TagDatasetReport(DatasetReport):
    files: int = 0  # audio files found
    rules: TagRules = field(default_factory=TagRules)
    untagged: list[str] = field(default_factory=list)  # no genre tag: not used, can be tagged
    dropped: list[DroppedGenre] = field(default_factory=list)
    several: list[tuple[str, list[str]]] = field(default_factory=list)  # (path, kept genres)
    only_dropped: list[str] = field(default_factory=list)  # every genre it had was dropped
    groups: dict[str, str] = field(default_factory=dict)  # track path -> artist group
    spellings: dict[str, list[str]] = field(default_factory=dict)  # genre -> all spellings

    def artists(self) -> dict[str, int]:
        found: dict[str, set[str]] = defaultdict(set)
        for t in self.tracks:
            found[t.label].add(self.groups[str(t.path)])
        return {lab: len(found[lab]) for lab in self.labels}

    def summary(self) -> str:
        counts, artists = self.counts(), self.artists()
        lines = [
            f"{self.root}: genres from the files' tags: {len(self.tracks)} tracks in "
            f"{len(self.labels)} genres ({self.files} audio files, {len(self.untagged)} untagged)"
        ]
        for lab in self.labels:
            others = [s for s in self.spellings.get(lab, []) if s != lab]
            also = f"  (also {', '.join(others[:3])})" if others else ""
            lines.append(
                f"  {lab:>12}: {counts[lab]:4d} tracks, {artists[lab]:3d} artists, "
                f"{self.seconds.get(lab, 0) / 60:6.1f} min{also}"
            )
        r = self.rules
        for d in self.dropped:
            lines.append(
                f"  dropped, under {r.min_tracks} tracks or {r.min_artists} artists: {d.name}: "
                f"{d.tracks} tracks by {d.artists} artists ({d.tagged} files tagged)"
            )
        if self.several:
            path, genres = self.several[0]
            lines.append(
                f"  skipped, several genres: {len(self.several)} files (e.g. {path}: "
                f"{', '.join(genres)})"
            )
        if self.only_dropped:
            lines.append(f"  skipped, only dropped genres: {len(self.only_dropped)} files")
        lines.append(f"  untagged (no genre; not trained on): {len(self.untagged)} files")
        lines += [f"  unreadable, skipped: {p}: {why}" for p, why in self.unreadable]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            **super().to_json(), "labels_from_tags": True, "files": self.files,
            "artists": self.artists(), "untagged": self.untagged,
            "dropped": [vars(d) for d in self.dropped],
            "several_genres": [{"path": p, "genres": g} for p, g in self.several],
            "only_dropped_genres": self.only_dropped,
            "min_tracks": self.rules.min_tracks, "min_artists": self.rules.min_artists,
        }  # fmt: skip


@dataclass(frozen=True)
class _File:
    path: Path
    keys: tuple[str, ...]  # folded genres, distinct, in tag order
    spellings: tuple[str, ...]  # the value each key was read from
    group: str
    seconds: float


def discover_tagged(
    root: str | os.PathLike[str], rules: TagRules | None = None
) -> TagDatasetReport:
    """Read every audio file's tags under `root` and decide, by the rules above, which tracks
    train as which genre. Raises DatasetError when fewer than two genres are left."""
    rules = rules or TagRules()
    base = Path(root).expanduser()
    if not base.exists():
        raise DatasetError(f"{base}: no such folder")
    if not base.is_dir():
        raise DatasetError(f"{base}: not a folder")
    paths = audio_files(base)
    if not paths:
        raise DatasetError(f"{base}: no audio files found")
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        read = list(pool.map(_read, paths))
    report = TagDatasetReport(base, [], [], files=len(paths), rules=rules)
    files: list[_File] = []
    for path, got in zip(paths, read, strict=True):
        if isinstance(got, str):
            report.unreadable.append((str(path), got))
        elif got.seconds and got.seconds < MIN_SECONDS:
            report.unreadable.append((str(path), f"too short ({got.seconds:.2f} s)"))
        else:
            f = _file(path, got, base)
            if f.keys:
                files.append(f)
            else:
                report.untagged.append(str(path))
    _label(report, files, rules)
    if len(report.labels) < 2:
        found = ", ".join(f"{d.name} ({d.tracks} tracks, {d.artists} artists)"
                          for d in report.dropped[:6])  # fmt: skip
        raise DatasetError(
            f"{base}: {len(report.labels)} genre(s) in the tags have at least "
            f"{rules.min_tracks} tracks by {rules.min_artists} artists; training needs two"
            + (f". Found: {found}" if found else "")
            + f". {len(report.untagged)} of {len(paths)} audio files have no genre tag."
        )
    return report


def audio_files(base: Path) -> list[Path]:
    """Audio files under `base` by name, hidden files and folders left out, sorted."""
    found = []
    for folder, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder, n) for n in names
                  if not n.startswith(".") and is_audio_path(Path(n))]  # fmt: skip
    return sorted(found, key=str)


def _read(path: Path) -> FileTags | str:
    try:
        return read_tags(path)
    except TagReadError as e:
        return str(e)
    except Exception as e:  # odd tag values in one file must not end the scan of a library
        return f"cannot read its tags: {type(e).__name__}: {e}"


def _file(path: Path, tags: FileTags, base: Path) -> _File:
    keys: dict[str, str] = {}
    for value in tags.genres:
        key = fold_genre(value)
        if key and len(value) <= MAX_GENRE_CHARS:
            keys.setdefault(key, value)
    if tags.artist and artist_key(tags.artist):
        group = "artist:" + artist_key(tags.artist)
    else:
        group = "folder:" + str(path.parent.relative_to(base))
    return _File(path, tuple(keys), tuple(keys.values()), group, tags.seconds)


_FEATURING = re.compile(r"[\s(\[]+(feat\.?|ft\.?|featuring|with)\s.*$", re.IGNORECASE)


def artist_key(artist: str) -> str:
    """One artist's spellings as one key: case, accents, punctuation, a leading "The" and a
    "feat. ..." tail ignored ("The Beatles", "beatles"; "Jay-Z feat. X", "JAY Z")."""
    text = _FEATURING.sub("", artist)
    text = unicodedata.normalize("NFKD", text.replace("&", " and ")).casefold()
    text = re.sub(r"^\s*the\s+", "", text)
    return "".join(c for c in text if c.isalnum())


def _label(report: TagDatasetReport, files: list[_File], rules: TagRules) -> None:
    """Drop the genres that fail the rules, then label each file with its one kept genre."""
    kept = {k for f in files for k in f.keys}
    dropped = _drop_small(files, kept, rules)
    tagged = Counter(k for f in files for k in f.keys)
    names = _names(files)
    report.spellings = {names[k]: _spellings(files, k) for k in kept}
    report.labels = sorted((names[k] for k in kept), key=lambda s: (s.casefold(), s))
    report.dropped = sorted(
        (DroppedGenre(names[k], n, a, tagged[k]) for k, (n, a) in dropped.items()),
        key=lambda d: (-d.tagged, d.name.casefold()),
    )
    seconds: dict[str, float] = defaultdict(float)
    for f in files:
        mine = [k for k in f.keys if k in kept]
        if len(mine) == 1:
            report.tracks.append(Track(f.path, names[mine[0]]))
            report.groups[str(f.path)] = f.group
            seconds[names[mine[0]]] += f.seconds
        elif mine:
            report.several.append((str(f.path), [names[k] for k in mine]))
        else:
            report.only_dropped.append(str(f.path))
    report.seconds = dict(seconds)


def _drop_small(files: list[_File], kept: set[str], rules: TagRules) -> dict[str, tuple[int, int]]:
    """Remove from `kept` the genres below the rules, counting for each genre the files where
    it is the only kept genre; returns each dropped genre's (tracks, artists) then. Genres that
    fail even with every file that carries them go first, all at once; then, one at a time,
    the genre furthest below the rules (its files with another kept genre may rescue that
    genre once it is gone)."""
    dropped: dict[str, tuple[int, int]] = {}
    while True:
        usable = {k: _counts(fs) for k, fs in _by_genre(files, kept, only=True).items()}
        carrying = {k: _counts(fs) for k, fs in _by_genre(files, kept, only=False).items()}
        hopeless = [k for k in kept if _shortfall(carrying[k], rules) > 0]
        short = sorted((-_shortfall(usable[k], rules), usable[k], k) for k in kept
                       if _shortfall(usable[k], rules) > 0)  # fmt: skip
        out = hopeless or [k for *_, k in short[:1]]
        if not out:
            return dropped
        for k in out:
            dropped[k] = usable[k]
            kept.discard(k)


def _by_genre(files: list[_File], kept: set[str], only: bool) -> dict[str, list[_File]]:
    """Per kept genre its files: those where it is the only kept genre (`only`), or all."""
    out: dict[str, list[_File]] = {k: [] for k in kept}
    for f in files:
        mine = [k for k in f.keys if k in kept]
        for k in mine if (len(mine) == 1 or not only) else ():
            out[k].append(f)
    return out


def _counts(files: list[_File]) -> tuple[int, int]:
    return len(files), len({f.group for f in files})


def _shortfall(counts: tuple[int, int], rules: TagRules) -> float:
    """How far below the rules (0: not below): the missing share of tracks plus of artists."""
    tracks, artists = counts
    return (max(0, rules.min_tracks - tracks) / rules.min_tracks
            + max(0, rules.min_artists - artists) / rules.min_artists)  # fmt: skip


def _names(files: list[_File]) -> dict[str, str]:
    """Each genre's name: its most common spelling (ties: the alphabetically first)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for f in files:
        for key, spelling in zip(f.keys, f.spellings, strict=True):
            counts[key][spelling] += 1
    return {k: min(c, key=lambda s: (-c[s], s.casefold(), s)) for k, c in counts.items()}


def _spellings(files: list[_File], key: str) -> list[str]:
    c = Counter(s for f in files for k, s in zip(f.keys, f.spellings, strict=True) if k == key)
    return sorted(c, key=lambda s: (-c[s], s.casefold(), s))


# -- after the run: the untagged files ------------------------------------------------------
def write_untagged(out_dir: str | os.PathLike[str], report: DatasetReport | None) -> Path | None:
    """List a tag-labelled run's untagged files in OUT/untagged.txt (one path a line); None
    (and no file) for other runs."""
    if not isinstance(report, TagDatasetReport):
        return None
    path = Path(out_dir) / UNTAGGED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    from mgr_desktop.atomic import write_text_atomic

    lines = [p for p in report.untagged if "\n" not in p and "\r" not in p]
    write_text_atomic(path, "".join(f"{p}\n" for p in lines))
    return path


def read_untagged(run_dir: str | os.PathLike[str]) -> list[str] | None:
    """The untagged files a run listed, or None when it listed none (not a tag-labelled run)."""
    try:
        text = (Path(run_dir) / UNTAGGED_FILE).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    return [line for line in text.split("\n") if line]


def preview_command(model: str | os.PathLike[str], untagged: list[str], listing: Path) -> str:
    """The command that previews tagging the untagged files with `model`: the files named in
    it when they are few, else read from `listing` (OUT/untagged.txt)."""
    cmd = ["mgr-desktop", "classify", "--model", os.fspath(model), "--write-tags", "--dry-run"]
    if len(untagged) <= INLINE_PATHS:
        return shlex.join([*cmd, *untagged])
    return f"tr '\\n' '\\0' < {shlex.quote(str(listing))} | xargs -0 {shlex.join(cmd)}"
