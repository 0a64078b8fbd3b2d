"""Decoding in processes forked before torch loads (inference/decode_pool.py): the real
command gives the same records as decoding in threads, a decoding process that dies costs no
file, a prefetched file changed before the engine reads it is decoded again, and a parent
killed outright leaves no decoding process behind.

The pool refuses to fork a process that has imported torch (as pytest's has), so each case
runs in a fresh interpreter, as the command does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.cli import main
from tests.audio.media import ffmpeg, needs_ffmpeg
from tests.helpers import tone, write

TIMEOUT = 180
KILLED_TIMEOUT = 30  # a decoding process left behind holds the output pipe open
ROOT = Path(__file__).resolve().parents[2]


def python(script: str, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


def music(seconds: float, seed: int) -> np.ndarray:
    """Tones that change every second, so that spread segments differ."""
    rng = np.random.default_rng(seed)
    parts = [tone(1.0, 22050, float(f)) for f in rng.uniform(110, 1800, int(seconds))]
    return np.concatenate(parts) * np.float32(0.8)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("library")
    long_wav = write(d / "src" / "long.wav", music(100.0, 1), 22050)
    ffmpeg("-i", long_wav, "-c:a", "libvorbis", "-q:a", "3", d / "long song.ogg")  # sampled
    short_wav = write(d / "src" / "short.wav", music(8.0, 2), 22050)
    ffmpeg("-i", short_wav, "-c:a", "libmp3lame", "-b:a", "128k", d / "short.mp3")  # whole
    write(d / "plain.wav", music(5.0, 3), 22050)
    (d / "broken.mp3").write_bytes(b"ID3" + bytes(range(256)) * 40)
    os.link(d / "plain.wav", os.fsencode(d) + b"/\xff-latin1-\xe9.wav")
    for f in (d / "src").iterdir():
        f.unlink()
    (d / "src").rmdir()
    return d


def rows(text: str) -> dict[str, dict]:
    out = [json.loads(line) for line in text.splitlines()]
    return {r["path"]: r for r in out}


@needs_ffmpeg
def test_the_command_gives_the_same_records_as_decoding_in_threads(
    library: Path, cnn_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["classify", "--model", str(cnn_model), "--format", "json", "--no-cache"]
    proc = subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "-v", *args, str(library)],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # the broken file
    assert "decoding in 1 process" in proc.stderr
    main([*args, str(library)])  # in this process: torch is loaded, so threads decode
    pooled, threaded = rows(proc.stdout), rows(capsys.readouterr().out)
    assert len(pooled) == len(threaded) == 5
    assert pooled.keys() == threaded.keys()
    for path, a in pooled.items():
        b = threaded[path]
        assert a.get("error") == b.get("error"), path
        assert a.get("genre") == b.get("genre"), path
        assert a.get("note") == b.get("note"), path
        for key in a:
            if key.startswith("p_") or key == "confidence":
                assert a[key] == pytest.approx(b[key], abs=1e-5), (path, key)
    assert "broken.mp3" in " ".join(p for p, r in pooled.items() if r.get("error"))


def test_a_decoding_process_that_dies_costs_no_file(tmp_path: Path, cnn_model: Path) -> None:
    files = [write(tmp_path / f"{i}.wav", music(4.0, i), 22050) for i in range(4)]
    proc = python(
        """
        import multiprocessing, os, signal, sys
        from mgr_desktop.inference.decode_pool import DecodePool
        pool = DecodePool.start(2)
        assert pool is not None
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)
        from mgr_desktop.inference.engine import Engine
        engine = Engine.from_file(sys.argv[1], "cpu")
        for r in engine.classify_files(sys.argv[2:], decoders=pool):
            print(type(r).__name__, r.genre if hasattr(r, "genre") else r.reason)
        pool.close()
        """,
        str(cnn_model), *map(str, files),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    kinds = [line.split()[0] for line in proc.stdout.splitlines()]
    assert kinds == ["TrackResult"] * 4, proc.stdout
    assert "decoding process died" in proc.stderr


def test_a_prefetched_file_changed_before_it_is_read_is_decoded_again(tmp_path: Path) -> None:
    song = write(tmp_path / "song.wav", music(5.0, 1), 22050)
    longer = write(tmp_path / "longer.wav", music(9.0, 2), 22050)
    long = write(tmp_path / "long.wav", music(100.0, 3), 22050)
    proc = python(
        """
        import os, sys
        from mgr_desktop.config import FeatureConfig
        from mgr_desktop.inference.decode_pool import DecodePool
        song, longer, long = sys.argv[1:]
        pool = DecodePool.start()
        whole, sampled = (FeatureConfig(), 0, 10.0), (FeatureConfig(), 20, 10.0)
        for early in pool.prefetch([song], whole):
            early.result()  # decoded ...
        os.replace(longer, song)  # ... then a new file under its name
        audio = pool.read(song, whole).result()
        print(sum(len(b) for b in audio.blocks) / 22050)
        pool.prefetch([long], whole)  # prefetched with other settings: read again
        print(type(pool.read(long, sampled).result()).__name__)
        pool.close()
        """,
        str(song), str(longer), str(long),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    seconds, kind = proc.stdout.split()
    assert float(seconds) == pytest.approx(9.0, abs=0.01)
    assert kind == "SampledAudio"


def test_decoding_processes_end_when_their_parent_is_killed() -> None:
    proc = python(
        """
        import multiprocessing, os, signal
        from mgr_desktop.inference.decode_pool import DecodePool
        pool = DecodePool.start(2)
        print(*[c.pid for c in multiprocessing.active_children()], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        timeout=KILLED_TIMEOUT,
    )
    assert proc.returncode == -9
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling another process's end: no event to wait on
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended, waiting for init to reap it


def test_no_decoding_process_is_forked_from_a_process_with_torch_or_other_threads() -> None:
    proc = python(
        """
        import threading
        from mgr_desktop.inference.decode_pool import DecodePool
        stop = threading.Event()
        waiting = threading.Thread(target=stop.wait)
        waiting.start()
        print(DecodePool.start() is None)  # another thread runs: no fork
        stop.set()
        waiting.join()
        import torch
        print(DecodePool.start() is None)  # torch is imported: no fork
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
