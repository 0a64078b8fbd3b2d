"""The table's texts agree with the player's clock."""

from __future__ import annotations

from mgr_desktop.gui.file_table import duration_text


def test_durations_read_as_the_player_shows_them() -> None:
    assert duration_text(197.97) == "3:17"  # the player's 3:17 for the same file, not 3:18.0
    assert duration_text(4.0) == "0:04" and duration_text(3600.5) == "60:00"


def test_an_error_status_is_cut_at_its_end_not_its_middle(window, tmp_path) -> None:
    from PySide6.QtCore import Qt

    from mgr_desktop.gui.file_table import COLUMNS

    bad = tmp_path / "notes.mp3"
    bad.write_text("shopping list")
    window.files.model.add([str(bad)])
    window.files.model.update(str(bad), "error", error="not audio: the file is text")
    table = window.files.table
    status = window.files.model.index(0, len(COLUMNS) - 1)
    assert table.textElideMode() == Qt.TextElideMode.ElideRight  # every column but the name's
    assert table.itemDelegateForColumn(len(COLUMNS) - 1) is None
    assert status.data() == "error: not audio: the file is text"
    assert "not audio: the file is text" in status.data(Qt.ItemDataRole.ToolTipRole)


def test_the_output_device_box_shows_a_whole_name(window, qtbot) -> None:
    window.resize(1200, 780)
    box = window.files.output_device
    box.clear()
    box.addItem("System default")
    qtbot.waitUntil(lambda: box.isVisible() or window.files.isVisible(), timeout=5000)
    window.tabs.setCurrentWidget(window.files)
    window.files.layout().activate()
    width = box.fontMetrics().horizontalAdvance("System default")
    assert box.width() >= width + 20  # the whole name beside the arrow, never "System c"


def test_a_long_name_keeps_its_end(window) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QStyleOptionViewItem

    table = window.files.table
    window.files.model.add(["/music/Some Artist - Some Album - 07 - machine_wars.mp3"])
    option = QStyleOptionViewItem()
    table.itemDelegateForColumn(0).initStyleOption(option, window.files.model.index(0, 0))
    assert option.textElideMode == Qt.TextElideMode.ElideLeft
    shown = table.fontMetrics().elidedText(
        "Some Artist - Some Album - 07 - machine_wars.mp3", option.textElideMode, 120
    )
    assert shown.endswith("machine_wars.mp3") or shown.endswith("wars.mp3")
