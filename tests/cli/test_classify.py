"""`mgr-desktop classify` through the real entry point: formats, exit codes, bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.cli import main
from tests.helpers import tone, write


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mgr_desktop", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpus")
    good = {
        "8bit": write(d / "8bit.wav", tone(3.0), 22050, subtype="PCM_U8"),
        "8k": write(d / "8k.wav", tone(3.0, 8000), 8000),
        "96k6": write(d / "96k 6ch.wav", tone(3.0, 96000, channels=6), 96000),
        "stereo": write(d / "cd stereo.wav", tone(4.0, 44100, channels=2), 44100),
        "long": write(d / "ten minutes.flac", tone(600.0, 22050, amp=0.2), 22050),
        "silence": write(d / "silence.wav", np.zeros(22050 * 3, np.float32), 22050),
        "square": write(d / "square.wav", np.sign(tone(3.0)), 22050),
        "unicode": write(d / "Sigur Rós – Hoppípolla 雨.ogg", tone(3.0), 22050),
        "mp3": write(d / "song.mp3", tone(3.0, 44100), 44100),
    }
    bad = {
        "empty": d / "empty.wav",
        "text": d / "readme.mp3",
        "pdf": d / "paper.wav",
        "random": d / "random.wav",
        "dangling": d / "dangling.wav",
    }
    bad["empty"].write_bytes(b"")
    bad["text"].write_text("just some text\n")
    bad["pdf"].write_bytes(b"%PDF-1.4\n" + bytes(300))
    bad["random"].write_bytes(np.random.default_rng(3).bytes(4000))
    bad["dangling"].symlink_to(d / "vanished.wav")
    lying = bytearray((d / "8k.wav").read_bytes())
    pos = lying.index(b"data") + 4
    lying[pos : pos + 4] = (10**6).to_bytes(4, "little")
    bad["lying"] = d / "lying header.wav"
    bad["lying"].write_bytes(bytes(lying))
    bad["truncated header"] = d / "cut.wav"
    bad["truncated header"].write_bytes((d / "8k.wav").read_bytes()[:20])
    (d / "empty folder").mkdir()
    (d / "empty folder" / "notes.txt").write_text("no audio here")
    return {**good, **{f"bad:{k}": v for k, v in bad.items()}, "dir:empty": d / "empty folder"}


def test_json_batch_reports_every_file_and_exits_1(
    corpus: dict[str, Path], cnn_model: Path
) -> None:
    proc = cli(
        "classify",
        "--model",
        str(cnn_model),
        "--format",
        "json",
        *(str(p) for p in corpus.values()),
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    by_path = {r["path"]: r for r in rows}
    assert set(by_path) == {str(p) for p in corpus.values()}
    for key, path in corpus.items():
        row = by_path[str(path)]
        if key.startswith(("bad:", "dir:")):
            assert set(row) == {"path", "error"}, key
            assert row["error"] and "\n" not in row["error"]
        elif key == "silence":  # no verdict on silence, and a note that says why
            assert row["genre"] is None and row["note"].startswith("no signal"), row
            assert all(s["genre"] is None for s in row["segments"])
            assert all(s["confidence"] == 0 for s in row["segments"])  # no claim, no confidence
        else:
            assert set(row) == {
                "path",
                "genre",
                "confidence",
                "uncertain",
                "probabilities",
                "segments",
                "duration",
                "outside",
            }, key
            assert row["outside"] is False
            assert row["genre"] in row["probabilities"]
            assert abs(sum(row["probabilities"].values()) - 1) < 1e-3
            assert 0 < row["confidence"] <= 1
            seg = row["segments"][0]
            assert set(seg) == {"start", "end", "genre", "confidence"}
    long = by_path[str(corpus["long"])]
    # Ten minutes: the verdict from 20 segments, one in the middle of each half minute.
    starts = [s["start"] for s in long["segments"]]
    assert len(starts) == 20 and abs(long["duration"] - 600) < 0.05
    assert np.allclose(np.diff(starts), 29.85, atol=0.05) and 14 < starts[0] < 16  # (600-3)/20
    assert "truncated" in by_path[str(corpus["bad:lying"])]["error"]
    assert "dangling" in by_path[str(corpus["bad:dangling"])]["error"]
    assert "no audio" in by_path[str(corpus["dir:empty"])]["error"]


def test_all_good_exits_0_and_text_is_one_line_each(
    corpus: dict[str, Path], cnn_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["classify", "--model", str(cnn_model), str(corpus["8k"]), str(corpus["unicode"])])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith(str(corpus["unicode"]) + ": ")


def test_csv_has_a_column_per_label_and_an_error_column(
    corpus: dict[str, Path], cnn_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "classify",
                "--model",
                str(cnn_model),
                "--format",
                "csv",
                str(corpus["8k"]),
                str(corpus["bad:empty"]),
            ]
        )
        == 1
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["genre"] and not rows[0]["error"] and "p_blues" in rows[0]
    assert rows[1]["error"].startswith("file is empty")


def test_folders_are_searched_recursively(
    tmp_path: Path, cnn_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "a" / "b" / "deep.wav", tone(3.0), 22050)
    write(tmp_path / "top.flac", tone(3.0), 22050)
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    assert main(["classify", "--model", str(cnn_model), "--format", "json", str(tmp_path)]) == 0
    paths = [json.loads(x)["path"] for x in capsys.readouterr().out.splitlines()]
    assert [Path(p).name for p in paths] == ["deep.wav", "top.flac"]


@pytest.mark.parametrize("problem", ["missing model", "pickle model", "cuda on a cpu machine"])
def test_usage_errors_exit_2_without_traceback(
    tmp_path: Path, cnn_model: Path, problem: str
) -> None:
    audio = write(tmp_path / "ok.wav", tone(3.0), 22050)
    model = str(cnn_model)
    extra: list[str] = []
    if problem == "missing model":
        model = str(tmp_path / "nope.safetensors")
    elif problem == "pickle model":
        import torch

        torch.save({"x": 1}, tmp_path / "m.pt")
        model = str(tmp_path / "m.pt")
    else:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA, so asking for it is not an error")
        extra = ["--device", "cuda"]
    proc = cli("classify", "--model", model, *extra, str(audio))
    assert proc.returncode == 2
    assert proc.stderr.startswith("mgr-desktop: error: ") and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_precision_float32_and_bfloat16_agree(tmp_path: Path, cnn_model: Path) -> None:
    audio = write(tmp_path / "chord.wav", tone(6.0) + tone(6.0, freq=330), 22050)
    docs = {}
    for precision in ("float32", "bfloat16"):
        proc = cli("classify", "--model", str(cnn_model), "--no-cache", "--format", "json",
                   "--precision", precision, str(audio))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        docs[precision] = json.loads(proc.stdout)
    a, b = docs["float32"], docs["bfloat16"]
    assert a["genre"] == b["genre"]
    assert list(a["probabilities"].values()) == pytest.approx(
        list(b["probabilities"].values()), abs=0.02
    )
    proc = cli("classify", "--model", str(cnn_model), "--precision", "half", str(audio))
    assert proc.returncode == 2 and "--precision" in proc.stderr


def test_no_inputs_is_a_usage_error(cnn_model: Path) -> None:
    proc = cli("classify", "--model", str(cnn_model))
    assert proc.returncode == 2 and "PATH" in proc.stderr


def test_version_and_help() -> None:
    from mgr_desktop import __version__

    assert cli("--version").stdout.strip() == f"mgr-desktop {__version__}"
    assert "--format" in cli("classify", "--help").stdout


def test_cli_unreadable_file(tmp_path: Path, cnn_model: Path) -> None:
    """A mode-000 file. Root reads anything, so as root run the CLI in a user namespace, where
    it still owns its files but has lost the power to override permissions."""
    locked = write(tmp_path / "locked.wav", tone(3.0), 22050)
    os.chmod(locked, 0)
    prefix = ["unshare", "--user"] if os.geteuid() == 0 else []
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "mgr_desktop", "classify", "--model", str(cnn_model),
         "--format", "json", str(locked)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout) == {
        "path": str(locked),
        "error": "permission denied (file is not readable)",
    }


def test_real_gtzan_tracks_classify(gtzan_mini_root: Path, cnn_model: Path) -> None:
    proc = cli("classify", "--model", str(cnn_model), "--format", "json", str(gtzan_mini_root))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(rows) == 10
    assert {Path(r["path"]).parent.name for r in rows} == {
        "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae",
        "rock"}  # fmt: skip
    for r in rows:  # 3 s segments back to back, the last one aligned to the end
        assert 29.9 < r["duration"] < 30.7 and len(r["segments"]) in (10, 11)


def test_real_gtzan_tracks_get_a_verdict_from_the_default_model(gtzan_mini_root: Path) -> None:
    """No accuracy can be judged on 10 tracks: each must simply get a verdict."""
    proc = cli("classify", "--format", "json", "--no-cache", str(gtzan_mini_root))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    # a verdict: a genre, or "none of its genres" (never "no signal" on real music)
    assert len(rows) == 10 and all(r["genre"] is not None or r["outside"] for r in rows)


def test_progress_bar_only_on_a_terminal(corpus: dict[str, Path], cnn_model: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    args = [
        sys.executable,
        "-m",
        "mgr_desktop",
        "classify",
        "--model",
        str(cnn_model),
        str(corpus["8k"]),
        str(corpus["square"]),
    ]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and "classifying" not in piped.stderr
    leader, follower = pty.openpty()
    # a terminal emulator gives its pty a size; a bare one is 0 x 0 and tqdm draws nothing
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, timeout=300)
    os.close(follower)
    seen = b""
    try:
        while chunk := os.read(leader, 4096):
            seen += chunk
    except OSError:  # EIO: the terminal's other end is closed, everything was read
        pass
    os.close(leader)
    assert proc.returncode == 0
    assert b"classifying" in seen and b"2/2" in seen
