"""The window uses the result cache and gives the CLI's verdict: an unchanged file is not
analysed again, and a file's genre and confidence are the same in both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgr_desktop.cli import main
from mgr_desktop.gui.file_table import DONE
from mgr_desktop.inference.engine import Engine
from tests.gui.test_main_window import audio, drop, statuses  # noqa: F401 (a fixture)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file the engine decodes, whoever asks."""
    seen: list[str] = []
    original = Engine.classify_file

    def counting(self: Engine, path, *a, **kw):  # type: ignore[no-untyped-def]
        seen.append(Path(path).name)
        return original(self, path, *a, **kw)

    monkeypatch.setattr(Engine, "classify_file", counting)
    return seen


def test_an_unchanged_folder_comes_back_from_the_cache(
    window,
    audio,  # noqa: F811 (the fixture imported above)
    cnn_model,
    qtbot,
    decoded,
    capsys,
) -> None:
    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    folder = audio["a"].parent / "sub"
    drop(window, [folder])
    qtbot.waitUntil(lambda: len(statuses(window)) == 2
                    and set(statuses(window).values()) == {DONE}, timeout=30000)  # fmt: skip
    first = {Path(r.path).name: (r.result.genre, r.result.confidence)
             for r in window.files.model.rows}  # fmt: skip
    assert sorted(decoded) == ["b.flac", "c.ogg"]
    decoded.clear()
    window.files.requeue_all()  # the same model again: every row is asked for once more
    qtbot.waitUntil(lambda: set(statuses(window).values()) == {DONE}, timeout=30000)
    assert decoded == []  # from the cache, not analysed again
    again = {Path(r.path).name: (r.result.genre, r.result.confidence)
             for r in window.files.model.rows}  # fmt: skip
    assert again == first
    # The command line gives the same verdicts (and finds them in the same cache).
    assert main(["classify", "--model", str(cnn_model), "--format", "json", str(folder)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    cli = {Path(r["path"]).name: (r["genre"], r["confidence"]) for r in rows}
    assert cli == {k: (g, pytest.approx(c, abs=1e-5)) for k, (g, c) in first.items()}
    assert decoded == []


def test_the_selected_file_is_shown_from_its_cached_analysis(
    window,
    audio,  # noqa: F811 (the fixture imported above)
    cnn_model,
    qtbot,
    decoded,
) -> None:
    """A short file's cached analysis has every segment: playing it shows those segments'
    probabilities without analysing the file a second time."""
    from tests.gui.fake_audio import FakeSoundDevice

    window.use_model(str(cnn_model))
    qtbot.waitUntil(lambda: window.engine is not None, timeout=30000)
    drop(window, [audio["b"]])
    files = window.files
    qtbot.waitUntil(lambda: statuses(window) == {"b.flac": DONE}, timeout=30000)
    assert decoded == ["b.flac"]  # the table's analysis, stored in the cache
    files.player.backend = FakeSoundDevice(speed=1)
    files.table.selectRow(0)
    qtbot.waitUntil(lambda: files.current == str(audio["b"]) and files.player.loaded)
    files.toggle_play()
    qtbot.waitUntil(lambda: files.current_details is not None, timeout=30000)
    files.stop()
    assert decoded == ["b.flac"]  # the details came from the cache: no second analysis
    summary, details = files.model.rows[0].result, files.current_details
    assert not details.sampled
    assert [s.genre for s in details.segments] == [s.genre for s in summary.segments]
    assert details.segments[0].probabilities.shape == (len(window.engine.labels),)
