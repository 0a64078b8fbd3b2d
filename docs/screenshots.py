"""Regenerate the README screenshots on a real X server (Xvfb) with a real capture device.

    xvfb-run -s "-screen 0 1360x860x24" python -m docs.screenshots MODEL AUDIO_DIR CLIP [CORPUS]

Takes docs/files.png (a folder analysed, one file selected), docs/listening.png (the
microphone, with CLIP played into the PulseAudio null sink that tests/audio_device.py sets up)
and, given a genre-folder CORPUS, docs/training.png (a finished training run).
The screenshots are taken with ImageMagick's `import -window root`: what a person would see.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

DOCS = Path(__file__).parent


def main() -> None:
    model, audio_dir, clip = sys.argv[1:4]
    corpus = sys.argv[4] if len(sys.argv) > 4 else None
    from mgr_desktop.gui.main_window import MainWindow
    from mgr_desktop.gui.theme import apply_theme
    from tests.audio_device import play_into_sink, start_pulse

    start_pulse()
    app = QApplication([])
    apply_theme(app, "dark")
    w = MainWindow(model=model, files=[audio_dir])
    w.setGeometry(0, 0, 1360, 860)
    w.show()
    steps: list = []

    def shot(name: str) -> None:
        subprocess.run(["import", "-window", "root", str(DOCS / name)], check=True)

    def when(cond, then) -> None:
        timer = QTimer()
        timer.timeout.connect(lambda: cond() and (timer.stop(), then()))
        timer.start(100)
        steps.append(timer)

    def analysed() -> bool:
        rows = w.files.model.rows
        return bool(rows) and all(r.status in ("done", "error") for r in rows)

    def files_shot() -> None:
        w.files.table.selectRow(5)
        QTimer.singleShot(1500, lambda: (shot("files.png"), listen()))

    def listen() -> None:
        steps.append(play_into_sink(Path(clip)))
        w.toggle_listen()
        when(lambda: w.listen.readouts >= 16, lambda: (shot("listening.png"), train()))

    def train() -> None:
        w.listen.stop()
        for step in steps:
            if hasattr(step, "kill"):
                step.kill()
        if corpus is None:
            finish()
            return
        tab = w.train_tab
        w.tabs.setCurrentWidget(tab)
        tab.form.set_data_folder(corpus)
        tab.form.epochs.setValue(12)
        when(lambda: tab.form.report is not None, tab.start)
        when(
            lambda: tab.state == "finished",
            lambda: QTimer.singleShot(1000, lambda: (shot("training.png"), finish())),
        )

    def finish() -> None:
        w.close()
        app.quit()

    when(analysed, files_shot)
    app.exec()


if __name__ == "__main__":
    main()
