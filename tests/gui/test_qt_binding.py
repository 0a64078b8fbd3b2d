"""Guards against known defects of the Qt binding we depend on."""

from __future__ import annotations

import sys

import pytest


@pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="None is immortal from Python 3.12 on, "
    "so the defect this test catches cannot crash there",
)
def test_process_events_keeps_none_alive(qapp) -> None:
    """PySide6 6.12.0 dropped a reference to None on every processEvents(); pyproject.toml
    excludes it. Any binding that does this again aborts long GUI sessions and test runs."""
    before = sys.getrefcount(None)
    for _ in range(500):
        qapp.processEvents()
    assert sys.getrefcount(None) >= before - 50
