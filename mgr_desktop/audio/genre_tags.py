"""The genre verdict written into a file's own genre tag, on request only.

ID3 TCON (mp3, and the ID3 chunk of WAV and AIFF), Vorbis comment GENRE (Ogg Vorbis, Opus,
FLAC) and MP4 (c)gen (m4a). mutagen rewrites tags only, never the audio data; on top of that the
file is replaced atomically: the original is copied to a temporary file in the same folder, the
copy is tagged, read back, synced to disk and renamed over the original with its permissions.
Any failure leaves the original untouched. No Qt here: the CLI and the window share it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from typing import Any, Protocol

# Formats whose genre tag we write, by the class mutagen picks after sniffing the content.
ID3_KINDS = ("MP3", "WAVE", "AIFF")
VORBIS_KINDS = ("OggVorbis", "OggOpus", "FLAC", "OggFLAC", "OggSpeex")
MP4_KINDS = ("MP4",)
MP4_GENRE, MP4_GENRE_ID = "\xa9gen", "gnre"
EXTENSIONS = (".mp3", ".wav", ".aif", ".aiff", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".mp4")


class TagError(Exception):
    """This file's genre tag cannot be read or written; the message says why in a few words."""


class Verdict(Protocol):
    """What tagging needs from a result: a TrackResult, or a table row's summary of one.
    Read-only, so frozen dataclasses match it."""

    @property
    def path(self) -> str: ...
    @property
    def genre(self) -> str | None: ...
    @property
    def confidence(self) -> float: ...


def genre_text(label: str) -> str:
    """The text to write for a model label: the standard ID3 spelling when the label names a
    standard genre ('hiphop' -> 'Hip-Hop', 'jazz' -> 'Jazz'), so players file it with the
    genre they already know; any other label as it is."""
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
        raise TagError(f"cannot read its tags: {_reason(e)}") from e
    except Exception as e:  # a damaged file must not end a batch
        raise TagError(f"cannot read its tags: {type(e).__name__}: {e}") from e
    if audio is None:
        raise TagError("unsupported format for genre tags")
    if type(audio).__name__ not in ID3_KINDS + VORBIS_KINDS + MP4_KINDS:
        raise TagError(f"unsupported format for genre tags ({type(audio).__name__})")
    return audio


def _reason(e: BaseException) -> str:
    inner = e.__cause__ or e.__context__
    if isinstance(e, OSError) or isinstance(inner, OSError):
        err = e if isinstance(e, OSError) else inner
        return str(err.strerror or err)  # type: ignore[union-attr]
    return str(e) or type(e).__name__


def _genre_of(audio: Any) -> str | None:
    kind, tags = type(audio).__name__, audio.tags
    if tags is None:
        return None
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
    genres = [g for g in genres if g.strip()]
    return "; ".join(genres) if genres else None


def read_genre(path: str | os.PathLike[str]) -> str | None:
    """The file's current genre tag (several joined by '; '), or None when it has none."""
    return _genre_of(_open(os.fspath(path)))


# -- writing -------------------------------------------------------------------------------
def _set_genre(audio: Any, genre: str) -> None:
    kind = type(audio).__name__
    if kind in ID3_KINDS:
        from mutagen.id3 import TCON

        # New tags are ID3v2.3, which every player reads; existing v2.4 tags stay v2.4.
        version = 3 if audio.tags is None or audio.tags.version[1] <= 3 else 4
        tags = _tags_of(audio)
        tags.delall("TCON")
        tags.add(TCON(encoding=3, text=[genre]))
        if version == 3:
            tags.update_to_v23()
        audio.save(v2_version=version)
    elif kind in MP4_KINDS:
        tags = _tags_of(audio)
        tags.pop(MP4_GENRE_ID, None)
        tags[MP4_GENRE] = [genre]
        audio.save()
    else:
        _tags_of(audio)["GENRE"] = [genre]
        audio.save()


def _tags_of(audio: Any) -> Any:
    """The file's tags, added (empty) first when it has none."""
    if audio.tags is None:
        audio.add_tags()
    return audio.tags


def write_genre(path: str | os.PathLike[str], genre: str) -> str | None:
    """Set the file's genre tag to `genre` (replacing any genres it had); returns the old one.

    Raises TagError with a short reason, and then the file is exactly as it was. A symbolic link
    is followed and its target rewritten; a file with other hard links gets a new inode, so the
    other names keep the old tags."""
    real = os.path.realpath(os.fspath(path))
    try:
        st = os.stat(real)
    except OSError as e:
        raise TagError(str(e.strerror or e)) from e
    if not stat.S_ISREG(st.st_mode):
        raise TagError("not a regular file")
    writable = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    if not os.access(real, os.W_OK) or not st.st_mode & writable:  # root passes os.access
        raise TagError("the file is read-only")
    folder = os.path.dirname(real)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TagError("its folder is read-only")
    kind = type(_open(real))  # refuse unsupported formats before copying anything
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(real)}.", suffix=".tagging", dir=folder
        )
    except OSError as e:
        raise TagError(f"cannot write in its folder: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as dst, open(real, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        audio = kind(tmp)
        old = _genre_of(audio)
        _set_genre(audio, genre)
        if _genre_of(kind(tmp)) != genre:
            raise TagError("the tag did not read back as written")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if hasattr(os, "getuid") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(OSError):  # keep the owner where we may (root, group)
                os.chown(tmp, st.st_uid, st.st_gid)
        now = os.stat(real)
        if (now.st_size, now.st_mtime_ns, now.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
            raise TagError("the file changed while it was being tagged")
        os.replace(tmp, real)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, TagError):
            raise
        if isinstance(e, Exception):
            raise TagError(f"cannot write its tags: {_reason(e)}") from e
        raise
    _sync_folder(folder)
    return old


def _sync_folder(folder: str) -> None:
    """Make the rename durable where the platform allows it (POSIX)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- deciding ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TagChange:
    """What tagging would do to one file: write `new` when `will_write`; otherwise `skip` says
    why not (no verdict, below the threshold, already tagged) or `error` why it cannot be."""

    path: str
    old: str | None
    new: str | None
    confidence: float | None
    skip: str = ""
    error: str = ""

    @property
    def will_write(self) -> bool:
        return not (self.skip or self.error)

    def describe(self) -> str:
        return f"{self.old or '(none)'} -> {self.new}"


def decide(label: str | None, confidence: float, current: str | None, min_confidence: float) -> str:
    """Why a verdict is not written ('no verdict', 'below the threshold (45%)', 'already
    tagged'), or '' when it is: a genre at or above the threshold that the tag lacks."""
    if label is None:
        return "no verdict"
    if confidence < min_confidence:
        return f"below the threshold ({confidence:.0%})"
    if current is not None and current == genre_text(label):
        return "already tagged"
    return ""


def plan(result: Verdict, min_confidence: float, read_all: bool = False) -> TagChange:
    """Decide for one result: write only a genre verdict at or above the threshold, and only
    when it differs from the tag the file already has. The current tag is read for the files
    that pass the threshold, or for every file with `read_all` (a preview shows them all)."""
    path, label, conf = result.path, result.genre, float(result.confidence)
    new = genre_text(label) if label is not None else None
    skip = decide(label, conf, None, min_confidence)
    if skip:
        old = _read_quietly(path) if read_all else None
        return TagChange(path, old, new, conf if label is not None else None, skip)
    try:
        old = read_genre(path)
    except TagError as e:
        return TagChange(path, None, new, conf, error=str(e))
    return TagChange(path, old, new, conf, decide(label, conf, old, min_confidence))


def _read_quietly(path: str) -> str | None:
    try:
        return read_genre(path)
    except TagError:
        return None


def apply(change: TagChange) -> TagChange:
    """Write a planned change; returns it with the old genre as the file really had it.
    Raises TagError."""
    if not change.will_write or change.new is None:
        raise ValueError(f"not a change to write: {change}")
    old = write_genre(change.path, change.new)
    return TagChange(change.path, old, change.new, change.confidence)
