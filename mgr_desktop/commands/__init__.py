"""One module per CLI subcommand, each declaring a `COMMAND`; this table is the list.

Each module imports its heavy dependencies (torch, Qt) only when it runs, so building the
parser stays instant.
"""

from __future__ import annotations

from mgr_desktop.commands import classify, evaluate, gui, listen, train
from mgr_desktop.commands.common import Command

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (classify.COMMAND, train.COMMAND, evaluate.COMMAND, listen.COMMAND, gui.COMMAND)
}
