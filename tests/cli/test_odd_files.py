"""`classify` through the real command on odd files and odd trees: named pipes (named, found
in a folder, or swapped in after listing), audio piped to standard input, a thousand nested
folders, linked and looping folders, an unreadable folder, and numbers options refuse."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import tone, write

TIMEOUT = 120  # a named pipe used to block forever: a hang fails here instead


def cli(
    *args: str, stdin: bytes | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "mgr_desktop", *args],
        input=stdin, capture_output=True, timeout=TIMEOUT,
    )  # fmt: skip
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def records(proc: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    by_path = {r["path"]: r for r in rows}
    assert len(by_path) == len(rows), "one record per input"
    return by_path


def classify_json(model: Path, *paths: object, **kw: object) -> subprocess.CompletedProcess[str]:
    return cli("classify", "--model", str(model), "--no-cache", "--format", "json",
               *map(str, paths), **kw)  # type: ignore[arg-type]  # fmt: skip


def test_named_pipes_are_refused_at_once(tmp_path: Path, cnn_model: Path) -> None:
    fifo = tmp_path / "p.mp3"
    os.mkfifo(fifo)
    folder = tmp_path / "album"
    good = write(folder / "good.wav", tone(3.0), 22050)
    os.mkfifo(folder / "pipe.flac")
    proc = classify_json(cnn_model, fifo, folder)
    assert proc.returncode == 1, proc.stderr
    rows = records(proc)
    assert set(rows) == {str(fifo), str(good), str(folder / "pipe.flac")}
    for pipe in (fifo, folder / "pipe.flac"):
        assert "named pipe" in rows[str(pipe)]["error"]
    assert rows[str(good)]["genre"]


def test_a_file_swapped_for_a_pipe_after_listing_is_refused(
    tmp_path: Path, cnn_model: Path
) -> None:
    """Between the folder search and the decoding a file becomes a named pipe (a user, a
    sync tool): the decoder must not wait on it."""
    folder = tmp_path / "album"
    first, second = (write(folder / f"{n}.wav", tone(3.0), 22050) for n in ("a", "b"))
    script = textwrap.dedent(f"""
        import os, sys
        import mgr_desktop.audio.input_files as inputs
        from mgr_desktop.cli import main
        listed = inputs.expand_inputs
        def swap(paths):
            found = listed(paths)
            os.unlink({str(first)!r})
            os.mkfifo({str(first)!r})
            return found
        inputs.expand_inputs = swap
        sys.exit(main(["classify", "--model", {str(cnn_model)!r}, "--no-cache",
                       "--format", "json", {str(folder)!r}]))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 1, proc.stderr
    rows = records(proc)
    assert "named pipe" in rows[str(first)]["error"] and rows[str(second)]["genre"]


@pytest.mark.parametrize("name", ["song.mp3", "song.wav", "song.flac"])
def test_audio_piped_to_stdin_is_read_in_full(tmp_path: Path, cnn_model: Path, name: str) -> None:
    song = write(tmp_path / name, tone(8.0, 44100, freq=330.0), 44100)
    from_file = records(classify_json(cnn_model, song))[str(song)]
    for stdin_name in ("/dev/stdin", "-"):
        proc = classify_json(cnn_model, stdin_name, stdin=song.read_bytes())
        assert proc.returncode == 0, proc.stderr
        piped = records(proc)[stdin_name]
        assert piped["duration"] == from_file["duration"]
        assert piped["probabilities"] == pytest.approx(from_file["probabilities"], abs=1e-5)
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("mgr-desktop-stdin-*"))


@contextlib.contextmanager
def deep_tree(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """1,000 nested folders with a song at the bottom: (the top, the song). Removed by `rm`
    afterwards: os.makedirs, shutil.rmtree and pytest's clean-up all recurse and fail on it."""
    top = tmp_path / "deep"
    path = os.fspath(top)
    os.mkdir(path)
    for _ in range(1000):
        path = os.path.join(path, "d")
        os.mkdir(path)
    song = Path(path) / "deep.wav"  # copied: libsndfile's writer refuses so long a name
    song.write_bytes(write(tmp_path / "song.wav", tone(3.0), 22050).read_bytes())
    try:
        yield top, song
    finally:
        subprocess.run(["rm", "-rf", str(top)], check=True, timeout=TIMEOUT)


def test_a_thousand_nested_folders(tmp_path: Path, cnn_model: Path) -> None:
    with deep_tree(tmp_path) as (top, deep):
        os.symlink(top, deep.parent / "back to the top")  # a loop, 1,000 folders down
        beside = tmp_path / "song.wav"
        proc = classify_json(cnn_model, top, beside)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = records(proc)
    assert set(rows) == {str(deep), str(beside)}


def test_linked_album_folders_are_followed_once(tmp_path: Path, cnn_model: Path) -> None:
    elsewhere = tmp_path / "disk2" / "album"
    linked = write(elsewhere / "linked.wav", tone(3.0), 22050)
    library = tmp_path / "library"
    own = write(library / "own" / "own.wav", tone(3.0), 22050)
    os.symlink(elsewhere, library / "album (link)")
    os.symlink(elsewhere, library / "same album again")
    os.symlink(library, library / "own" / "loop")
    proc = classify_json(cnn_model, library)
    assert proc.returncode == 0, proc.stderr
    rows = records(proc)
    assert set(rows) == {str(library / "album (link)" / linked.name), str(own)}


def test_an_unreadable_folder_is_a_record(tmp_path: Path, cnn_model: Path) -> None:
    """A mode-000 folder. Root reads anything, so as root the command runs in a user
    namespace, where it keeps its files but loses the power to override permissions."""
    library = tmp_path / "library"
    readable = write(library / "ok" / "ok.wav", tone(3.0), 22050)
    write(library / "locked" / "hidden.wav", tone(3.0), 22050)
    os.chmod(library / "locked", 0)
    prefix = ("unshare", "--user") if os.geteuid() == 0 else ()
    try:
        proc = classify_json(cnn_model, library, prefix=prefix)
    finally:
        os.chmod(library / "locked", 0o755)
    assert proc.returncode == 1, proc.stderr
    rows = records(proc)
    assert set(rows) == {str(readable), str(library / "locked")}
    assert rows[str(library / "locked")]["error"] == "cannot read folder: permission denied"


@pytest.mark.parametrize("hop", ["0", "-5", "1e-9", "nan", "inf", "1e9"])
def test_hop_out_of_range_is_a_usage_error(tmp_path: Path, cnn_model: Path, hop: str) -> None:
    song = write(tmp_path / "song.wav", tone(3.0), 22050)
    proc = cli("classify", "--model", str(cnn_model), f"--hop={hop}", str(song))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("mgr-desktop: error: --hop must be between")
    assert len(proc.stderr.splitlines()) == 1


def test_train_folds_below_two_is_a_usage_error(tmp_path: Path) -> None:
    proc = cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
               "--split", "kfold", "--folds", "1")  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == "mgr-desktop: error: --folds must be between 2 and 100 (not 1)\n"


@pytest.mark.parametrize(("ext", "rate", "subtype"), [("ogg", 44100, "VORBIS"),
                                                      ("opus", 48000, "OPUS")])  # fmt: skip
def test_chained_and_cut_ogg(tmp_path: Path, cnn_model: Path, ext: str, rate: int, subtype: str):
    first = write(tmp_path / f"a.{ext}", tone(4.0, rate), rate, format="OGG", subtype=subtype)
    music = tone(10.0, rate, freq=330.0) + 0.1 * np.random.default_rng(0).standard_normal(
        10 * rate
    ).astype(np.float32)  # noise: enough bytes that a third of the file holds audio
    second = write(tmp_path / f"b.{ext}", music, rate, format="OGG", subtype=subtype)
    chained = tmp_path / f"chained.{ext}"  # cat a.ogg b.ogg > chained.ogg
    chained.write_bytes(first.read_bytes() + second.read_bytes())
    cut = tmp_path / f"cut.{ext}"
    data = second.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    proc = classify_json(cnn_model, first, chained, cut)
    assert proc.returncode == 0, proc.stderr
    rows = records(proc)
    assert "note" not in rows[str(first)]
    assert rows[str(chained)]["duration"] == pytest.approx(14.0, abs=0.05)
    assert "note" not in rows[str(chained)]
    whole = rows[str(cut)]
    assert 1.0 < whole["duration"] < 6.0 and whole["genre"]
    assert whole["note"].startswith(
        "the file is cut off in the middle of its last Ogg page; decoded the "
    )
