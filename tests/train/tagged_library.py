"""A music library generated in the test: synthetic genres (`train.synthetic`) as FLAC files
in artist/album folders, carrying genre and artist tags the way real libraries do (several
spellings of a genre, several genres per file, files with no genre or no artist)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mgr_desktop.train.synthetic import synth_track


@dataclass(frozen=True)
class Song:
    path: str  # relative to the library
    genres: tuple[str, ...]  # as tagged; () for an untagged file
    artist: str = ""  # '' for no artist tag
    sound: int = 0  # which synthetic genre the audio is


def write_library(root: Path, songs: list[Song], seconds: float = 4.0, seed: int = 0) -> Path:
    from mutagen.flac import FLAC

    rng = np.random.default_rng(seed)
    n_sounds = max(s.sound for s in songs) + 1
    for song in songs:
        path = root / song.path
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, synth_track(song.sound, n_sounds, seconds, rng), 22050, format="FLAC")
        f = FLAC(path)
        if song.genres:
            f["genre"] = list(song.genres)
        if song.artist:
            f["artist"] = [song.artist]
        f["title"] = [path.stem]
        f.save()
    return root


SPELLINGS = {"Hip-Hop": ("Hip-Hop", "hip hop", "Hip-Hop", "HipHop"), "Jazz": ("Jazz",),
             "Rock": ("Rock", "ROCK")}  # fmt: skip


def small_library_songs(artists: int = 4, per_artist: int = 2) -> list[Song]:
    """Three genres (Hip-Hop, Jazz, Rock; sounds 0, 1, 2) of `artists` artists each, one of
    Hip-Hop's without an artist tag (its album folder stands in); a genre too small to keep;
    a file tagged with two kept genres; and three untagged files."""
    songs: list[Song] = []
    for sound, (genre, spellings) in enumerate(SPELLINGS.items()):
        for a in range(artists):
            artist = "" if (genre, a) == ("Hip-Hop", 0) else f"{genre} Artist {a}"
            for i in range(per_artist):
                spelling = spellings[(a * per_artist + i) % len(spellings)]
                folder = f"{genre} Artist {a}/Album" if artist else "Unknown Album"
                songs.append(Song(f"{folder}/{genre}-{a}-{i}.flac", (spelling,), artist, sound))
    songs += [
        Song("Polka Band/p1.flac", ("Polka",), "Polka Band", 0),
        Song("Polka Band/p2.flac", ("Polka", "Jazz"), "Polka Band", 1),  # Polka dropped: Jazz
        Song("Mixed/both.flac", ("Rock", "Jazz"), "Crossover", 2),  # two kept genres: skipped
    ]
    songs += [Song(f"Inbox/untagged-{i}.flac", (), "Someone" if i else "", i) for i in range(3)]
    return songs
