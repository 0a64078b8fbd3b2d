"""The user's names for the model's genres: one JSON file in the user config folder, written
atomically, read by the CLI and the window; a damaged file is reported, never fatal."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mgr_desktop.audio.genre_names import (
    NamesError,
    load_names,
    names_path,
    parse_assignment,
    read_names,
    save_names,
)


def test_names_are_saved_and_read_back(app_home: Path) -> None:
    assert names_path() == app_home / "config" / "genre-names.json"
    assert read_names() == {}  # nothing saved yet
    save_names({"hiphop": " Hip Hop ", "jazz": "", "": "x", "rnb": "R&B"})
    doc = json.loads(names_path().read_text(encoding="utf-8"))
    assert doc == {"hiphop": "Hip Hop", "rnb": "R&B"}  # blank entries are not kept
    assert read_names() == load_names() == doc
    save_names({"hiphop": "Rap"})  # replaced as a whole
    assert read_names() == {"hiphop": "Rap"}
    assert [p.name for p in names_path().parent.iterdir()] == ["genre-names.json"]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff\xfe"])
def test_a_damaged_file_is_reported_and_ignored(app_home: Path, text: str) -> None:
    names_path().parent.mkdir(parents=True)
    names_path().write_bytes(text.encode("latin-1"))
    with pytest.raises(NamesError, match=r"genre-names\.json"):
        read_names()
    assert load_names() == {}


def test_entries_that_are_not_text_are_skipped(app_home: Path) -> None:
    names_path().parent.mkdir(parents=True)
    names_path().write_text('{"hiphop": "Hip Hop", "jazz": 3, "pop": null}', encoding="utf-8")
    assert read_names() == {"hiphop": "Hip Hop"}


@pytest.mark.skipif(sys.platform != "linux", reason="XDG folders")
def test_without_a_home_override_it_is_the_user_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MGR_DESKTOP_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert names_path() == tmp_path / "xdg" / "mgr-desktop" / "genre-names.json"


def test_label_equals_name() -> None:
    assert parse_assignment("hiphop=Hip Hop") == ("hiphop", "Hip Hop")
    assert parse_assignment(" rnb = R&B=Soul ") == ("rnb", "R&B=Soul")
    for bad in ("hiphop", "=Hip Hop", "hiphop=", "hiphop=  "):
        with pytest.raises(ValueError, match="LABEL=NAME"):
            parse_assignment(bad)
