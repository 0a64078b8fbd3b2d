"""The names the user's library gives the model's genres ('hiphop' -> 'Hip Hop'), remembered.

One JSON object, model label -> name, in the user config folder (`genre-names.json`): the
window's write-tags dialog edits it and `classify --write-tags` reads it. A label it does not
name is written in the standard ID3 spelling (`audio.genre_tags.genre_text`), so the file holds
only what the user changed. Written atomically; a damaged file is reported and then ignored, never
a reason to stop tagging. No Qt and no torch here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mgr_desktop.atomic import write_text_atomic
from mgr_desktop.paths import config_dir

FILE_NAME = "genre-names.json"
log = logging.getLogger(__name__)


class NamesError(ValueError):
    """The saved names cannot be read; the message says why in a few words."""


def names_path() -> Path:
    return config_dir() / FILE_NAME


def read_names(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The saved label -> name mapping ({} when there is none yet). Raises NamesError."""
    target = Path(path) if path is not None else names_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise NamesError(f"cannot read {target}: {getattr(e, 'strerror', None) or e}") from e
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise NamesError(f"{target} is not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise NamesError(f"{target} should hold one JSON object (label: name)")
    return clean(doc)


def load_names(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """read_names, with a damaged file logged and taken as empty (the window's way)."""
    try:
        return read_names(path)
    except NamesError as e:
        log.warning("genre names ignored: %s", e)
        return {}


def save_names(names: Mapping[str, str], path: str | os.PathLike[str] | None = None) -> None:
    """Replace the saved mapping (atomically). Raises OSError."""
    target = Path(path) if path is not None else names_path()
    text = json.dumps(clean(names), ensure_ascii=False, indent=2, sort_keys=True)
    write_text_atomic(target, text + "\n")


def clean(names: Mapping[Any, object]) -> dict[str, str]:
    """Only text labels with a non-blank name, both stripped of outer spaces."""
    out: dict[str, str] = {}
    for label, name in names.items():
        if isinstance(label, str) and isinstance(name, str) and label.strip() and name.strip():
            out[label.strip()] = name.strip()
    return out


def parse_assignment(text: str) -> tuple[str, str]:
    """'hiphop=Hip Hop' -> ('hiphop', 'Hip Hop'). Raises ValueError saying what is wrong."""
    label, sep, name = text.partition("=")
    label, name = label.strip(), name.strip()
    if not sep or not label or not name:
        raise ValueError(
            f"--genre-name takes LABEL=NAME (for example hiphop=Hip Hop), not {text!r}"
        )
    return label, name
