"""Bundle PortAudio with sounddevice, on every platform.

Windows and macOS: the library ships inside the sounddevice wheel (_sounddevice_data).
Linux: the wheel has none and sounddevice finds the system's libportaudio.so.2; bundle that
one, so the frozen app does not depend on the user having installed it.
"""

import ctypes.util
import os
from pathlib import Path

from PyInstaller.utils.hooks import get_module_file_attribute

binaries = []
datas = []
module_dir = Path(get_module_file_attribute("sounddevice")).parent
wheel_libs = module_dir / "_sounddevice_data" / "portaudio-binaries"
if wheel_libs.is_dir():
    for lib in wheel_libs.glob("libportaudio*"):
        binaries.append((str(lib), "_sounddevice_data/portaudio-binaries"))
else:
    name = ctypes.util.find_library("portaudio")
    if name is None:
        raise SystemExit("PortAudio not found: install it (Debian/Ubuntu: libportaudio2)")
    for folder in (
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ):
        candidate = Path(folder) / os.path.basename(name)
        if candidate.exists():
            binaries.append((str(candidate.resolve()), "portaudio"))
            break
    else:
        raise SystemExit(f"PortAudio {name} found by the linker but not on disk")
