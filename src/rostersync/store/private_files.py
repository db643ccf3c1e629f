"""Files and folders only the service's own user can read, whatever the process umask.

Everything rostersync keeps under `data_dir` (`var/` by default) holds district data or keys to
it: the SQLite portal database and its `-wal`/`-shm` files, the queue database, pushed bundles,
the outbox, the development key. Folders are made 0700 and files 0600 explicitly (the mode is
set after creation too, since `mkdir` and `open` only ever narrow a mode by the umask, never
widen or fix it), so a umask of 000 or 022 changes nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

__all__ = ["DIR_MODE", "FILE_MODE", "create_private", "private_dir", "private_file"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """Make `path` (and any missing parents) a folder only the owner can enter; returns it.

    Folders it creates are 0700. Folders that already existed are left as they are, except
    `path` itself when `tighten` (a folder that is rostersync's own, such as `data_dir`), unless
    it belongs to another user.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
        folder.chmod(DIR_MODE)
    if tighten:
        with contextlib.suppress(PermissionError):
            path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make sure the file exists and only its owner can read or write it; returns it.

    Missing parent folders are created 0700; existing ones are left as they are.
    """
    private_dir(path.parent, tighten=False)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def create_private(path: Path) -> BinaryIO:
    """A new file (never an existing one) open for writing, readable by its owner only.

    Raises:
        FileExistsError: Something is already at `path`.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb")
