"""Models the user can switch between: trained ones in the models folder, and opened ones.

Every file in the models folder is input from a stranger, and the picker is filled while the
window is built, so describing a file is guarded per file: whatever a file is (a FIFO, a
broken link, a link loop, hostile metadata) it is listed as unusable (and cannot be chosen)
or skipped, and the window always starts.
"""

from __future__ import annotations

import html
import logging
import os
import stat
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QWidget

from mgr_desktop.paths import models_dir
from mgr_desktop.safetext import escape, printable

log = logging.getLogger(__name__)
MAX_LISTED = 500  # a folder with more model files than this lists the newest ones


def describe_model(path: Path) -> tuple[str, str, bool]:
    """(display name, tooltip, usable) from the file's metadata, without loading weights or
    torch. Never raises: an unusable file is described as such."""
    from mgr_desktop.models.metadata import CheckpointError, read_info

    shown = printable(path.name)
    try:
        info = read_info(path)
        name = printable(info.name or path.stem)
        acc = info.training.get("test_track_accuracy")
        if isinstance(acc, bool) or not isinstance(acc, (int, float)):
            acc = None  # the schema types it; a summary is never worth a crash
        tip = [
            printable(str(path)),
            f"architecture: {info.arch}",
            f"genres: {', '.join(info.labels)}",
        ]
        if acc is not None:
            split = escape(str(info.training.get("split", "?")), 40)
            tip.append(f"test accuracy per track: {acc:.1%} ({split} split)")
        if info.created:
            tip.append(f"created {printable(info.created)}")
        title = f"{name} · {info.arch}" + (f" · {acc:.0%}" if acc is not None else "")
        return title, "\n".join(tip), True
    except CheckpointError as e:
        reason = e.reason
    except Exception as e:  # a bug met by a strange file must not stop the window
        log.warning("describing %s", path, exc_info=True)
        reason = f"{type(e).__name__}: {e}"
    return f"{shown} (unusable: {escape(reason, 60)})", escape(reason, 400), False


def _mtime(p: Path) -> float:
    """Newest first; a broken link or a link loop sorts last instead of raising."""
    try:
        return p.stat().st_mtime
    except (OSError, ValueError):
        try:
            return p.lstat().st_mtime
        except (OSError, ValueError):
            return 0.0


def _listable(p: Path) -> bool:
    """Files worth describing: regular files and links (broken ones are shown as unusable);
    folders, FIFOs, sockets and devices named *.safetensors are skipped unopened."""
    try:
        mode = os.lstat(p).st_mode
    except (OSError, ValueError):
        return False
    if stat.S_ISLNK(mode):
        try:
            return not stat.S_ISDIR(os.stat(p).st_mode)
        except (OSError, ValueError):
            return True  # broken link or loop: listed as unusable
    return stat.S_ISREG(mode)


def _tooltip(text: str) -> str:
    """Rich text with everything escaped: a name like <img src=…> is shown, not rendered."""
    return f"<p style='white-space:pre'>{html.escape(text)}</p>"


class ModelPicker(QComboBox):
    model_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumContentsLength(28)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setPlaceholderText("no model")
        self.activated.connect(self._activated)

    def _activated(self, i: int) -> None:
        if self.is_usable(i):
            self.model_chosen.emit(self.itemData(i))

    def refresh(self, extra: list[str], active: str | None) -> None:
        """List the models folder plus `extra` paths; select `active` without emitting."""
        paths = list(dict.fromkeys([*(str(p) for p in self._folder_models()), *extra]))
        self.blockSignals(True)
        self.clear()
        for p in paths:
            try:
                if not _listable(Path(p)):
                    continue
                name, tip, usable = describe_model(Path(p))
            except Exception:  # belt and braces: one file never stops the window
                log.warning("listing model %s", p, exc_info=True)
                continue
            self.addItem(name, p)
            i = self.count() - 1
            self.setItemData(i, _tooltip(tip), Qt.ItemDataRole.ToolTipRole)
            if not usable:
                model = self.model()
                if isinstance(model, QStandardItemModel):
                    item = model.item(i)
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        i = self.findData(active) if active else -1
        self.setCurrentIndex(i if i >= 0 and self.is_usable(i) else -1)
        self.blockSignals(False)

    @staticmethod
    def _folder_models() -> list[Path]:
        try:
            folder = models_dir()
            if not folder.is_dir():
                return []
            found = list(folder.glob("*.safetensors"))
        except (OSError, ValueError) as e:
            log.warning("cannot list the models folder: %s", e)
            return []
        return sorted(found, key=lambda p: -_mtime(p))[:MAX_LISTED]

    def is_usable(self, i: int) -> bool:
        model = self.model()
        if not 0 <= i < self.count() or not isinstance(model, QStandardItemModel):
            return 0 <= i < self.count()
        return bool(model.item(i).flags() & Qt.ItemFlag.ItemIsEnabled)

    def paths(self) -> list[str]:
        return [self.itemData(i) for i in range(self.count())]
