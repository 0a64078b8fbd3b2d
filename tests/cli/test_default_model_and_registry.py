"""The shipped default model, training without the held-out test subset, and the registry as
the one list of architectures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mgr_desktop.cli import build_parser
from mgr_desktop.config import GTZAN_GENRES
from mgr_desktop.models import registry
from mgr_desktop.paths import default_model_path
from tests.helpers import tone, write


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mgr_desktop", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_classify_without_a_model_uses_the_shipped_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    song = write(tmp_path / "song.wav", (tone(8.0) + 0.05 * rng.standard_normal(176400)), 22050)
    silence = write(tmp_path / "silence.wav", np.zeros(22050 * 4, np.float32), 22050)
    proc = _run("classify", "--format", "json", "--no-cache", str(song), str(silence))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    # A tone is no genre's music: a genre, or "none of its genres" naming the closest one.
    named = rows[0]["closest"] if rows[0]["outside"] else rows[0]["genre"]
    assert named in GTZAN_GENRES and 0 < rows[0]["confidence"] <= 1
    assert rows[0]["tags"] and all(0 <= p <= 1 for p in rows[0]["tags"].values())
    assert rows[1]["genre"] is None and rows[1]["note"].startswith("no signal")


def test_the_shipped_model_is_calibrated_and_documents_itself() -> None:
    from mgr_desktop.models.checkpoint import read_info

    info = read_info(default_model_path())
    assert info.arch in registry.ARCHITECTURES and info.genres == GTZAN_GENRES
    assert (info.outside, info.labels[-1]) == ("other", "other")  # "none of its genres"
    assert info.temperature != 1.0  # fitted on held-out predictions
    assert default_model_path().stat().st_size <= 20 * 1024 * 1024
    # How it was measured travels with it: real music across artists, and GTZAN valid.
    assert "real_music_dev_in_accuracy" in info.training and "gtzan_valid_acc" in info.training


def test_a_toy_architecture_appears_in_train_help(monkeypatch: pytest.MonkeyPatch) -> None:
    toy = registry.Architecture(
        "toy", "A toy net", registry.ARCHITECTURES["cnn"].build, default_max_lr=0.042
    )
    monkeypatch.setitem(registry.ARCHITECTURES, "toy", toy)
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    text = sub.choices["train"].format_help()  # type: ignore[union-attr]
    assert "toy" in text and "A toy net" in text and "0.042 toy" in text
    args = parser.parse_args(["train", "--data", "d", "--out", "o", "--arch", "toy"])
    assert args.arch == "toy"


@pytest.mark.slow
def test_fault_filtered_training_without_the_test_subset(tmp_path: Path) -> None:
    """A GTZAN copy holding only the train and valid tracks (like ../shared/gtzan-real) trains
    and selects on them, and says the test was not measured."""
    from mgr_desktop.train.splits import published_lists
    from mgr_desktop.train.synthetic import synth_track

    lists = published_lists("fault-filtered")
    rng = np.random.default_rng(0)
    for g, genre in enumerate(GTZAN_GENRES[:3]):
        for part, n in (("train", 3), ("valid", 2)):
            for stem in [s for s in lists[part] if s.startswith(genre + ".")][:n]:
                path = tmp_path / "gtzan" / genre / f"{stem}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, synth_track(g, 3, 4.0, rng), 22050, subtype="PCM_16")
    out = tmp_path / "run"
    proc = _run(
        "train", "--data", str(tmp_path / "gtzan"), "--split", "fault-filtered", "--arch", "cnn",
        "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--out", str(out),
        "--cache", str(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "test was not measured" in proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"] is None and len(metrics["split"]["test"]) == 0
    assert len(metrics["split"]["train"]) == 9 and len(metrics["split"]["valid"]) == 6
    assert (out / "model.safetensors").exists()


def test_a_new_subcommand_is_one_table_entry(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import argparse

    from mgr_desktop import cli, commands
    from mgr_desktop.commands.common import Command

    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--times", type=int, default=1)

    def run(args: argparse.Namespace) -> int:
        print("hello " * args.times)
        return 0

    monkeypatch.setitem(commands.COMMANDS, "hello", Command("hello", "say hello", "", add, run))
    assert "say hello" in cli.build_parser().format_help()
    assert cli.main(["hello", "--times", "2"]) == cli.EXIT_OK
    assert capsys.readouterr().out.strip() == "hello hello"


def test_commands_do_not_import_the_cli() -> None:
    """cli.py builds the parser from the command table; no command imports it back."""
    import ast

    from mgr_desktop import commands

    folder = Path(commands.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "mgr_desktop.cli", path.name
