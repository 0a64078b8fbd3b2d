"""Text from files (labels, names, paths) shown as data, never as control of the output.

A model's labels and a file's name come from strangers: in a terminal a newline or an escape
code would forge or colour a line, and in a spreadsheet a cell starting with `=` is a formula.
A file name need not even be text: on Linux it is bytes, and Python keeps the bytes that are
not UTF-8 as lone surrogates (U+DC80-U+DCFF), which no UTF-8 output can carry. `readable()`
shows each such byte as `\\xNN`; `name_bytes()` gives the original bytes for formats that keep
them (the JSON output's `path_bytes`).
"""

from __future__ import annotations

import os

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_text(text: str) -> bool:
    """Whether `text` is real Unicode: no lone surrogate (an undecodable byte of a file name)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable(text: str) -> str:
    """`text` as valid Unicode: each undecodable byte of a file name (a lone surrogate from
    os.fsdecode) becomes `\\xNN`, any other lone surrogate `\\udNNN`. Unchanged otherwise."""
    if is_text(text):
        return text
    return "".join(_readable_char(c) for c in text)


def _readable_char(c: str) -> str:
    if not 0xD800 <= ord(c) <= 0xDFFF:
        return c
    if 0xDC80 <= ord(c) <= 0xDCFF:  # surrogateescape's stand-in for the byte ord(c) - 0xDC00
        return f"\\x{ord(c) - 0xDC00:02x}"
    return c.encode("unicode_escape").decode()


def name_bytes(path: str | os.PathLike[str]) -> bytes | None:
    """The file name's own bytes when it is not valid text (else None: the text says it all)."""
    text = os.fspath(path)
    return None if is_text(text) else os.fsencode(text)


def printable(text: str) -> str:
    """`text` with every non-printable character (newline, ESC, bidi override, zero-width mark)
    escaped as Python would write it, and each undecodable byte of a file name as `\\xNN`, so
    data can never forge or colour a line of output."""
    if text.isprintable():
        return text
    text = readable(text)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def escape(text: str, limit: int = 80) -> str:
    """`text` safe to show inside a one-line message: escaped, and shortened past `limit`."""
    out = printable(text[: limit * 4])
    return out if len(out) <= limit else out[: limit - 1] + "…"


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet will not run: a leading `= + - @`, tab or CR gets a `'`
    (OWASP's advice for CSV injection); undecodable name bytes are written as `\\xNN`."""
    text = readable(text)
    return "'" + text if text.startswith(FORMULA_START) else text
