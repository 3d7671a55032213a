"""Durable, atomic replacement of a file (seed T1).

:func:`atomic_json_write` never leaves a half-written file behind: the new content goes to
a temporary file in the same folder, is flushed and ``fsync``-ed, and only then renamed
over the target with :func:`os.replace`; the folder is ``fsync``-ed so the rename itself
survives a power cut. A failed ``fsync`` is never followed by a rename. The previous
version is kept as ``<name>.bak`` (a hard link to the old file, renamed into place, so it
too is replaced atomically). On any error the temporary file is removed, the old file is
intact and the error propagates.

Order of operations, and what a kill at each instant leaves::

    1. write + fsync  .<name>.<random>.tmp      old file intact (temp swept later)
    2. link old -> .bak temp, replace .bak      old file intact, .bak = old
    3. replace <name> with the temp             new file, .bak = old
    4. fsync the folder                         new file durable
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_json_write",
    "atomic_write_bytes",
    "backup_path",
    "fsync_directory",
    "sweep_temp_files",
]

_TEMP_SUFFIX = ".tmp"
# errno values meaning "this filesystem cannot hard-link"; anything else is a real error.
_NO_HARD_LINKS = {
    errno.EPERM,
    errno.EXDEV,
    errno.EMLINK,
    errno.ENOTSUP,
    errno.EOPNOTSUPP,
    errno.ENOSYS,
}


def backup_path(path: str | os.PathLike[str]) -> Path:
    """The ``.bak`` file that holds the previous version of ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_directory(directory: Path) -> None:
    """``fsync`` a folder so that renames and creations inside it are durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(target: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a new fsync'd temporary file next to ``target``; return its path."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target), suffix=_TEMP_SUFFIX)
    temp = Path(name)
    try:
        handle = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _keep_backup(path: Path, mode: int) -> None:
    """Make ``<name>.bak`` the current version of ``path`` (before ``path`` is replaced)."""
    backup = backup_path(path)
    link = path.parent / f"{_temp_prefix(backup)}{secrets.token_hex(8)}{_TEMP_SUFFIX}"
    try:
        os.link(path, link)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # A filesystem without hard links: copy the bytes instead (same durability).
        temp = _write_temp(backup, path.read_bytes(), mode)
        try:
            os.replace(temp, backup)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return
    try:
        os.replace(link, backup)
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    # A kill between this step and the main file's replace leaves ``.bak`` a hard link of
    # the main file; renaming a link onto another link of the same file does nothing
    # (POSIX), so the temporary link would stay behind.
    link.unlink(missing_ok=True)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, keep_backup: bool = True
) -> None:
    """Atomically and durably replace ``path`` with ``data``.

    Parameters
    ----------
    path : path-like
        The file to write; its folder must exist.
    data : bytes
        The complete new content.
    keep_backup : bool
        Keep the previous version as ``<name>.bak``.

    Raises
    ------
    OSError
        Whatever the operating system raised; the old file is then intact and no
        temporary file is left behind.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        exists = True
    except FileNotFoundError:
        mode = _default_mode()
        exists = False
    temp = _write_temp(path, data, mode)
    try:
        if keep_backup and exists:
            _keep_backup(path, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def atomic_json_write(path: str | os.PathLike[str], payload: Any, **json_kwargs: Any) -> None:
    """Atomically and durably write ``payload`` as JSON to ``path``, keeping a ``.bak``.

    The payload is serialised before the disk is touched, so a payload that is not JSON
    (or holds NaN, refused by default) fails without any file being written.

    Parameters
    ----------
    path : path-like
        The file to write.
    payload : object
        JSON-serialisable data.
    **json_kwargs
        Passed to :func:`json.dumps` (``allow_nan`` defaults to False).
    """
    json_kwargs.setdefault("allow_nan", False)
    data = json.dumps(payload, **json_kwargs).encode("utf-8")
    atomic_write_bytes(path, data)


def sweep_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files a killed writer of ``path`` (or of its ``.bak``) left behind.

    Call it only while holding the file's lock, so that no live writer's temp is removed.
    """
    path = Path(path)
    removed = []
    for target in (path, backup_path(path)):
        for leftover in path.parent.glob(f"{_temp_prefix(target)}*{_TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
                removed.append(leftover)
    return removed
