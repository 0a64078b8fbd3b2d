"""When something goes wrong the user has a file to send, and the app keeps running."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest


def test_an_exception_in_a_worker_thread_goes_to_the_log_and_a_dialog(
    window, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mgr_desktop.gui import main_window
    from mgr_desktop.logs import install_excepthooks, log_file, setup_logging

    shown: list[str] = []
    monkeypatch.setattr(main_window.QMessageBox, "warning", lambda p, t, text: shown.append(text))
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored afterwards
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    assert setup_logging() == log_file()
    install_excepthooks(window.report_crash)

    def work() -> None:
        raise RuntimeError("the decoder fell over")

    t = threading.Thread(target=work, name="worker-x")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    assert "RuntimeError: the decoder fell over" in shown[0] and str(log_file()) in shown[0]
    text = log_file().read_text()
    assert "uncaught exception in thread worker-x" in text
    assert "Traceback" in text and 'raise RuntimeError("the decoder fell over")' in text
    assert window.isVisible()  # still running: the window answers
    window.tabs.setCurrentIndex(1)
    assert window.tabs.currentIndex() == 1


def test_the_cli_points_to_the_log_and_keeps_the_traceback_there(tmp_path: Path) -> None:
    """An internal error: one line on stderr naming the log file; the traceback is in it."""
    code = (
        "import sys; from mgr_desktop import cli, commands\n"
        "from mgr_desktop.commands.common import Command\n"
        "def boom(args): raise ZeroDivisionError('planted')\n"
        "commands.COMMANDS['boom'] = Command('boom', '', '', lambda p: None, boom)\n"
        "sys.exit(cli.main(['boom']))\n"
    )
    env = {**__import__("os").environ, "MGR_DESKTOP_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ZeroDivisionError: planted" in lines[0], proc.stderr
    log = tmp_path / "logs" / "mgr-desktop.log"
    assert str(log) in lines[0]
    assert "Traceback" in log.read_text() and "planted" in log.read_text()
