"""The result types load without torch: the cache's codec, the window's summaries and tag
writing read results without the model's libraries."""

from __future__ import annotations

import subprocess
import sys


def test_results_and_their_codec_import_without_torch() -> None:
    code = (
        "import sys, mgr_desktop.inference.results, mgr_desktop.inference.result_codec, "
        "mgr_desktop.gui.row_summary; sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_the_engine_gives_the_same_types() -> None:
    from mgr_desktop.inference import engine, results

    assert engine.TrackResult is results.TrackResult and engine.Segment is results.Segment
    assert engine.FileFailure is results.FileFailure
