"""Remembered settings. Keys are an enum, not strings scattered through the widgets."""

from __future__ import annotations

import os
from enum import Enum
from typing import Any

from PySide6.QtCore import QSettings


class Key(str, Enum):
    GEOMETRY = "window/geometry"
    SPLITTER = "window/splitter"
    TAB = "window/tab"
    ACTIVE_MODEL = "model/active"
    KNOWN_MODELS = "model/known"
    COMPUTE_DEVICE = "model/device"
    INPUT_DEVICE = "audio/input_device"
    OUTPUT_DEVICE = "audio/output_device"
    COLORMAP = "view/colormap"
    DB_MIN = "view/db_min"
    DB_MAX = "view/db_max"
    THEME = "view/theme"
    LAST_DIR = "files/last_dir"
    TRAIN = "train/last"
    TAG_MIN_CONFIDENCE = "tags/min_confidence"


DEFAULTS: dict[Key, Any] = {
    Key.COLORMAP: "inferno",
    Key.DB_MIN: -80.0,
    Key.DB_MAX: 20.0,
    Key.THEME: "system",
    Key.COMPUTE_DEVICE: "auto",
    Key.KNOWN_MODELS: [],
    Key.TAG_MIN_CONFIDENCE: 0.6,
}


class Settings:
    """Typed access to QSettings; MGR_DESKTOP_HOME keeps them in a file (tests, portable use)."""

    def __init__(self) -> None:
        home = os.environ.get("MGR_DESKTOP_HOME")
        if home:
            self.q = QSettings(os.path.join(home, "settings.ini"), QSettings.Format.IniFormat)
        else:
            self.q = QSettings("mgr-desktop", "mgr-desktop")

    def get(self, key: Key, default: Any = None) -> Any:
        fallback = DEFAULTS.get(key, default)
        # Whatever was stored, as QSettings gives it back (typed object); floats, lists made so.
        value: Any = self.q.value(key.value, fallback)
        if isinstance(fallback, float):
            try:
                return float(value)
            except (TypeError, ValueError):
                return fallback
        if isinstance(fallback, list):
            if value in (None, ""):
                return []
            return [value] if isinstance(value, str) else list(value)
        return value

    def set(self, key: Key, value: Any) -> None:
        self.q.setValue(key.value, value)

    def sync(self) -> None:
        self.q.sync()
