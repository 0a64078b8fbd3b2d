"""`classify --write-tags` killed at chosen moments (SIGKILL, SIGTERM, SIGINT) in a real
subprocess: every original is either untouched or fully tagged with the same audio, a signal
lets the write under way finish and leaves no copy behind, and the next run removes what a
SIGKILL left. The files carry big cover pictures so that each write takes long enough to be
caught in the middle."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf

import mgr_desktop
from tests.helpers import tone, write

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals"),
]

TEMP = re.compile(r"\.mgr-[0-9a-f]{12}\.tagtmp\Z")
PICTURE_BYTES = 6 << 20


@dataclass(frozen=True)
class Original:
    data: bytes
    pcm: np.ndarray
    mode: int


def add_tags(path: Path, title: str) -> None:
    """A title and a big cover picture, in the format's own way."""
    from mutagen.flac import Picture
    from mutagen.id3 import APIC, TIT2

    audio = mutagen.File(path)
    picture = os.urandom(PICTURE_BYTES)
    if path.suffix == ".wav":
        audio.add_tags()
        audio.tags.add(TIT2(encoding=3, text=title))
        audio.tags.add(APIC(encoding=0, mime="image/jpeg", type=3, desc="", data=picture))
    else:
        audio["title"] = title
        pic = Picture()
        pic.type, pic.mime, pic.data = 3, "image/jpeg", picture
        if path.suffix == ".flac":
            audio.add_picture(pic)
        else:
            audio["metadata_block_picture"] = [base64.b64encode(pic.write()).decode()]
    audio.save()


def title_and_genre(path: Path) -> tuple[str | None, list[str]]:
    tags = mutagen.File(path).tags
    if path.suffix == ".wav":
        title = tags.get("TIT2")
        return (str(title) if title else None), [g for f in tags.getall("TCON") for g in f.genres]
    return (tags.get("title") or [None])[0], list(tags.get("genre", []))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six songs (wav, flac, ogg), untagged genres, made once and copied for each test."""
    d = tmp_path_factory.mktemp("library")
    for i, ext in enumerate((".wav", ".flac", ".ogg") * 2):
        wave = tone(3.5, 22050, freq=150.0 * (i + 1))
        add_tags(write(d / f"{i} song{ext}", wave, 22050), f"Song {i}")
    return d


@pytest.fixture
def folder(library: Path, tmp_path: Path) -> tuple[Path, dict[Path, Original]]:
    d = tmp_path / "music"
    shutil.copytree(library, d)
    for i, p in enumerate(sorted(d.iterdir())):
        p.chmod(0o640 if i % 2 else 0o604)
    return d, {
        p: Original(p.read_bytes(), sf.read(p)[0], stat.S_IMODE(p.stat().st_mode))
        for p in d.iterdir()
    }


def temps(folder: Path) -> list[str]:
    """The temporary copies in the folder: anything hidden (the songs are not)."""
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def check_each(originals: dict[Path, Original]) -> int:
    """Every original is untouched or fully tagged (same audio, title, mode); the count tagged."""
    tagged = 0
    for path, was in originals.items():
        if path.read_bytes() == was.data:
            continue
        title, genres = title_and_genre(path)
        assert genres, f"{path.name} changed but has no genre"
        assert title == f"Song {path.name.split()[0]}"
        np.testing.assert_array_equal(sf.read(path)[0], was.pcm)
        assert stat.S_IMODE(path.stat().st_mode) == was.mode
        tagged += 1
    return tagged


class Run:
    """`mgr-desktop classify --write-tags` in a subprocess, on the code under test."""

    def __init__(self, folder: Path, model: Path, home: Path) -> None:
        self.err_path = home / f"stderr-{time.monotonic_ns()}.txt"
        env = dict(os.environ, MGR_DESKTOP_HOME=str(home))
        env["PYTHONPATH"] = str(Path(mgr_desktop.__file__).parents[1])
        args = ["--model", str(model), "--write-tags", "--min-confidence", "0", str(folder)]
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mgr_desktop", "classify", *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=home,
                env=env,
            )

    @property
    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def finish(self, timeout: float = 120) -> int:
        return self.proc.wait(timeout)

    def stop_while_copying(self, folder: Path, nth: int) -> None:
        """Poll until the run is writing its `nth` temporary copy, and stop it (SIGSTOP) while
        the copy is there: then a signal lands in the middle of a write."""
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the run ended after {len(seen)} copies:\n{self.err}")
            now = temps(folder)
            seen.update(now)  # a busy machine may miss a short write: count those reported too
            if now and max(len(seen), self.err.count(" -> ") + 1) >= nth:
                self.proc.send_signal(signal.SIGSTOP)
                os.waitpid(self.proc.pid, os.WUNTRACED)  # stopped for sure
                if temps(folder):
                    return
                self.proc.send_signal(signal.SIGCONT)  # renamed just before: the next one
            time.sleep(0.0005)
        pytest.fail("no temporary copy seen")

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + 120
        while text not in self.err:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.err
            time.sleep(0.001)


def rerun_completes(folder: Path, cnn_model: Path, home: Path, originals: dict) -> str:
    again = Run(folder, cnn_model, home)
    assert again.finish() == 0, again.err
    assert temps(folder) == []
    assert check_each(originals) == len(originals)  # all tagged now, the audio as it was
    return again.err


@pytest.mark.parametrize("nth", [1, 3])
def test_sigkill_in_the_middle_of_a_write(
    nth: int, folder: tuple[Path, dict[Path, Original]], cnn_model: Path, tmp_path: Path
) -> None:
    music, originals = folder
    run = Run(music, cnn_model, tmp_path)
    run.stop_while_copying(music, nth)
    run.proc.kill()
    assert run.finish() == -signal.SIGKILL
    (left,) = temps(music)  # what a SIGKILL leaves: the copy, beside the music
    assert TEMP.match(left)
    assert check_each(originals) >= nth - 1

    err = rerun_completes(music, cnn_model, tmp_path, originals)
    assert f"{music}: removed 1 temporary copy left by an interrupted run" in err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_lets_the_write_finish_and_leaves_nothing(
    signum: int, folder: tuple[Path, dict[Path, Original]], cnn_model: Path, tmp_path: Path
) -> None:
    music, originals = folder
    run = Run(music, cnn_model, tmp_path)
    run.stop_while_copying(music, 2)
    run.proc.send_signal(signum)
    run.proc.send_signal(signal.SIGCONT)
    assert run.finish() == 128 + signum, run.err
    assert "interrupted" in run.err
    assert temps(music) == []  # no partial copy
    tagged = check_each(originals)
    assert tagged >= 2  # the write under way finished ...
    assert tagged == run.err.count(" -> ")  # ... and was reported, as every other one

    err = rerun_completes(music, cnn_model, tmp_path, originals)
    assert "removed" not in err


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_signal_just_after_a_write(
    signum: int, folder: tuple[Path, dict[Path, Original]], cnn_model: Path, tmp_path: Path
) -> None:
    music, originals = folder
    run = Run(music, cnn_model, tmp_path)
    run.wait_for(" -> ")  # the first file is tagged; the next write may have begun
    run.proc.send_signal(signum)
    code = run.finish()
    assert code in (-signal.SIGKILL, 128 + signal.SIGTERM), run.err
    assert check_each(originals) >= 1
    if signum == signal.SIGTERM:
        assert temps(music) == []
    rerun_completes(music, cnn_model, tmp_path, originals)
