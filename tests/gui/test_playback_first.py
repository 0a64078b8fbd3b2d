"""While a song plays, the analysis starts no new file: the sound gets the machine."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt

from mgr_desktop.gui.workers import FileWorker
from mgr_desktop.inference.engine import Engine
from tests.gui.fake_audio import FakeSoundDevice
from tests.helpers import tone, write


def test_a_held_worker_starts_no_new_file_until_released(tmp_path: Path, cnn_model: Path) -> None:
    paths = [str(write(tmp_path / f"{i}.wav", tone(3.5, freq=200.0 + 90 * i), 22050))
             for i in range(8)]  # fmt: skip
    worker = FileWorker()
    worker.engine = Engine.from_file(cnn_model, "cpu")
    done: list[str] = []
    first = threading.Event()

    def on_done(path: str, _result: object) -> None:
        done.append(path)
        first.set()

    # emitted from the batch's thread, whose caller runs no event loop: a direct call
    worker.file_done.connect(on_done, Qt.ConnectionType.DirectConnection)
    worker.hold(True)  # the player plays
    batch = threading.Thread(target=worker.classify, args=(paths,))
    batch.start()
    assert first.wait(60)
    batch.join(1.0)  # the batch waits for the player ...
    assert batch.is_alive() and len(done) == 1
    worker.hold(False)  # ... and goes on when it stops
    batch.join(60)
    assert not batch.is_alive() and done == paths


def test_the_window_holds_the_analysis_while_playing(window, qtbot, tmp_path: Path) -> None:
    song = write(tmp_path / "song.wav", tone(20.0), 22050)
    files = window.files
    files.add_paths([str(song)])
    files.player.backend = FakeSoundDevice(speed=1)
    files.table.selectRow(0)
    qtbot.waitUntil(lambda: files.player.loaded, timeout=10000)
    files.toggle_play()
    qtbot.waitUntil(lambda: not window.file_worker._free.is_set(), timeout=5000)  # held
    files.stop()
    assert window.file_worker._free.is_set()  # released the moment it stops
