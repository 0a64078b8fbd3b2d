"""Folders are searched by audio extension; files named directly are kept whatever their name."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgr_desktop.audio.input_files import expand_inputs


def test_folders_find_every_common_audio_container(tmp_path: Path) -> None:
    names = ["a.mp3", "b.M4A", "c.webm", "d.mka", "e.mp4", "f.mov", "g.ac3", "h.wv", "i.m4b",
             "j.opus", "k.wma", "l.aiff", "m.flac", "n.alac"]  # fmt: skip
    for name in [*names, "cover.jpg", "notes.txt", "playlist.m3u"]:
        (tmp_path / "music" / "sub").mkdir(parents=True, exist_ok=True)
        (tmp_path / "music" / "sub" / name).write_bytes(b"x")
    files, problems = expand_inputs([tmp_path / "music"])
    assert sorted(p.name for p in files) == sorted(names) and not problems


def test_files_named_directly_are_kept_whatever_their_extension(tmp_path: Path) -> None:
    odd = tmp_path / "recording.bin"
    odd.write_bytes(b"x")
    files, problems = expand_inputs([odd, tmp_path / "missing.mp3"])
    assert files == [odd]
    assert [(p.path, p.reason) for p in problems] == [
        (str(tmp_path / "missing.mp3"), "no such file or folder")
    ]


def test_folder_without_audio_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("hi")
    files, problems = expand_inputs([tmp_path / "docs"])
    assert not files and problems[0].reason == "folder contains no audio files"


def test_standard_input_is_spooled_whole_within_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    from mgr_desktop.audio.input_files import spool_stdin

    class Pipe(io.TextIOWrapper):
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", Pipe(io.BytesIO(b"x" * 5000)))
    with spool_stdin() as copy:
        assert copy.read_bytes() == b"x" * 5000
    assert not copy.exists()  # deleted afterwards
    monkeypatch.setattr(sys, "stdin", Pipe(io.BytesIO(b"x" * 5000)))
    with pytest.raises(OSError, match="more than"), spool_stdin(limit=4096):
        pass
