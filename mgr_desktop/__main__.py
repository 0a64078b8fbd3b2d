import sys

from mgr_desktop.cli import main

sys.exit(main())
