"""What a training run looks like: live curves, then the test confusion matrix and scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mgr_desktop.gui.confusion_view import ConfusionView


class TrainPlots(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss = pg.PlotWidget(title="loss")
        self.loss.addLegend(offset=(-10, 10))
        self.loss.setLabel("bottom", "epoch")
        self.train_curve = self.loss.plot([], [], pen=pg.mkPen("#f28e2b", width=2), name="train")
        self.valid_curve = self.loss.plot(
            [], [], pen=pg.mkPen("#4e79a7", width=2), name="valid", symbol="o", symbolSize=5
        )
        self.acc = pg.PlotWidget(title="valid accuracy per track")
        self.acc.setLabel("bottom", "epoch")
        self.acc.setYRange(0, 1)
        self.acc_curve = self.acc.plot(
            [], [], pen=pg.mkPen("#59a14f", width=2), symbol="o", symbolSize=5
        )
        self.lr = pg.PlotWidget(title="learning rate")
        self.lr.setLabel("bottom", "batch")
        self.lr_curve = self.lr.plot([], [], pen=pg.mkPen("#b07aa1", width=2))
        for plot in (self.loss, self.acc, self.lr):
            for axis in ("left", "bottom", "top", "right"):  # "(x0.001)" says nothing
                plot.getAxis(axis).enableAutoSIPrefix(False)
        self.confusion = ConfusionView("test confusion (tracks)")
        self.kfold = QLabel("")  # k-fold: each score's mean ± std over the folds
        self.kfold.setWordWrap(True)
        self.kfold.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scores = QLabel("")
        self.scores.setWordWrap(True)
        self.scores.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.per_class = QTableWidget(0, 4)
        self.per_class.setHorizontalHeaderLabels(["genre", "precision", "recall", "tracks"])
        self.per_class.verticalHeader().hide()
        header = self.per_class.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # "precision" whole
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

        grid = QGridLayout()
        grid.addWidget(self.loss, 0, 0)
        grid.addWidget(self.acc, 0, 1)
        grid.addWidget(self.lr, 0, 2)
        right = QVBoxLayout()
        right.addWidget(self.kfold)
        right.addWidget(self.scores)
        right.addWidget(self.per_class, 1)
        bottom = QHBoxLayout()  # the matrix wider than a third: ten names beside ten rows
        bottom.addWidget(self.confusion, 3)
        bottom.addLayout(right, 2)
        grid.addLayout(bottom, 1, 0, 1, 3)
        grid.setRowStretch(0, 2)
        grid.setRowStretch(1, 3)
        self.setLayout(grid)
        self.lrs: list[float] = []
        self.history: list[dict[str, Any]] = []

    def clear(self) -> None:
        self.lrs, self.history = [], []
        for curve in (self.train_curve, self.valid_curve, self.acc_curve, self.lr_curve):
            curve.setData([], [])
        self.confusion.clear()
        self.scores.setText("")
        self.kfold.setText("")
        self.per_class.setRowCount(0)

    def add_lr(self, lr: float) -> None:
        self.lrs.append(lr)
        if len(self.lrs) % 4 == 0 or len(self.lrs) < 8:  # cheap: no need to redraw every batch
            self.lr_curve.setData(np.arange(len(self.lrs)), np.array(self.lrs))

    def set_history(self, history: list[dict[str, Any]]) -> None:
        self.history = list(history)
        if not history:
            return
        ep = np.array([h["epoch"] for h in history])
        self.train_curve.setData(ep, np.array([h["train_loss"] for h in history]))
        self.valid_curve.setData(ep, np.array([h["valid_loss"] for h in history]))
        self.acc_curve.setData(ep, np.array([h["valid_track_accuracy"] for h in history]))
        if not self.lrs:
            self.lr_curve.setData(ep, np.array([h["lr"] for h in history]))

    def show_test(self, test: dict[str, Any]) -> None:
        labels = test["labels"]
        self.confusion.set_matrix(labels, test["confusion"])
        self.scores.setText(
            f"<b>Test, {test['tracks']} tracks</b><br>"
            f"per-track accuracy <b>{test['track_accuracy']:.1%}</b><br>"
            f"per-window accuracy {test['segment_accuracy']:.1%} ({test['windows']} windows)<br>"
            f"macro F1 {test['macro_f1']:.3f}"
        )
        self.per_class.setRowCount(len(labels))
        for r, lab in enumerate(labels):
            m = test["per_class"][lab]
            for c, text in enumerate(
                (lab, f"{m['precision']:.2f}", f"{m['recall']:.2f}", str(m["support"]))
            ):
                self.per_class.setItem(r, c, QTableWidgetItem(text))

    def show_kfold(self, summary: dict[str, dict[str, Any]], folds: int) -> None:
        """Each score's mean ± std over the folds (the test shown is the kept fold's)."""
        rows = [f"<b>{folds}-fold, every track tested once</b>"]
        for key, name in (("track_accuracy", "per-track accuracy"),
                          ("segment_accuracy", "per-window accuracy"),
                          ("macro_f1", "macro F1")):  # fmt: skip
            if key in summary:
                s = summary[key]
                rows.append(f"{name} <b>{s['mean']:.3f} ± {s['std']:.3f}</b>")
        self.kfold.setText("<br>".join(rows))

    def confusion_matrix(self) -> np.ndarray | None:
        """The test's confusion matrix as shares of each true genre (None before a test)."""
        return self.confusion.rows
