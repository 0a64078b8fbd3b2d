import sys

from mgr_desktop.cli import entry

sys.exit(entry())
