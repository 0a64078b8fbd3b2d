# Runs before the app's own imports in the frozen app: point sounddevice at the bundled
# PortAudio (Linux), rather than at whatever the host has installed, or lacks.
import ctypes.util
import glob
import os
import sys

_bundled = glob.glob(os.path.join(sys._MEIPASS, "portaudio", "libportaudio*"))
if _bundled:
    _find_library = ctypes.util.find_library

    def _find_bundled_first(name: str) -> "str | None":
        return _bundled[0] if name == "portaudio" else _find_library(name)

    ctypes.util.find_library = _find_bundled_first
