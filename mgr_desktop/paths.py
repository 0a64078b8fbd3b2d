"""Where things live: user folders (models, cache, runs) and bundled resources, frozen or not."""

from __future__ import annotations

import os
from pathlib import Path

APP = "mgr-desktop"


def _user_dir(kind: str) -> Path:
    # MGR_DESKTOP_HOME moves everything (tests, portable installs).
    home = os.environ.get("MGR_DESKTOP_HOME")
    if home:
        return Path(home) / kind
    import platformdirs

    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP, appauthor=False))
    if kind == "logs":
        return Path(platformdirs.user_log_dir(APP, appauthor=False))
    if kind == "config":  # where QSettings keeps the window's settings too
        return Path(platformdirs.user_config_dir(APP, appauthor=False))
    return Path(platformdirs.user_data_dir(APP, appauthor=False)) / kind


def cache_dir() -> Path:
    return _user_dir("cache")


def log_dir() -> Path:
    return _user_dir("logs")


def config_dir() -> Path:
    return _user_dir("config")


def models_dir() -> Path:
    return _user_dir("models")


def runs_dir() -> Path:
    return _user_dir("runs")


def resource_path(*parts: str) -> Path:
    """A file the app ships under `mgr_desktop/data/`: the same path logic serves a source
    checkout, a pip install and a PyInstaller bundle (which keeps the package layout)."""
    return Path(__file__).resolve().parent.joinpath("data", *parts)


def default_model_path() -> Path:
    """The genre model shipped inside the package (see the README's model card)."""
    return resource_path("models", "default.safetensors")


def model_or_default(model: str | os.PathLike[str] | None) -> str:
    """What the user named, or the shipped default model when they named none."""
    return str(model) if model else str(default_model_path())
