"""A file's own genre and artist tags, read with mutagen, as lists of clean values.

Every genre value a file carries is returned separately: ID3 TCON text values (ID3v2.4 keeps
several as separate values, ID3v2.3 joins them with '/'), ID3v1 genre numbers such as "(17)"
or "17" (-> "Rock"), Vorbis comment GENRE (Ogg Vorbis, Opus, FLAC; may repeat), MP4 (c)gen and
the numeric gnre atom, ASF WM/Genre. Text joined with ';', '/' or '|' is split; commas are not
("Folk, World, & Country" is one genre). `fold_genre` gives the key under which spellings of
one genre meet ("Hip-Hop", "hip hop", "HipHop" -> "hiphop").

No Qt and no torch here: the training data set and the tag writer can both use it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

# Formats whose tags we read, by the class mutagen picks after sniffing the content.
ID3_KINDS = ("MP3", "WAVE", "AIFF", "TrueAudio", "EasyMP3")
VORBIS_KINDS = ("OggVorbis", "OggOpus", "FLAC", "OggFLAC", "OggSpeex", "OggTheora")
MP4_KINDS = ("MP4", "EasyMP4")
ASF_KINDS = ("ASF",)

_SPLIT = re.compile(r"[;/|\x00]")
# Values that say "no genre" rather than name one (ID3v1's 255 reads as "Unknown").
_NO_GENRE = frozenset({"", "unknown", "none", "genre", "undefined", "nogenre", "misc"})
# Spellings that plain folding does not join: connectors ('n', &, and) and the usual
# abbreviations.
_ALIASES = {
    "rnb": "randb", "rhythmandblues": "randb", "rb": "randb",
    "drumnbass": "drumandbass", "dnb": "drumandbass",
    "rocknroll": "rockandroll", "rockroll": "rockandroll",
}  # fmt: skip

# Where each kind keeps its artist and album artist, first match wins.
_ARTIST_KEYS = {
    "id3": ("TPE1", "TPE2"),
    "vorbis": ("artist", "albumartist", "album artist", "album_artist"),
    "mp4": ("\xa9ART", "aART"),
    "asf": ("Author", "WM/AlbumArtist"),
}


class TagReadError(Exception):
    """The file's tags cannot be read (damaged, unreadable); the message says why."""


@dataclass(frozen=True)
class FileTags:
    genres: tuple[str, ...]  # each genre value, as written (trimmed, ID3v1 numbers named)
    artist: str  # the artist, else the album artist, else ''
    seconds: float = 0.0  # the length the header gives; 0.0 when unknown


def fold_genre(text: str) -> str:
    """The key one genre's spellings share: case, accents, spaces and punctuation ignored,
    '&' read as 'and', a few usual abbreviations joined ('R&B', 'RnB', 'Rhythm and Blues')."""
    decomposed = unicodedata.normalize("NFKD", text.replace("&", " and "))
    key = "".join(c for c in decomposed.casefold() if c.isalnum())
    return _ALIASES.get(key, key)


def read_tags(path: str | os.PathLike[str]) -> FileTags:
    """Genres, artist and length from one read of the file. Formats whose tags we do not know,
    and files with no tags, give no genres and no artist. Raises TagReadError."""
    audio = _open(os.fspath(path))
    if audio is None:
        return FileTags((), "")
    seconds = float(getattr(audio.info, "length", 0.0) or 0.0)
    family = _family(type(audio).__name__)
    if family is None or audio.tags is None:
        return FileTags((), "", seconds)
    genres = tuple(_clean(_raw_genres(audio.tags, family)))
    return FileTags(genres, _artist(audio.tags, family), seconds)


def read_genres(path: str | os.PathLike[str]) -> list[str]:
    """Every genre value of the file, split and cleaned, in order, exact repeats removed
    (other spellings of one genre are kept: `fold_genre` joins them); [] when it has none.
    Raises TagReadError."""
    return list(read_tags(path).genres)


def read_artist(path: str | os.PathLike[str]) -> str:
    """The artist tag, else the album artist; '' when the file has neither. Raises
    TagReadError."""
    return read_tags(path).artist


# -- inside --------------------------------------------------------------------------------
def _open(path: str) -> Any:
    import mutagen

    try:
        return mutagen.File(path)
    except mutagen.MutagenError as e:
        inner = e.__cause__ or e.__context__
        why = inner.strerror if isinstance(inner, OSError) and inner.strerror else str(e)
        raise TagReadError(f"cannot read its tags: {why or type(e).__name__}") from e
    except Exception as e:  # a damaged file must not end a library scan
        raise TagReadError(f"cannot read its tags: {type(e).__name__}: {e}") from e


def _family(kind: str) -> str | None:
    for family, kinds in (("id3", ID3_KINDS), ("vorbis", VORBIS_KINDS), ("mp4", MP4_KINDS),
                          ("asf", ASF_KINDS)):  # fmt: skip
        if kind in kinds:
            return family
    return None


def _raw_genres(tags: Any, family: str) -> list[str]:
    if family == "id3":
        return [str(t) for frame in tags.getall("TCON") for t in frame.text]
    if family == "mp4":
        from mutagen.id3 import TCON

        ids = [int(i) for i in tags.get("gnre", []) if isinstance(i, int)]  # mutagen maps it
        named = [TCON.GENRES[i - 1] for i in ids if 0 < i <= len(TCON.GENRES)]
        return [str(g) for g in tags.get("\xa9gen", [])] + named
    if family == "asf":
        return [str(v) for v in tags.get("WM/Genre", [])]
    return [str(g) for g in tags.get("genre", [])]


def _clean(values: list[str]) -> list[str]:
    """Split joined values, name ID3v1 genre numbers, drop control characters, empty and
    "unknown" values and exact repeats."""
    from mutagen.id3 import TCON

    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        for part in _SPLIT.split(value):
            # TCON's own parser names "(17)", "17" and "(17)(18)" (and "(RX)": Remix).
            for name in TCON(encoding=3, text=[part.strip()]).genres if part.strip() else ():
                name = _printable(name)
                if fold_genre(name) in _NO_GENRE or name in seen:
                    continue
                seen.add(name)
                out.append(name)
    return out


def _artist(tags: Any, family: str) -> str:
    for key in _ARTIST_KEYS[family]:
        if family == "id3":
            frame = tags.get(key)
            values = list(frame.text) if frame is not None else []
        else:
            values = tags.get(key, [])
        for value in values:
            text = _printable(str(value))
            if text:
                return text
    return ""


def _printable(text: str) -> str:
    """Control characters as spaces, runs of spaces as one, none at the ends."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
