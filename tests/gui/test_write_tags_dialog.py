"""File > Write genre to files…: the preview (with each file's current genres), the threshold
(remembered), genres kept unless "Replace genres files already have" is ticked, a close second
genre, the user's names for the genres (saved), and tags written only for verdicts at or above
the threshold, with a status per row; never for a track without a verdict."""

from __future__ import annotations

from pathlib import Path

import mutagen
import numpy as np
import pytest
from PySide6.QtCore import Qt

from mgr_desktop.atomic import identity
from mgr_desktop.audio.genre_names import names_path, read_names
from mgr_desktop.audio.genre_tags import CHANGED
from mgr_desktop.gui.settings import Key, Settings
from mgr_desktop.gui.write_tags_dialog import (
    CURRENT,
    NAME,
    NEW,
    STATUS,
    TagRequest,
    WriteTagsDialog,
)
from mgr_desktop.inference.engine import TrackResult
from tests.helpers import tone, write


def result(path: Path, genre: str | None, confidence: float) -> TrackResult:
    return TrackResult(str(path), genre, confidence, {}, [], 3.0)


def genre_tag(path: Path) -> list[str] | None:
    f = mutagen.File(path)
    if f is None or f.tags is None:
        return None
    if path.suffix == ".wav":
        return [g for fr in f.tags.getall("TCON") for g in fr.genres] or None
    return list(f.tags.get("genre", [])) or None


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "library"
    names = {
        "sure": "sure.flac",
        "at": "at threshold.ogg",
        "below": "below.wav",
        "silent": "silent.flac",
        "au": "sun.au",
        "tagged": "tagged.ogg",
        "locked": "locked.flac",
    }
    files = {k: write(d / n, tone(1.0, 22050, freq=200.0 + 50 * i), 22050)
             for i, (k, n) in enumerate(names.items())}  # fmt: skip
    f = mutagen.File(files["tagged"])
    f["genre"] = ["Jazz"]
    f.save()
    files["locked"].chmod(0o444)
    return files


def status(dlg: WriteTagsDialog, row: int) -> str:
    return dlg.table.item(row, STATUS).text()


def test_tags_are_written_only_at_or_above_the_threshold(
    qtbot, app_home: Path, library: dict[str, Path]
) -> None:
    results = [
        result(library["sure"], "rock", 0.9),
        result(library["at"], "hiphop", 0.6),
        result(library["below"], "blues", 0.59),
        result(library["silent"], None, 0.0),
        result(library["au"], "jazz", 0.95),
        result(library["tagged"], "jazz", 0.8),
        result(library["locked"], "pop", 0.99),
    ]
    before = {k: p.read_bytes() for k, p in library.items()}
    dlg = WriteTagsDialog(results, Settings())
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.threshold.value() == 60  # the default
    qtbot.waitUntil(lambda: not dlg.reading, timeout=10000)

    assert status(dlg, 0) == status(dlg, 1) == "will write"
    assert status(dlg, 2) == "below the threshold (59%)"
    assert status(dlg, 3) == "no verdict"
    assert status(dlg, 4).startswith("cannot tag: unsupported format")
    assert status(dlg, 5) == "already tagged"
    assert dlg.table.item(5, 1).text() == "Jazz"
    assert status(dlg, 6) == "will write"  # read-only shows when writing
    assert dlg.summary.text() == "3 of 7 files will be tagged"

    dlg.threshold.setValue(70)
    assert status(dlg, 1) == "below the threshold (60%)"
    assert dlg.rows_to_write() == [0, 6]
    assert dlg.write_button.isEnabled()

    qtbot.mouseClick(dlg.write_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.finished_writing, timeout=20000)

    assert genre_tag(library["sure"]) == ["Rock"]
    assert status(dlg, 0) == "written"
    assert dlg.table.item(0, 1).text() == "Rock"
    assert status(dlg, 6) == "failed: the file is read-only"
    assert dlg.summary.text() == "1 written, 1 failed"
    for key in ("at", "below", "silent", "au", "tagged", "locked"):
        assert library[key].read_bytes() == before[key], key
    assert genre_tag(library["tagged"]) == ["Jazz"]
    assert dlg.cancel_button.text() == "Close"

    # the threshold is remembered for the next time
    assert Settings().get(Key.TAG_MIN_CONFIDENCE) == pytest.approx(0.7)
    again = WriteTagsDialog(results[:1], Settings())
    qtbot.addWidget(again)
    again.show()
    assert again.threshold.value() == 70
    qtbot.waitUntil(lambda: not again.reading, timeout=10000)
    assert status(again, 0) == "already tagged"
    assert not again.write_button.isEnabled()


def opened(qtbot, results: list, settings: Settings | None = None) -> WriteTagsDialog:
    dlg = WriteTagsDialog(results, settings or Settings())
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: not dlg.reading, timeout=10000)
    return dlg


def write_all(qtbot, dlg: WriteTagsDialog) -> None:
    qtbot.mouseClick(dlg.write_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.finished_writing, timeout=20000)


def test_a_file_changed_since_its_verdict_keeps_its_tags_and_leftovers_are_swept(
    qtbot, app_home: Path, library: dict[str, Path]
) -> None:
    """As `classify --write-tags` does: a verdict lands only in the file it was made from, and
    the temporary copies a killed run left beside the music are removed (only ours)."""
    sure, changed = library["sure"], library["at"]
    requests = [TagRequest(str(p), "rock", 0.9, source=identity(p)) for p in (sure, changed)]
    changed.write_bytes(changed.read_bytes() + b"\0")  # replaced since it was classified
    left = sure.parent / ".mgr-0123456789ab.tagtmp"  # what a SIGKILL leaves
    left.write_bytes(b"half a copy")
    theirs = sure.parent / "song.tagtmp"
    theirs.write_bytes(b"not ours")
    before = changed.read_bytes()
    dlg = opened(qtbot, requests)
    write_all(qtbot, dlg)
    assert status(dlg, 0) == "written" and genre_tag(sure) == ["Rock"]
    assert status(dlg, 1) == f"failed: {CHANGED}"
    assert changed.read_bytes() == before
    assert not left.exists() and theirs.exists()
    assert dlg.summary.text() == (
        "1 written, 1 failed; 1 temporary copy left by an interrupted run removed"
    )


def test_genres_a_file_has_are_kept_unless_the_box_is_ticked(
    qtbot, app_home: Path, library: dict[str, Path]
) -> None:
    f = mutagen.File(library["tagged"])
    f["genre"] = ["Rock", "Pop"]
    f.save()
    kept = library["tagged"].read_bytes()
    results = [result(library["sure"], "blues", 0.9), result(library["tagged"], "blues", 0.9)]
    dlg = opened(qtbot, results)
    assert dlg.replace.text() == "Replace genres files already have"
    assert not dlg.replace.isChecked()  # off by default
    assert dlg.table.item(1, CURRENT).text() == "Rock; Pop"  # what the file has, shown
    assert dlg.table.item(1, NEW).text() == "Blues"
    assert status(dlg, 0) == "will write"
    assert status(dlg, 1) == "kept: already has genres"
    dlg.replace.setChecked(True)
    assert status(dlg, 1) == "will replace"
    assert dlg.rows_to_write() == [0, 1]
    dlg.replace.setChecked(False)
    assert dlg.rows_to_write() == [0]
    write_all(qtbot, dlg)
    assert genre_tag(library["sure"]) == ["Blues"]
    assert library["tagged"].read_bytes() == kept  # byte for byte

    again = opened(qtbot, results)
    assert not again.replace.isChecked()  # not remembered: asked for each time
    assert status(again, 0) == "already tagged"
    again.replace.setChecked(True)
    write_all(qtbot, again)
    assert genre_tag(library["tagged"]) == ["Blues"]
    assert status(again, 1) == "written"
    assert again.table.item(1, CURRENT).text() == "Blues"


def name_cell(dlg: WriteTagsDialog, label: str):
    return dlg.names_table.item(dlg.name_labels.index(label), NAME)


def test_a_close_second_genre_and_the_users_names(
    qtbot, app_home: Path, library: dict[str, Path]
) -> None:
    probs = {"hiphop": 0.45, "jazz": 0.35, "rock": 0.2}
    results = [TrackResult(str(library["sure"]), "hiphop", 0.45, probs, [], 3.0)]
    dlg = opened(qtbot, results)
    assert dlg.name_labels == ["hiphop", "jazz", "rock"]
    assert name_cell(dlg, "hiphop").text() == "Hip-Hop"  # the standard spelling by default
    assert dlg.table.item(0, NEW).text() == "Hip-Hop; Jazz"  # 35 % is close to 45 %
    assert status(dlg, 0) == "will write"
    dlg.threshold.setValue(81)  # the pair makes 80 %: below
    assert status(dlg, 0) == "below the threshold (45%)"
    dlg.threshold.setValue(60)

    name_cell(dlg, "hiphop").setText("Hip Hop")  # as the user's library spells it
    assert read_names() == {"hiphop": "Hip Hop"}  # saved at once
    assert dlg.table.item(0, NEW).text() == "Hip Hop; Jazz"
    write_all(qtbot, dlg)
    assert genre_tag(library["sure"]) == ["Hip Hop", "Jazz"]  # two GENRE values

    again = opened(qtbot, results)
    assert name_cell(again, "hiphop").text() == "Hip Hop"  # remembered
    assert status(again, 0) == "already tagged"
    name_cell(again, "hiphop").setText("  ")  # empty: back to the default
    assert name_cell(again, "hiphop").text() == "Hip-Hop"
    assert read_names() == {} and names_path().is_file()


def test_no_verdict_and_outside_are_never_written(
    qtbot, app_home: Path, library: dict[str, Path]
) -> None:
    probs = {"jazz": 0.9, "blues": 0.1}
    results = [
        TagRequest(str(library["sure"]), None, 0.9, probs, outside=True),
        TagRequest(str(library["tagged"]), None, 0.9, probs, outside=True),
        TagRequest(str(library["silent"]), None, 0.0),
        TagRequest(str(library["at"]), "jazz", 0.9, probs),
    ]
    before = {k: library[k].read_bytes() for k in ("sure", "tagged", "silent")}
    dlg = opened(qtbot, results)
    dlg.threshold.setValue(0)
    dlg.replace.setChecked(True)
    assert status(dlg, 0) == status(dlg, 1) == "none of its genres"
    assert status(dlg, 2) == "no verdict"
    assert dlg.rows_to_write() == [3]
    write_all(qtbot, dlg)
    assert {k: library[k].read_bytes() for k in before} == before
    assert genre_tag(library["at"]) == ["Jazz"]  # 10 % is not close to 90 %


def test_cancel_writes_nothing(qtbot, app_home: Path, tmp_path: Path) -> None:
    f = write(tmp_path / "a.flac", tone(1.0), 22050)
    data = f.read_bytes()
    dlg = WriteTagsDialog([result(f, "rock", 0.99)], Settings())
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: not dlg.reading, timeout=10000)
    dlg.cancel_button.click()
    assert not dlg.isVisible()
    assert not dlg.worker.job.is_alive()
    assert f.read_bytes() == data


def test_the_window_offers_the_classified_rows(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mgr_desktop.gui import write_tags_dialog
    from mgr_desktop.gui.file_table import DONE

    assert window.write_tags_action.text() == "&Write genre to files…"
    opened: list[list[tuple[str, str | None, float]]] = []

    def fake_exec(dlg: WriteTagsDialog) -> int:
        opened.append([(r.path, r.genre, r.confidence) for r in dlg.items])
        dlg.reject()
        return 0

    monkeypatch.setattr(write_tags_dialog.WriteTagsDialog, "exec", fake_exec)
    window.write_tags_action.trigger()
    assert opened == []  # nothing classified yet: a message instead

    a = write(tmp_path / "a.wav", tone(1.0), 22050)
    b = write(tmp_path / "b.wav", np.zeros(22050, np.float32), 22050)
    model = window.files.model
    model.add([str(a), str(b), str(tmp_path / "pending.wav")])
    model.update(str(a), DONE, result(a, "rock", 0.8))
    model.update(str(b), DONE, result(b, None, 0.0))
    window.write_tags_action.trigger()
    assert opened == [[(str(a), "rock", 0.8), (str(b), None, 0.0)]]


def test_a_written_files_cached_verdicts_follow_it(
    qtbot, app_home: Path, library: dict[str, Path]
) -> None:
    """Tagging gives a file a new identity but the same audio: every model's cached verdict
    for it is kept under the new identity, as `classify --write-tags` keeps it, so the next
    time the file is dropped it is not analysed again."""
    from mgr_desktop.inference.result_cache import ResultCache

    sure = library["sure"]
    before = identity(sure)
    assert before is not None
    with ResultCache() as cache:
        for model in ("model-a", "model-b"):
            cache.put(model, result(sure, "rock", 0.9), before)
    dlg = opened(qtbot, [TagRequest(str(sure), "rock", 0.9, source=before)])
    write_all(qtbot, dlg)
    assert status(dlg, 0) == "written"
    after = identity(sure)
    assert after is not None and after != before
    with ResultCache() as cache:
        for model in ("model-a", "model-b"):
            assert not cache.contains(model, before)
            assert cache.contains(model, after)
            cached = cache.get(model, sure, after)
            assert cached is not None and cached.genre == "rock"
