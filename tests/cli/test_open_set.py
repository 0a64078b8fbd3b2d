"""A model with an outside label ("none of its genres") through the real CLI: JSON, text and
CSV say so and name the closest genre, the result cache keeps it, and --write-tags never
writes a genre for such a track."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import mutagen
import numpy as np
import pytest

from mgr_desktop.cli import main
from mgr_desktop.inference.engine import Engine
from mgr_desktop.models.checkpoint import load_model
from tests.helpers import make_rigged_model, tone, write

LABELS = ("blues", "jazz", "other")


def rigged_model(path: Path, logits: list[float]) -> Path:
    return make_rigged_model(path, LABELS, logits, outside="other")


@pytest.fixture
def song(tmp_path: Path) -> Path:
    wave = tone(4.0, 22050, freq=330.0)
    wave += 0.05 * np.random.default_rng(0).standard_normal(len(wave)).astype(np.float32)
    return write(tmp_path / "music" / "song.flac", wave, 22050)


def test_the_outside_label_round_trips_and_is_checked(tmp_path: Path) -> None:
    loaded = load_model(rigged_model(tmp_path / "m.safetensors", [0.0, 0.0, 3.0]))
    assert (loaded.info.outside, loaded.info.genres) == ("other", ("blues", "jazz"))
    engine = Engine(loaded, "cpu")
    assert engine.labels == ["blues", "jazz"]  # what tables, bars and the CSV show


def test_outside_json_text_csv_and_cache(
    tmp_path: Path, song: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = rigged_model(tmp_path / "m.safetensors", [1.0, 0.0, 3.0])
    for attempt in ("fresh", "cached"):
        assert main(["classify", "--model", str(model), "--format", "json", str(song)]) == 0
        row = json.loads(capsys.readouterr().out)
        assert (row["genre"], row["outside"], row["closest"]) == (None, True, "blues"), attempt
        assert row["note"].startswith("none of its genres"), attempt
        assert set(row["probabilities"]) == {"blues", "jazz"}
        assert row["outside_probability"] == pytest.approx(np.exp(3) / (np.exp(3) + np.e + 1))
        assert all(s["genre"] is None for s in row["segments"])
    assert main(["classify", "--model", str(model), "--no-cache", str(song)]) == 0
    assert "none of its genres (closest: blues)" in capsys.readouterr().out
    assert main(["classify", "--model", str(model), "--format", "csv", str(song)]) == 0
    (line,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert (line["genre"], line["outside"], line["closest"]) == ("", "yes", "blues")


def test_write_tags_never_writes_a_genre_outside_the_model(
    tmp_path: Path, song: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = rigged_model(tmp_path / "out.safetensors", [1.0, 0.0, 6.0])
    before = song.read_bytes()
    code = main(["classify", "--model", str(outside), "--write-tags", "--min-confidence", "0",
                 str(song)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0 and song.read_bytes() == before
    assert "1 outside the model's genres" in err
    inside = rigged_model(tmp_path / "in.safetensors", [6.0, 0.0, 1.0])
    assert main(["classify", "--model", str(inside), "--write-tags", str(song)]) == 0
    assert list(mutagen.File(song).tags["genre"]) == ["Blues"]  # the same file, a real genre


def test_a_named_path_that_does_not_exist_is_a_usage_error_after_the_rest(
    tmp_path: Path, song: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = rigged_model(tmp_path / "m.safetensors", [3.0, 0.0, 1.0])
    missing = tmp_path / "missing.mp3"
    code = main(["classify", "--model", str(model), "--format", "json", str(missing), str(song)])
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 2  # as `ls` does: a named argument that is not there
    assert rows[0]["path"] == str(missing) and "no such file" in rows[0]["error"]
    assert rows[1]["genre"] == "blues"  # the rest is still classified
