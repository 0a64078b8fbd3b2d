"""Rows of one model share one labels tuple, through a bounded cache."""

from __future__ import annotations

from mgr_desktop.gui.row_summary import _shared


def test_rows_of_one_model_share_one_labels_tuple() -> None:
    a, b = ("blues", "jazz"), tuple(["blues", "jazz"])
    assert a is not b and _shared(a) is _shared(b)
