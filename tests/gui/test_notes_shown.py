"""A file decoded only in part says so everywhere: in `classify`'s text output and in the
window's readout, not only in JSON."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mgr_desktop.cli import main
from mgr_desktop.gui.file_table import DONE
from tests.gui.test_main_window import drop
from tests.helpers import tone, write


@pytest.fixture
def cut_mp3(tmp_path: Path) -> Path:
    wave = tone(8.0, 22050, 330) + 0.05 * np.random.default_rng(0).standard_normal(176400)
    wav = write(tmp_path / "whole.wav", wave.astype(np.float32), 22050)
    mp3 = tmp_path / "music" / "cut.mp3"
    mp3.parent.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-b:a", "128k", str(mp3)],
                   check=True)  # fmt: skip
    mp3.write_bytes(mp3.read_bytes()[:-300])  # the last frame cut off
    return mp3


def test_text_output_shows_the_note(cut_mp3: Path, cnn_model: Path, capsys) -> None:
    assert main(["classify", "--model", str(cnn_model), "--no-cache", str(cut_mp3)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(cut_mp3)) and "[the last frame was cut off" in line


def test_the_window_shows_the_note(window, cut_mp3: Path, cnn_model: Path, qtbot) -> None:
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    drop(window, [cut_mp3])
    qtbot.waitUntil(lambda: bool(window.files.model.rows)
                    and window.files.model.rows[0].status == DONE, timeout=30000)  # fmt: skip
    window.files.table.selectRow(0)
    qtbot.waitUntil(lambda: "cut off" in window.files.readout.confidence.text(), timeout=20000)
