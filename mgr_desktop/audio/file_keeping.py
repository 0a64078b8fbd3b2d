"""Rewriting a user's file without losing what it had: whether it may be rewritten, its
extended attributes carried over to the new copy, and the rename made durable. Tag writing
(genre_tags.py) uses these; they know nothing of tags."""

from __future__ import annotations

import contextlib
import errno
import os
import stat


class TagError(Exception):
    """This file's genre tag cannot be read or written; the message says why in a few words."""


def reason_of(e: BaseException) -> str:
    inner = e.__cause__ or e.__context__
    if isinstance(e, OSError) or isinstance(inner, OSError):
        err = e if isinstance(e, OSError) else inner
        return str(err.strerror or err)  # type: ignore[union-attr]
    return str(e) or type(e).__name__


def writable_stat(real: str) -> os.stat_result:
    """The file's stat, or TagError when it (or its folder) cannot be rewritten."""
    try:
        st = os.stat(real)
    except OSError as e:
        raise TagError(str(e.strerror or e)) from e
    if not stat.S_ISREG(st.st_mode):
        raise TagError("not a regular file")
    writable = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    if not os.access(real, os.W_OK) or not st.st_mode & writable:  # root passes os.access
        raise TagError("the file is read-only")
    if not os.access(os.path.dirname(real), os.W_OK | os.X_OK):
        raise TagError("its folder is read-only")
    return st


def copy_xattrs(src: str, dst: str) -> None:
    """The original's extended attributes (desktop tags, ratings, comments, ACLs) onto the copy,
    and only those. One that cannot be copied fails the write, as it would be lost with the
    original; except security.* (SELinux labels and the like), which the system sets itself."""
    if not hasattr(os, "listxattr"):  # Python has them on Linux only
        return
    try:
        names = os.listxattr(src)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.ENOSYS):  # a filesystem without them
            return
        raise
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name))
        except OSError as e:
            if not name.startswith("security."):
                raise TagError(f"cannot keep its extended attribute {name}: {reason_of(e)}") from e
    with contextlib.suppress(OSError):  # inherited by the new file (a folder's default ACL)
        for name in set(os.listxattr(dst)) - set(names):
            if not name.startswith("security."):
                os.removexattr(dst, name)


def sync_folder(folder: str) -> None:
    """Make the rename durable where the platform allows it (POSIX)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- deciding ------------------------------------------------------------------------------


def keep_metadata(src: str, dst: str, st: os.stat_result) -> None:
    """The original's owner (where we may: root, or a group we are in), extended attributes
    and mode onto its rewritten copy."""
    if hasattr(os, "getuid") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        with contextlib.suppress(OSError):
            os.chown(dst, st.st_uid, st.st_gid)
    copy_xattrs(src, dst)
    os.chmod(dst, stat.S_IMODE(st.st_mode))  # last: an ACL copied above sets mode bits
