"""The table's texts agree with the player's clock."""

from __future__ import annotations

from mgr_desktop.gui.file_table import duration_text


def test_durations_read_as_the_player_shows_them() -> None:
    assert duration_text(197.97) == "3:17"  # the player's 3:17 for the same file, not 3:18.0
    assert duration_text(4.0) == "0:04" and duration_text(3600.5) == "60:00"
