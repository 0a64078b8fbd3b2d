"""The window with a library and with long files, driven through real widgets (offscreen):
a long file shows at once and plays from the file; rows keep summaries; columns fit their
content; a batch reaches the view in coalesced updates."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QStyle

from mgr_desktop.audio.playback import READ_BLOCK_SECONDS
from mgr_desktop.gui.file_table import DONE, FAILED, WAITING
from mgr_desktop.gui.row_summary import ResultSummary
from mgr_desktop.gui.track_image import OVERVIEW_COLUMNS
from tests.cli.test_odd_files import deep_tree
from tests.gui.fake_audio import FakeSoundDevice
from tests.gui.test_main_window import drop
from tests.helpers import tone, write

LONG_RATE = 8000


def long_wav(path: Path, minutes: float) -> Path:
    """A long file made quickly: a low rate, 16-bit, a tone whose pitch steps every minute."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", LONG_RATE, 1, subtype="PCM_16") as f:
        t = np.arange(60 * LONG_RATE) / LONG_RATE
        for m in range(int(minutes)):
            f.write((0.3 * np.sin(2 * np.pi * (200 + 20 * m) * t)).astype(np.float32))
    return path


def use_model(window, model: Path, qtbot) -> None:
    window.use_model(str(model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)


def test_a_long_file_shows_at_once_and_plays_without_decoding_it_all(window, tmp_path, qtbot):
    path = long_wav(tmp_path / "concert.wav", minutes=20)
    files = window.files
    device = FakeSoundDevice(speed=4)
    files.player.backend = device
    pictures: list = []
    files.loader.picture.connect(lambda p, pic: pictures.append(pic))
    drop(window, [path])
    qtbot.waitUntil(lambda: files.current_db is not None and bool(pictures), timeout=10000)
    first = pictures[0]
    # The first picture is of the first block, not of the decoded file; the axis already
    # spans the header's 20 minutes and playback is ready.
    assert first.covered < 60 and not first.done
    assert files.overview and files.track_duration == pytest.approx(1200)
    assert files.spectrogram.getPlotItem().viewRange()[0][1] == pytest.approx(1200, rel=0.01)
    assert files.play_button.isEnabled() and files.player.duration == pytest.approx(1200)

    qtbot.mouseClick(files.play_button, Qt.MouseButton.LeftButton)
    assert files.player.playing
    qtbot.waitUntil(lambda: files.player.position > 1.0, timeout=10000)
    files.seek(900.0)
    qtbot.waitUntil(lambda: files.player.position > 901.0, timeout=10000)
    # The view at the playhead: full-resolution columns decoded from the audio near 900 s.
    qtbot.waitUntil(
        lambda: (
            (w := files.playhead_window) is not None
            and w[0] <= files.player.position <= w[0] + w[1].shape[1] * files.frame_seconds
        ),
        timeout=10000,
    )
    start, db = files.playhead_window
    assert 870 < start < files.player.position and db.shape[0] == 128
    qtbot.waitUntil(lambda: files.spectrogram.image.mapToParent(QPointF(0, 0)).x() > 880)
    shown = files.spectrogram.image.image
    assert shown.shape[1] <= 10 / files.frame_seconds + 1
    # Playback decodes only what it is about to play.
    player = files.player
    assert player.decoded_ahead <= player.buffer_frames + READ_BLOCK_SECONDS * LONG_RATE
    assert player.decoded_frames < 60 * LONG_RATE
    assert device.streams[-1].frames > 0
    # Meanwhile the overview streams to the end, within its column limit.
    qtbot.waitUntil(lambda: pictures[-1].done, timeout=120000)
    last = pictures[-1]
    assert last.db.shape[1] <= OVERVIEW_COLUMNS and last.duration == pytest.approx(1200, abs=0.01)
    assert len(pictures) >= 2
    files.stop()
    assert files.player.position == 0 and not files.player.playing


def test_rows_keep_summaries_and_the_selected_file_gets_its_details_back(
    window, cnn_model, tmp_path, qtbot
) -> None:
    use_model(window, cnn_model, qtbot)
    paths = [write(tmp_path / f"t{i}.wav", tone(8.0, 22050, 220.0 * (i + 1)), 22050)
             for i in range(3)]  # fmt: skip
    drop(window, paths)
    files = window.files
    qtbot.waitUntil(lambda: all(r.status == DONE for r in files.model.rows), timeout=60000)
    labels = window.engine.labels
    for row in files.model.rows:
        r = row.result
        assert isinstance(r, ResultSummary)  # not the full TrackResult
        assert list(r.probabilities) == labels and len(r.segments) >= 3  # 3 s back to back
        assert not any(hasattr(s, "probabilities") for s in r.segments)
        assert r.nbytes < 512  # per-segment genre (uint8) and confidence (float16) only
        assert r.source is not None and r.source[0] == os.path.realpath(row.path)  # for tags
        assert r.genre in labels and r.verdict_text()
    # Selecting and playing a file brings its per-segment probabilities back for the readout.
    files.player.backend = FakeSoundDevice(speed=1)
    files.table.selectRow(1)
    qtbot.waitUntil(lambda: files.current == str(paths[1]) and files.player.loaded)
    qtbot.waitUntil(lambda: files.current_db is not None, timeout=10000)
    files.toggle_play()
    qtbot.waitUntil(lambda: files.current_details is not None, timeout=30000)
    summary, details = files.model.rows[1].result, files.current_details
    assert [s.genre for s in details.segments] == [s.genre for s in summary.segments]
    assert details.segments[0].probabilities.shape == (len(labels),)
    # The next tick after the details reads the segment's whole probability vector (before
    # them, the bars show only the segment's genre and confidence).
    qtbot.waitUntil(
        lambda: (
            "at " in files.readout.confidence.text()
            and abs(sum(bar.value() for bar in files.readout.bars.values()) - 1000) <= 15
        ),
        timeout=10000,
    )
    files.stop()


def _fits(table, col: int, text: str) -> bool:
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    width = table.horizontalHeader().sectionSize(col)
    return table.fontMetrics().horizontalAdvance(text) + 2 * margin <= width


def test_columns_fit_their_content_and_the_file_name_takes_the_rest(
    window, cnn_model, tmp_path, qtbot
) -> None:
    window.resize(1400, 800)
    qtbot.waitUntil(lambda: window.width() == 1400)
    files = window.files
    table, model = files.table, files.model
    song = write(tmp_path / "a song with a rather long name, live at the hall.wav",
                 tone(4.0), 22050)  # fmt: skip
    drop(window, [song])
    assert model.rows[0].status == WAITING
    assert _fits(table, 4, WAITING)
    use_model(window, cnn_model, qtbot)
    bad = tmp_path / "broken.mp3"
    bad.write_text("this is not an mp3")
    drop(window, [bad])
    qtbot.waitUntil(lambda: {r.status for r in model.rows} == {DONE, FAILED}, timeout=60000)
    model.flush()
    for i, row in enumerate(model.rows):
        for col in (1, 2, 3, 4):
            text = model.index(i, col).data()
            if row.status == FAILED and col == 4:
                # A reason may be elided where names would lose their share of the table;
                # never the word "error", and the tooltip holds all of it.
                assert _fits(table, col, "error:")
                assert row.error in model.index(i, col).data(Qt.ItemDataRole.ToolTipRole)
                continue
            assert _fits(table, col, text), f"column {col} cuts {text!r}"
    for label in window.engine.labels:
        assert _fits(table, 1, f"{label}?")
    for status in ("analysing", "queued", "done", "needs a model"):
        assert _fits(table, 4, status)
    header = table.horizontalHeader()
    others = sum(header.sectionSize(c) for c in range(1, 5))
    assert header.sectionSize(0) >= table.viewport().width() - others - 1
    assert header.sectionSize(0) > header.sectionSize(4)


def test_a_batch_of_tiny_files_reaches_the_view_in_coalesced_updates(
    window, cnn_model, tmp_path, qtbot
) -> None:
    n = 300
    folder = tmp_path / "tiny"
    rng = np.random.default_rng(0)
    t = np.arange(int(1.2 * LONG_RATE)) / LONG_RATE
    for i in range(n):
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 1000) * t) + 0.02 * rng.standard_normal(
            len(t)
        )
        write(folder / f"{i:03d}.wav", x.astype(np.float32), LONG_RATE, subtype="PCM_16")
    use_model(window, cnn_model, qtbot)
    model = window.files.model
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: changes.append((a.row(), b.row())))
    t0 = time.monotonic()
    drop(window, [folder])
    qtbot.waitUntil(
        lambda: len(model.rows) == n and all(r.status == DONE for r in model.rows), timeout=180000
    )
    seconds = time.monotonic() - t0
    qtbot.waitUntil(lambda: model._dirty is None, timeout=2000)  # the last flush is out
    # Each row changes twice (analysing, done); the view heard of it in a few batched signals.
    assert len(changes) < n // 2, f"{len(changes)} updates for {n} files in {seconds:.1f} s"
    covered = set()
    for lo, hi in changes:
        covered.update(range(lo, hi + 1))
    assert covered == set(range(n))


def test_odd_names_are_listed_escaped_and_none_stays_queued(
    window, cnn_model, tmp_path, qtbot
) -> None:
    """A folder of the names real libraries hold: each row shows its name escaped (a newline
    or a bidi override in a name must not reshape the table), and every one is analysed, a
    name that is not UTF-8 too (Qt's strings cannot carry it: paths travel as Python objects),
    and opens in the track view."""
    from mgr_desktop.safetext import is_text, printable

    folder = tmp_path / "odd"
    song = write(tmp_path / "song.wav", tone(3.0), 22050).read_bytes()
    names = ["new\nline.wav", "rtl \u202egnp.wav", "esc\x1b[31m.wav", "=SUM(A1).wav",
             "emoji 🎵.wav", "crlf\r\n.wav"]  # fmt: skip
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(song)
    with open(os.path.join(os.fsencode(folder), b"\xff\xfe-latin1-\xe9.wav"), "wb") as f:
        f.write(song)
    use_model(window, cnn_model, qtbot)
    model = window.files.model
    drop(window, [folder])
    qtbot.waitUntil(
        lambda: (
            len(model.rows) == len(names) + 1
            and all(r.status in (DONE, FAILED) for r in model.rows)
        ),
        timeout=60000,
    )
    for i, row in enumerate(model.rows):
        shown = model.index(i, 0).data()
        assert shown == printable(Path(row.path).name) and shown.isprintable()
        assert is_text(model.index(i, 0).data(Qt.ItemDataRole.ToolTipRole))
        assert row.status == DONE, (shown, row.error)
    assert is_text(model.to_csv())
    odd = next(i for i, r in enumerate(model.rows) if not is_text(r.path))
    assert model.index(odd, 0).data() == "\\xff\\xfe-latin1-\\xe9.wav"
    window.files.table.selectRow(odd)
    qtbot.waitUntil(
        lambda: (
            window.files.current == model.rows[odd].path and window.files.current_db is not None
        ),
        timeout=20000,
    )


def test_a_named_pipe_and_deep_folders_do_not_stall_the_window(
    window, cnn_model, tmp_path, qtbot
) -> None:
    """A dropped named pipe used to hold the classifying thread (and the process) forever,
    and 1,000 nested folders stopped the folder search without a word."""
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    use_model(window, cnn_model, qtbot)
    model = window.files.model
    with deep_tree(tmp_path) as (top, deep):
        drop(window, [fifo, top])
        qtbot.waitUntil(
            lambda: (
                {r.path for r in model.rows} == {str(fifo), str(deep)}
                and all(r.status in (DONE, FAILED) for r in model.rows)
            ),
            timeout=60000,
        )
    assert model.row_for(str(deep)).status == DONE
    assert "named pipe" in model.row_for(str(fifo)).error
