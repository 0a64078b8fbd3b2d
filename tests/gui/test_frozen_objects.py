"""The window freezes long-lived objects out of the collector's full passes; a model it drops
must still be collected at the next model change."""

from __future__ import annotations

import gc
import weakref

from mgr_desktop.gui.row_summary import _shared
from mgr_desktop.gui.track_loader import freeze_long_lived


class _Cycle:
    def __init__(self) -> None:
        self.me = self  # only the cyclic collector can free it


def test_an_object_frozen_by_one_model_change_is_freed_at_the_next() -> None:
    try:
        old_model = _Cycle()
        gone = weakref.ref(old_model)
        freeze_long_lived()  # the old model is in use: frozen
        del old_model
        gc.collect()
        assert gone() is not None  # frozen objects are not collected...
        freeze_long_lived()  # ...until the next model change thaws and collects them
        assert gone() is None
    finally:
        gc.unfreeze()


def test_rows_of_one_model_share_one_labels_tuple() -> None:
    a, b = ("blues", "jazz"), tuple(["blues", "jazz"])
    assert a is not b and _shared(a) is _shared(b)
