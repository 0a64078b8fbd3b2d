"""Entry point of the frozen app (PyInstaller needs a script, not a console_scripts entry)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # The training tab spawns its worker process by re-running this executable.
    multiprocessing.freeze_support()
    from mgr_desktop.cli import entry

    sys.exit(entry())
