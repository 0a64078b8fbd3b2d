"""Models the user can switch between: trained ones in the models folder, and opened ones."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from mgr_desktop.paths import models_dir


def describe_model(path: Path) -> tuple[str, str]:
    """(display name, tooltip) from the file's metadata, without loading weights or torch."""
    from mgr_desktop.models.metadata import CheckpointError, read_info

    try:
        info = read_info(path)
    except CheckpointError as e:
        return f"{path.name} (unusable)", e.reason
    name = info.name or path.stem
    acc = info.training.get("test_track_accuracy")
    tip = [f"{path}", f"architecture: {info.arch}", f"genres: {', '.join(info.labels)}"]
    if acc is not None:
        tip.append(f"test accuracy per track: {acc:.1%} ({info.training.get('split', '?')} split)")
    if info.created:
        tip.append(f"created {info.created}")
    return f"{name} · {info.arch}" + (f" · {acc:.0%}" if acc is not None else ""), "\n".join(tip)


class ModelPicker(QComboBox):
    model_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumContentsLength(28)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setPlaceholderText("no model")
        self.activated.connect(lambda i: self.model_chosen.emit(self.itemData(i)))

    def refresh(self, extra: list[str], active: str | None) -> None:
        """List the models folder plus `extra` paths; select `active` without emitting."""
        folder = models_dir()
        found = sorted(folder.glob("*.safetensors"), key=lambda p: -p.stat().st_mtime) \
            if folder.is_dir() else []  # fmt: skip
        paths = list(dict.fromkeys([*(str(p) for p in found), *extra]))
        self.blockSignals(True)
        self.clear()
        for p in paths:
            if Path(p).is_file():
                name, tip = describe_model(Path(p))
                self.addItem(name, p)
                self.setItemData(self.count() - 1, tip, role=3)  # ToolTipRole
        self.setCurrentIndex(self.findData(active) if active else -1)
        self.blockSignals(False)

    def paths(self) -> list[str]:
        return [self.itemData(i) for i in range(self.count())]
