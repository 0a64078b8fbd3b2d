"""The one shape of user-facing file error: which file, and why, in one line."""

from __future__ import annotations

import os


class FileError(Exception):
    """`str()` is "<path>: <reason>"; `.reason` alone is for places that already show the path."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
