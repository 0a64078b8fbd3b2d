"""What the Files tab shows is always the selected file's, with the active model: a broken
file never shows the previous song's picture, and a row queued again for another model shows
no verdict until the new one comes."""

from __future__ import annotations

from mgr_desktop.gui.file_table import DONE, FAILED
from tests.gui.test_main_window import audio, drop, statuses  # noqa: F401 (a fixture)


def picture_columns(window) -> int:
    image = window.files.spectrogram.image.image
    return 0 if image is None else image.shape[1]


def row_of(window, name: str) -> int:
    return next(i for i, r in enumerate(window.files.model.rows) if r.path.endswith(name))


def test_a_broken_file_shows_no_picture_of_the_previous_one(window, audio, cnn_model, qtbot):  # noqa: F811
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    drop(window, [audio["a"], audio["bad"]])
    qtbot.waitUntil(lambda: set(statuses(window).values()) <= {DONE, FAILED}
                    and len(statuses(window)) == 2, timeout=30000)  # fmt: skip
    window.files.table.selectRow(row_of(window, "a.wav"))
    qtbot.waitUntil(lambda: picture_columns(window) > 50, timeout=20000)
    window.files.table.selectRow(row_of(window, "broken.mp3"))
    assert picture_columns(window) <= 1  # at once: never the song selected before
    qtbot.waitUntil(lambda: window.files.readout.genre.text() == "error", timeout=20000)
    assert picture_columns(window) <= 1
    assert "not audio" in window.files.readout.confidence.text()


def test_a_row_queued_again_shows_no_old_verdict(window, audio, cnn_model, qtbot):  # noqa: F811
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    drop(window, [audio["a"]])
    qtbot.waitUntil(lambda: statuses(window).get("a.wav") == DONE, timeout=30000)
    window.files.table.selectRow(0)
    old = window.files.model.rows[0].result
    qtbot.waitUntil(lambda: window.files.readout.genre.text() != "…", timeout=20000)
    assert len(window.files.timeline.segments) == len(old.segments)
    window.files.requeue_all()  # what "Use this model" does with another model
    assert window.files.readout.genre.text() == "…"
    assert not window.files.timeline.segments
    qtbot.waitUntil(lambda: statuses(window)["a.wav"] == DONE, timeout=30000)
