"""The genre verdict written into a file's own genre tag, on request only.

ID3 TCON (mp3, WAV and AIFF), Vorbis comment GENRE (Ogg Vorbis, Opus, FLAC), MP4 (c)gen (m4a).
mutagen rewrites tags only, never the audio; and the file is replaced atomically: a copy in the
same folder ('.mgr-<random>.tagtmp', short whatever the name) is tagged, read back, given the
original's owner, mode and extended attributes (file_keeping.py), synced and renamed over it.
Any failure or signal leaves the original untouched (atomic.py: SIGINT and SIGTERM wait for the
rename; a SIGKILL's leftover copy is removed by the next run's `sweep_leftovers`). No Qt here.

What is written, decided here once for both (`choose` and `decide`):
- a file that already has a genre (an ID3v1 one included) keeps it unless the caller asks to
  replace genres;
- the verdict when its confidence is at or above the threshold; and the runner-up too when the
  music sits between two genres: its probability is at least SECOND_GENRE_RATIO (half) of the
  first's and the two together reach the threshold (so a 40 % / 35 % pair is written under a
  60 % threshold that neither reaches alone);
- each label in the user's own spelling (`names`, see genre_names.py), else the standard ID3
  one ('hiphop' -> 'Hip-Hop').
Two genres are separate values where the format has them: Vorbis/FLAC/Opus repeat GENRE, a new
ID3 tag becomes v2.4 (multi-value TCON). An existing ID3v2.3 tag stays v2.3 - the players that
read its other frames must keep reading them, and some cannot read v2.4 - so its TCON holds
'Jazz/Blues', the separator mutagen and MusicBrainz Picard use for v2.3. MP4 has one (c)gen text:
'Jazz; Blues'.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mgr_desktop.atomic import FileIdentity, TempFile, identity_of, sweep
from mgr_desktop.audio.file_keeping import (
    TagError,
    keep_metadata,
    reason_of,
    sync_folder,
    writable_stat,
)

# Formats whose genre tag we write, by the class mutagen picks after sniffing the content.
ID3_KINDS = ("MP3", "WAVE", "AIFF")
VORBIS_KINDS = ("OggVorbis", "OggOpus", "FLAC", "OggFLAC", "OggSpeex")
MP4_KINDS = ("MP4",)
MP4_GENRE, MP4_GENRE_ID = "\xa9gen", "gnre"
EXTENSIONS = (".mp3", ".wav", ".aif", ".aiff", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".mp4")

# The runner-up is written too when its probability is at least this share of the verdict's
# (and the pair reaches the threshold): the music sits between the two.
SECOND_GENRE_RATIO = 0.5
MP4_SEPARATOR, ID3V23_SEPARATOR = "; ", "/"

# Why a file is not tagged (TagChange.skip); "below the threshold (45%)" carries a number.
NO_VERDICT = "no verdict"
OUTSIDE = "none of its genres"  # the track is outside the model's genres
BELOW = "below the threshold"
ALREADY_TAGGED = "already tagged"
KEPT = "already has genres"  # kept: genres are replaced only on request
# Why a write is refused: the file is not the one whose audio gave the verdict.
CHANGED = "the file changed since it was classified"
TAG_SUFFIX = ".tagtmp"  # the temporary copies: '.mgr-<random>.tagtmp' (atomic.TempFile)


class Verdict(Protocol):
    """What tagging needs from a result: a TrackResult, or a table row's summary of one.
    Read-only, so frozen dataclasses match it. Read when present: `probabilities` (label ->
    probability, for a second genre) and `outside` (True: none of the model's genres)."""

    @property
    def path(self) -> str: ...
    @property
    def genre(self) -> str | None: ...
    @property
    def confidence(self) -> float: ...


def genre_text(label: str, names: Mapping[str, str] | None = None) -> str:
    """The text to write for a model label: the user's own name for it when `names` has one
    (by the label itself, or ignoring case and punctuation); else the standard ID3 spelling
    when the label names a standard genre ('hiphop' -> 'Hip-Hop', 'jazz' -> 'Jazz'), so players
    file it with the genre they already know; any other label as it is."""
    if names:
        name = names.get(label)
        if name is None:
            folded = _fold(label)
            name = next((n for lab, n in names.items() if _fold(lab) == folded), None)
        if name is not None and name.strip():
            return name.strip()
    return _standard_genres().get(_fold(label), label)


def _fold(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


_STANDARD: dict[str, str] = {}


def _standard_genres() -> dict[str, str]:
    if not _STANDARD:
        from mutagen.id3 import TCON

        for name in TCON.GENRES:
            _STANDARD.setdefault(_fold(name), name)
    return _STANDARD


# -- reading -------------------------------------------------------------------------------
def _open(path: str) -> Any:
    import mutagen

    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as e:
        raise TagError(f"cannot read its tags: {reason_of(e)}") from e
    except Exception as e:  # a damaged file must not end a batch
        raise TagError(f"cannot read its tags: {type(e).__name__}: {e}") from e
    if audio is None:
        raise TagError("unsupported format for genre tags")
    if type(audio).__name__ not in ID3_KINDS + VORBIS_KINDS + MP4_KINDS:
        raise TagError(f"unsupported format for genre tags ({type(audio).__name__})")
    return audio


def _genres_of(audio: Any) -> list[str]:
    """The genre values as stored (an ID3v1 genre too: mutagen reads it into TCON)."""
    kind, tags = type(audio).__name__, audio.tags
    if tags is None:
        return []
    if kind in ID3_KINDS:
        genres = [g for frame in tags.getall("TCON") for g in frame.genres]
    elif kind in MP4_KINDS:
        genres = [str(g) for g in tags.get(MP4_GENRE, [])]
        if not genres:
            from mutagen.id3 import TCON

            ids = tags.get(MP4_GENRE_ID, [])
            genres = [TCON.GENRES[i - 1] for i in ids if 0 < i <= len(TCON.GENRES)]
    else:
        genres = [str(g) for g in tags.get("GENRE", [])]
    return [g for g in genres if g.strip()]


def _genre_of(audio: Any) -> str | None:
    genres = _genres_of(audio)
    return "; ".join(genres) if genres else None


def read_genre(path: str | os.PathLike[str]) -> str | None:
    """The file's current genre tag (several joined by '; '), or None when it has none."""
    return _genre_of(_open(os.fspath(path)))


def same_genres(current: str | None, values: Sequence[str]) -> bool:
    """Whether a tag read with read_genre already holds exactly `values`, in any of the ways
    they are written (separate values, or one text joined by '; ' or, in ID3v2.3, '/')."""
    if current is None or not values:
        return False
    return current in (MP4_SEPARATOR.join(values), ID3V23_SEPARATOR.join(values))


# -- writing -------------------------------------------------------------------------------
def _set_genre(audio: Any, genres: Sequence[str]) -> list[str]:
    """Replace the genres in `audio`'s tags and save; returns the values as they will read."""
    kind = type(audio).__name__
    if kind in ID3_KINDS:
        from mutagen.id3 import TCON

        version = _id3_version(audio.tags, len(genres))
        tags = _tags_of(audio)
        tags.delall("TCON")
        tags.add(TCON(encoding=3, text=list(genres)))
        if version == 3:
            tags.update_to_v23()
        audio.save(v2_version=version, v23_sep=ID3V23_SEPARATOR)  # v1=1: an ID3v1 tag follows
        if version == 3 and len(genres) > 1:
            return [ID3V23_SEPARATOR.join(genres)]
        return list(genres)
    if kind in MP4_KINDS:
        tags = _tags_of(audio)
        tags.pop(MP4_GENRE_ID, None)
        tags[MP4_GENRE] = [MP4_SEPARATOR.join(genres)]
        audio.save()
        return [MP4_SEPARATOR.join(genres)]
    _tags_of(audio)["GENRE"] = list(genres)
    audio.save()
    return list(genres)


def _id3_version(tags: Any, count: int) -> int:
    """The ID3v2 version to save: an existing v2.4 tag stays v2.4 and a v2.2/v2.3 one v2.3
    (with several genres joined by '/'); a new tag (none, or ID3v1 only) is v2.3, which every
    player reads, unless it holds several genres: then v2.4, the version with multi-value
    frames."""
    major = tags.version[1] if tags is not None and tags.version[0] == 2 else None
    if major is None:
        return 4 if count > 1 else 3
    return 4 if major >= 4 else 3


def _tags_of(audio: Any) -> Any:
    """The file's tags, added (empty) first when it has none."""
    if audio.tags is None:
        audio.add_tags()
    return audio.tags


def _values(genre: str | Sequence[str]) -> tuple[str, ...]:
    values = (genre,) if isinstance(genre, str) else tuple(genre)
    if not values or any(not isinstance(v, str) or not v.strip() for v in values):
        raise ValueError(f"not genres to write: {genre!r}")
    return tuple(v.strip() for v in values)


def write_genre(
    path: str | os.PathLike[str],
    genre: str | Sequence[str],
    *,
    expect: FileIdentity | None = None,
) -> str | None:
    """Set the file's genre tag to `genre` (one text, or several values best first), replacing
    any genres it had; returns the old ones as read_genre gives them.

    Raises TagError with a short reason, and then the file is exactly as it was. `expect`: the
    file's identity (atomic.identity) when its audio was read for the verdict; a file that no
    longer has it is refused (CHANGED), so a verdict never lands in a file it was not made
    from. A symbolic link is followed and its target rewritten; a file with other hard links
    gets a new inode, so the other names keep the old tags."""
    return tag_file(path, genre, expect=expect)[0]


def tag_file(
    path: str | os.PathLike[str],
    genre: str | Sequence[str],
    *,
    expect: FileIdentity | None = None,
) -> tuple[str | None, FileIdentity]:
    """write_genre, also returning the tagged file's new identity: its audio is the one the
    verdict was made from, so a cache may keep the verdict under it."""
    genres = _values(genre)
    real = os.path.realpath(os.fspath(path))
    st = writable_stat(real)
    if expect is not None and identity_of(real, st) != expect:
        raise TagError(CHANGED)
    kind = type(_open(real))  # refuse unsupported formats before copying anything
    folder = os.path.dirname(real)
    try:
        tmp = TempFile.create(folder, TAG_SUFFIX)
    except OSError as e:
        raise TagError(f"cannot write in its folder: {e.strerror or e}") from e
    with tmp:
        try:
            old = _tagged_copy(real, tmp, kind, genres, st)
            if identity_of(real, os.stat(real)) != identity_of(real, st):
                raise TagError("the file changed while it was being tagged")
            new = tmp.commit(real)
        except TagError:
            raise
        except Exception as e:
            raise TagError(f"cannot write its tags: {reason_of(e)}") from e
    sync_folder(folder)
    return old, identity_of(real, new)


def _tagged_copy(
    real: str, tmp: TempFile, kind: Any, genres: Sequence[str], st: os.stat_result
) -> str | None:
    """Copy the original into `tmp`, tag the copy and check it; returns the old genres."""
    shutil.copyfile(real, tmp.path)
    audio = kind(tmp.path)
    old = _genre_of(audio)
    expected = _set_genre(audio, genres)
    if _genres_of(kind(tmp.path)) != expected:
        raise TagError("the tag did not read back as written")
    keep_metadata(real, tmp.path, st)
    tmp.sync()
    return old


def sweep_leftovers(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary copies that killed runs left in `folder`, never one that a run still
    at work holds (see atomic.py); returns their paths."""
    return sweep(folder, TAG_SUFFIX)


def choose_labels(
    label: str | None,
    confidence: float,
    probabilities: Mapping[str, float] | None,
    min_confidence: float,
) -> list[str]:
    """The rule, in one place: the model labels to write, best first ([] for none). The verdict
    when it reaches the threshold; with the runner-up too when that has at least
    SECOND_GENRE_RATIO of the verdict's probability and the two together reach the threshold."""
    if label is None:
        return []
    others = [(p, g) for g, p in (probabilities or {}).items() if g != label and p > 0]
    if others:
        p2, second = max(others)
        if p2 >= SECOND_GENRE_RATIO * confidence and confidence + p2 >= min_confidence:
            return [label, second]
    return [label] if confidence >= min_confidence else []


def choose(
    result: Verdict, min_confidence: float, names: Mapping[str, str] | None = None
) -> tuple[tuple[str, ...], str]:
    """(the genres to write for a result, in the user's spelling; '') or ((), why none):
    'no verdict', 'none of its genres' (a track outside the model's genres) or 'below the
    threshold (45%)'. Reads no file."""
    if result.genre is None:
        return (), OUTSIDE if getattr(result, "outside", False) else NO_VERDICT
    conf = float(result.confidence)
    probabilities = getattr(result, "probabilities", None)
    labels = choose_labels(result.genre, conf, probabilities, min_confidence)
    if not labels:
        return (), f"{BELOW} ({conf:.0%})"
    return tuple(dict.fromkeys(genre_text(lab, names) for lab in labels)), ""


def decide(new: Sequence[str], current: str | None, replace: bool = False) -> str:
    """Why genres that passed `choose` are not written to a file whose tag reads `current`:
    'already tagged' (it holds them), 'already has genres' (other ones, kept unless `replace`),
    or '' to write them."""
    if same_genres(current, new):
        return ALREADY_TAGGED
    if current is not None and not replace:
        return KEPT
    return ""


@dataclass(frozen=True)
class TagChange:
    """What tagging would do to one file: write `new` when `will_write`; otherwise `skip` says
    why not (no verdict, below the threshold, already tagged, kept) or `error` why it cannot
    be. `old` is the file's genre tag as read_genre gives it (when it was read)."""

    path: str
    old: str | None
    new: tuple[str, ...]
    confidence: float | None
    skip: str = ""
    error: str = ""

    @property
    def will_write(self) -> bool:
        return not (self.skip or self.error)

    @property
    def new_text(self) -> str:
        return MP4_SEPARATOR.join(self.new)

    def describe(self) -> str:
        """'(none) -> Jazz', 'Rock -> Jazz; Blues' or, for a file kept as it is,
        'Rock; Pop (kept: already has genres)'."""
        if self.skip == KEPT:
            return f"{self.old} (kept: {KEPT})"
        return f"{self.old or '(none)'} -> {self.new_text or '(nothing)'}"


def plan(
    result: Verdict,
    min_confidence: float,
    read_all: bool = False,
    *,
    replace: bool = False,
    names: Mapping[str, str] | None = None,
) -> TagChange:
    """Decide for one result (see `choose` and `decide`). The current tag is read for the
    files whose verdict passes, or for every file with `read_all` (a preview shows them all)."""
    path = result.path
    conf = float(result.confidence) if result.genre is not None else None
    new, skip = choose(result, min_confidence, names)
    if skip:
        old = _read_quietly(path) if read_all else None
        return TagChange(path, old, new, conf, skip)
    try:
        old = read_genre(path)
    except TagError as e:
        return TagChange(path, None, new, conf, error=str(e))
    return TagChange(path, old, new, conf, decide(new, old, replace))


def _read_quietly(path: str) -> str | None:
    try:
        return read_genre(path)
    except TagError:
        return None


def apply(change: TagChange) -> TagChange:
    """Write a planned change; returns it with the old genre as the file really had it.
    Raises TagError."""
    if not change.will_write or not change.new:
        raise ValueError(f"not a change to write: {change}")
    old = write_genre(change.path, change.new)
    return TagChange(change.path, old, change.new, change.confidence)
