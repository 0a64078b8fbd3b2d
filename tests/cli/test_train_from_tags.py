"""`mgr-desktop train --labels-from-tags` through the real command line, on a small generated
library: genres from the tags, an artist-disjoint split, the transfer head trained on cached
embeddings, per-genre accuracy, and the command that previews tagging the untagged files."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mgr_desktop.audio.tag_reading import read_artist
from mgr_desktop.models.checkpoint import read_info
from tests.train.tagged_library import small_library_songs, write_library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tagged_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess]:
    library = write_library(tmp_path_factory.mktemp("library"), small_library_songs(), seed=3)
    out = tmp_path_factory.mktemp("runs") / "tags run"
    cmd = [
        sys.executable,
        "-m",
        "mgr_desktop",
        "train",
        "--data",
        str(library),
        "--labels-from-tags",
        "--out",
        str(out),
        "--cache",
        str(tmp_path_factory.mktemp("cache")),
        "--epochs",
        "10",
        "--batch-size",
        "8",
        "--device",
        "cpu",
    ]  # fmt: skip  (the default arch: musicnn_msd)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return library, out, proc


def test_the_report_names_the_genres_the_dropped_and_the_untagged(tagged_run) -> None:
    _, _, proc = tagged_run
    assert "genres from the files' tags: 25 tracks in 3 genres" in proc.stderr
    assert "Hip-Hop:    8 tracks,   4 artists" in proc.stderr
    assert "dropped, under 5 tracks or 2 artists: Polka: 1 tracks by 1 artists" in proc.stderr
    assert "skipped, several genres: 1 files" in proc.stderr
    assert "untagged (no genre; not trained on): 3 files" in proc.stderr


def test_the_head_learns_and_reports_accuracy_per_genre(tagged_run) -> None:
    _, out, proc = tagged_run
    info = read_info(out / "model.safetensors")
    assert info.labels == ("Hip-Hop", "Jazz", "Rock") and info.arch == "musicnn_msd"
    assert info.training["frozen_backbone"] is True  # the head on cached embeddings
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert test["tracks"] == len(metrics["split"]["test"]) >= 3
    assert test["track_accuracy"] >= 2 / 3  # three genres: chance is 1/3
    assert f"accuracy per genre (test, {test['tracks']} tracks" in proc.stdout
    for genre in ("Hip-Hop", "Jazz", "Rock"):
        m = test["per_class"][genre]
        if m["support"]:
            assert f"{genre:>16}: {m['recall']:.3f} of {m['support']} tracks" in proc.stdout


def test_no_artist_is_on_both_sides_of_the_split(tagged_run) -> None:
    _, out, _ = tagged_run
    split = json.loads((out / "metrics.json").read_text())["split"]

    def who(path: str) -> str:  # the artist tag, or the album folder when there is none
        return read_artist(path) or f"folder {Path(path).parent}"

    sides = {part: {who(p) for p in split[part]} for part in ("train", "valid", "test")}
    assert all(sides.values())
    assert not sides["train"] & sides["valid"]
    assert not sides["train"] & sides["test"]
    assert not sides["valid"] & sides["test"]


def test_the_printed_preview_command_runs_on_exactly_the_untagged_files(tagged_run) -> None:
    library, out, proc = tagged_run
    untagged = sorted(str(p) for p in (library / "Inbox").iterdir())
    assert sorted((out / "untagged.txt").read_text().split("\n")[:-1]) == untagged
    assert f"untagged files: 3 (listed in {out / 'untagged.txt'})" in proc.stdout
    line = next(ln for ln in proc.stdout.splitlines() if "mgr-desktop classify" in ln)
    argv = shlex.split(line)
    model = str(out / "model.safetensors")
    assert argv[:6] == ["mgr-desktop", "classify", "--model", model, "--write-tags", "--dry-run"]
    assert sorted(argv[6:]) == untagged
    before = {p: Path(p).read_bytes() for p in untagged}
    preview = subprocess.run([sys.executable, "-m", "mgr_desktop", *argv[1:], "--device", "cpu"],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert preview.returncode == 0, preview.stderr[-2000:]
    for p in untagged:
        assert Path(p).name in preview.stdout + preview.stderr
        assert Path(p).read_bytes() == before[p]  # a dry run writes nothing
