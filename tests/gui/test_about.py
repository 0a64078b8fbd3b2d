"""Help > About names the versions, the active model's card and the licences."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from mgr_desktop import __version__
from mgr_desktop.gui.about import about_text, model_card
from mgr_desktop.models.checkpoint import read_info
from mgr_desktop.paths import default_model_path


def test_the_about_box_names_versions_model_and_licences(window, monkeypatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", lambda _parent, _title, text: shown.append(text))
    action = next(a for a in window.menuBar().actions() if a.text() == "&Help")
    about = next(a for a in action.menu().actions() if "About" in a.text())
    about.trigger()
    (text,) = shown
    assert f"mgr-desktop {__version__}" in text and "torch" in text and "PySide6" in text
    assert "No model is active." in text  # this window has none
    assert "musicnn" in text and "ISC" in text and "MIT" in text


def test_the_shipped_models_card_says_none_of_its_genres() -> None:
    lines = model_card(read_info(default_model_path()))
    assert any("none of its genres" in x for x in lines)
    assert any(x.startswith("real music, right genre") for x in lines)
    assert "other" not in lines[1]  # the genres line lists genres only
    assert "GTZAN valid" in about_text(read_info(default_model_path()))
