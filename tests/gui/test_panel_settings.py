"""Each panel saves and restores its own settings group, under the keys the window used before
(a user's remembered split and devices still come back), and the window's helpers take what
they need instead of reaching into the window's panels."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QSplitter, QWidget

from mgr_desktop.audio.devices import Device
from mgr_desktop.gui.settings import Settings

# The stored names, spelled out: renaming a Key's value would forget every user's choice.
OLD_KEYS = ("window/splitter", "audio/output_device", "audio/input_device", "window/tab")
GUI = Path(__file__).resolve().parents[2] / "mgr_desktop" / "gui"


def _fake_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """PortAudio stands aside: every kind lists the same two devices."""
    devices = [
        Device(0, "Built-in", "ALSA", 2, 48000.0, True),
        Device(1, "USB headset", "ALSA", 2, 48000.0, False),
    ]
    monkeypatch.setattr("mgr_desktop.audio.devices.list_devices", lambda kind: devices)


@pytest.fixture
def files_panel(qtbot, app_home: Path) -> Iterator[Callable[[], Any]]:
    """Makes Files panels (shown, 1000 px wide); their player and loader stop afterwards."""
    from mgr_desktop.gui.files_panel import FilesPanel

    made: list[FilesPanel] = []

    def make() -> FilesPanel:
        panel = FilesPanel()
        qtbot.addWidget(panel)
        made.append(panel)
        panel.resize(1000, 600)
        panel.show()
        return panel

    yield make
    for panel in made:
        panel.shutdown()


def test_the_files_panel_round_trips_its_split_and_output_device(files_panel, monkeypatch) -> None:
    settings = Settings()
    first = files_panel()
    first.restore_settings(settings)  # nothing saved: the first start's split
    first.splitter.setSizes([250, 750])
    sizes = first.splitter.sizes()
    first.output_device.choose("USB headset")  # not listed yet: remembered as it is
    first.save_settings(settings)
    settings.sync()
    stored = QSettings(str(Path(settings.q.fileName())), QSettings.Format.IniFormat)
    assert stored.value("audio/output_device") == "USB headset"

    second = files_panel()
    second.restore_settings(Settings())
    assert second.splitter.sizes() == sizes
    _fake_devices(monkeypatch)
    second.list_devices()
    assert second.output_device.currentText() == "USB headset (ALSA)"
    assert second.output_device.chosen == "USB headset"


def test_the_listen_panel_round_trips_its_input_device(qtbot, app_home, monkeypatch) -> None:
    from mgr_desktop.gui.listen_panel import ListenPanel

    _fake_devices(monkeypatch)
    settings = Settings()
    first = ListenPanel(live_worker=None)
    qtbot.addWidget(first)
    first.restore_settings(settings)
    first.list_devices()
    assert first.input_device.chosen == ""  # nothing remembered: the system default
    first.input_device.setCurrentIndex(first.input_device.findData("Built-in"))
    first.save_settings(settings)

    second = ListenPanel(live_worker=None)
    qtbot.addWidget(second)
    second.restore_settings(settings)
    second.list_devices()
    assert second.input_device.currentData() == "Built-in"


def test_a_device_gone_since_is_the_system_default(qtbot, app_home, monkeypatch) -> None:
    from mgr_desktop.gui.listen_panel import ListenPanel

    _fake_devices(monkeypatch)
    settings = Settings()
    settings.q.setValue("audio/input_device", "unplugged mic")
    panel = ListenPanel(live_worker=None)
    qtbot.addWidget(panel)
    panel.restore_settings(settings)
    panel.list_devices()
    assert panel.input_device.currentIndex() == 0 and panel.input_device.chosen == ""


def _old_split_state(left: int, right: int) -> bytes:
    """A splitter's saved state as the window stored it before (two panes)."""
    splitter = QSplitter()
    splitter.addWidget(QWidget())
    splitter.addWidget(QWidget())
    splitter.resize(left + right + splitter.handleWidth(), 400)
    splitter.setSizes([left, right])
    return bytes(splitter.saveState().data())


def test_the_window_restores_what_was_stored_under_the_old_keys(
    qtbot, app_home, monkeypatch
) -> None:
    from mgr_desktop.gui.main_window import MainWindow

    _fake_devices(monkeypatch)
    old = QSettings(str(app_home / "settings.ini"), QSettings.Format.IniFormat)
    old.setValue("window/splitter", _old_split_state(300, 900))
    old.setValue("audio/output_device", "USB headset")
    old.setValue("audio/input_device", "Built-in")
    old.setValue("window/tab", 1)
    old.sync()
    del old

    window = MainWindow(Settings(), default_model="")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.backend_ready, timeout=60000)  # never quit mid-import
    qtbot.waitUntil(lambda: window.files.output_device.count() > 1, timeout=20000)
    left = window.files.splitter.sizes()[0]
    assert abs(left - 300) < 40, window.files.splitter.sizes()  # the first start's is 460
    assert window.files.output_device.currentData() == "USB headset"
    assert window.listen.input_device.currentData() == "Built-in"
    assert window.tabs.currentIndex() == 1
    window.listen.input_device.setCurrentIndex(0)  # the system default, from now on
    window.close()

    saved = QSettings(str(app_home / "settings.ini"), QSettings.Format.IniFormat)
    assert all(saved.contains(key) for key in OLD_KEYS)
    assert saved.value("audio/output_device") == "USB headset"
    assert saved.value("audio/input_device") == ""


@pytest.mark.parametrize("module", ["window_state", "window_menus", "window_dialogs"])
def test_the_window_helpers_do_not_reach_into_the_windows_parts(module: str) -> None:
    """`window.files.model` and the like: a helper takes the part it needs instead."""
    tree = ast.parse((GUI / f"{module}.py").read_text(encoding="utf-8"))
    reaches = [
        f"line {node.lineno}: window.{node.value.attr}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "window"
    ]
    assert reaches == []
