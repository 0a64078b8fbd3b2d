"""Text from files (labels, names, paths) shown as data, never as control of the output.

A model's labels and a file's name come from strangers: in a terminal a newline or an escape
code would forge or colour a line, and in a spreadsheet a cell starting with `=` is a formula.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """`text` with every non-printable character (newline, ESC, bidi override, zero-width mark)
    escaped as Python would write it, so data can never forge or colour a line of output."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def escape(text: str, limit: int = 80) -> str:
    """`text` safe to show inside a one-line message: escaped, and shortened past `limit`."""
    out = printable(text[: limit * 4])
    return out if len(out) <= limit else out[: limit - 1] + "…"


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet will not run: a leading `= + - @`, tab or CR gets a `'`
    (OWASP's advice for CSV injection)."""
    return "'" + text if text.startswith(FORMULA_START) else text
