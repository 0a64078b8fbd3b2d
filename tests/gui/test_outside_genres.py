"""The window and the Listen tab say "none of its genres" for music outside an open-set
model's genres, with the closest genre, instead of a genre."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mgr_desktop.gui.file_table import DONE
from mgr_desktop.inference.live import Readout
from tests.gui.test_main_window import drop
from tests.helpers import make_rigged_model, tone, write

LABELS = ("blues", "jazz", "other")


def test_a_track_outside_the_models_genres_shows_none_and_the_closest(
    window, qtbot, tmp_path: Path
) -> None:
    model = make_rigged_model(tmp_path / "open.safetensors", LABELS, [1.0, 0.0, 4.0],
                              outside="other")  # fmt: skip
    song = write(tmp_path / "music" / "song.wav", tone(4.0, 22050, 330), 22050)
    window.use_model(str(model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    assert window.engine.labels == ["blues", "jazz"]
    assert " · 2 genres · " in window.model_info.text()  # "other" is not a genre
    assert set(window.listen.readout.bars) == {"blues", "jazz"}  # no bar for "other" there
    drop(window, [song])
    qtbot.waitUntil(
        lambda: bool(window.files.model.rows) and window.files.model.rows[0].status == DONE,
        timeout=30000,
    )
    table = window.files.model
    assert table.index(0, 1).data() == "none (closest: blues)"
    assert table.index(0, 2).data() == ""  # no confidence is claimed for a genre it did not give
    window.files.table.selectRow(0)
    qtbot.waitUntil(
        lambda: window.files.readout.genre.text() == "none of its genres", timeout=20000
    )
    assert "closest: blues" in window.files.readout.confidence.text()
    assert set(window.files.readout.bars) == {"blues", "jazz"}  # no bar for "other"


def test_listen_says_none_of_its_genres(window, monkeypatch) -> None:
    panel = window.listen
    # A readout counts only while listening: a stand-in capture the window can stop on close.
    monkeypatch.setattr(panel, "capture", SimpleNamespace(stop=lambda: None))
    panel.on_readout(Readout(1.0, None, 0.2, {"blues": 0.2, "jazz": 0.1}, -20.0, outside=True))
    assert panel.readout.genre.text() == "none of its genres"
    assert "closest: blues" in panel.readout.confidence.text()
    panel.on_readout(Readout(1.25, "jazz", 0.8, {"blues": 0.1, "jazz": 0.8}, -20.0))
    assert panel.readout.genre.text() == "jazz"


def test_a_segments_headline_and_bars_agree(window) -> None:
    readout = window.files.readout
    readout.set_labels(["blues", "jazz", "rock"])
    readout.show_probabilities({"blues": 0.7, "jazz": 0.2, "rock": 0.1}, "whole track")
    readout.show_segment("rock", 0.55, "at 12.0 s")
    assert readout.genre.text() == "rock"
    assert {k: b.value() for k, b in readout.bars.items()} == {"blues": 0, "jazz": 0, "rock": 550}
