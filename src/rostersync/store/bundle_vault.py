"""Pushed bundles at rest: encrypted with the service's key ring, read back a chunk at a time,
and deleted after the retention period (docs/decisions/0022-bundles-at-rest.md).

An accepted bundle holds a district's whole roster, so it is never kept in clear. Fernet (the
`SecretBox` of the stored credentials, same keys, same rotation) encrypts whole messages only,
so a bundle is sealed as a sequence of chunks, each its own Fernet token:

    RSBUNDLE1\\n                                   magic and format version
    4-byte big-endian length, Fernet token        one record per chunk of up to 1 MiB, ...

Each token's plaintext starts with the bundle's id, the chunk's number (8 bytes) and a flag
marking the last chunk, so chunks cannot be reordered, dropped, cut short or moved between
bundles without the reading failing. Memory stays flat whatever the bundle's size: one chunk
is held at a time, encrypting and decrypting.

A sealed bundle is read by decrypting it to a private temporary file (0600, in its district's
0700 folder) that exists only while a run reads it (`Unsealed`); `zipfile` needs to seek, and the
helper process that reads a large enrollments.csv opens the file by its path. The clear upload
is likewise a private file only until it is checked and sealed. Anything left behind by a crash
(`.incoming-*`, `.open-*`) is deleted by the retention sweep once it is a day old.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from rostersync.errors import ConfigError
from rostersync.store.private_files import create_private, private_dir
from rostersync.store.secrets import SecretBox

__all__ = [
    "CHUNK",
    "SEALED_SUFFIX",
    "SealedBundleError",
    "Unsealed",
    "seal",
    "sweep_folder",
    "unseal_to",
]

MAGIC = b"RSBUNDLE1\n"
CHUNK = 1024 * 1024
SEALED_SUFFIX = ".zip.sealed"
# Working files (an upload being checked, a bundle opened for a run) older than this are
# leftovers of a crash: no check or run takes a day.
STALE_WORKING_FILE = timedelta(days=1)
_LENGTH = struct.Struct(">I")
_POSITION = struct.Struct(">QB")
# A token for a 1 MiB chunk is about 1.4 MB; anything much larger is not one of ours.
_MAX_TOKEN = 2 * CHUNK


class SealedBundleError(ConfigError):
    """A sealed bundle that cannot be read back: wrong keys, or a damaged or altered file."""


def _prefix(label: str, index: int, last: bool) -> bytes:
    return label.encode("utf-8") + _POSITION.pack(index, 1 if last else 0)


def seal(plain: Path, sealed: Path, box: SecretBox, *, label: str) -> int:
    """Encrypt the file at `plain` into a new private file at `sealed`, a chunk at a time.

    Args:
        plain: The clear bundle.
        sealed: Where the sealed bundle goes (must not exist; written under a temporary name
            and renamed, so a reader never sees half of it).
        box: The service's key ring; the newest key encrypts.
        label: The bundle's id, bound into every chunk.

    Returns:
        The size of the sealed file in bytes.
    """
    partial = sealed.with_name(f".sealing-{uuid.uuid4()}")
    try:
        with plain.open("rb") as source, create_private(partial) as out:
            out.write(MAGIC)
            index = 0
            chunk = source.read(CHUNK)
            while True:
                following = source.read(CHUNK) if chunk else b""
                last = not following
                token = box.encrypt_bytes(_prefix(label, index, last) + chunk)
                out.write(_LENGTH.pack(len(token)))
                out.write(token)
                if last:
                    break
                chunk, index = following, index + 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, sealed)
    finally:
        partial.unlink(missing_ok=True)
    return sealed.stat().st_size


def _chunks(source: BinaryIO, box: SecretBox, *, label: str, name: str) -> Iterator[bytes]:
    def damaged(why: str) -> SealedBundleError:
        return SealedBundleError(
            f"the stored bundle {name} cannot be read back ({why}); it was damaged or altered "
            "on disk: ask the district to push the bundle again"
        )

    if source.read(len(MAGIC)) != MAGIC:
        raise damaged("it is not a sealed bundle")
    index = 0
    while True:
        head = source.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            raise damaged("it ends before its last chunk")
        (length,) = _LENGTH.unpack(head)
        if length > _MAX_TOKEN:
            raise damaged("a chunk is larger than any chunk sealed here")
        token = source.read(length)
        if len(token) < length:
            raise damaged("it ends inside a chunk")
        plain = box.decrypt_bytes(token)
        prefix = _prefix(label, index, False)
        if plain[: len(prefix) - 1] != prefix[:-1]:
            raise damaged("a chunk belongs to another bundle or another place")
        last = plain[len(prefix) - 1]
        yield plain[len(prefix) :]
        if last == 1:
            if source.read(1):
                raise damaged("there is data after its last chunk")
            return
        index += 1


def unseal_to(sealed: Path, plain: Path, box: SecretBox, *, label: str) -> None:
    """Decrypt the sealed bundle into a new private file at `plain`, a chunk at a time.

    Raises:
        SealedBundleError: The file is damaged, altered, of another bundle, or none of the keys
            decrypts it (the message says which, without any of the bundle's data).
    """
    try:
        with sealed.open("rb") as source, create_private(plain) as out:
            for chunk in _chunks(source, box, label=label, name=sealed.name):
                out.write(chunk)
    except ConfigError as exc:
        plain.unlink(missing_ok=True)
        if isinstance(exc, SealedBundleError):
            raise
        raise SealedBundleError(
            f"the stored bundle {sealed.name} cannot be decrypted with the keys in "
            "ROSTERSYNC_SECRET_KEYS; keep the key it was sealed with in the list until the "
            "bundle's retention period is over, or ask the district to push it again"
        ) from None
    except BaseException:
        plain.unlink(missing_ok=True)
        raise


class Unsealed:
    """A sealed bundle decrypted to a private temporary file for as long as it is needed.

    `path()` decrypts on first use; `close()` (or the end of a `with` block, or the object being
    collected) deletes the clear copy.
    """

    def __init__(self, sealed: Path, box: SecretBox, *, label: str) -> None:
        self.sealed = sealed
        self._box = box
        self._label = label
        self._plain: Path | None = None

    def path(self) -> Path:
        """The clear bundle's path, decrypting it the first time."""
        if self._plain is None:
            plain = self.sealed.with_name(f".open-{uuid.uuid4()}.zip")
            unseal_to(self.sealed, plain, self._box, label=self._label)
            self._plain = plain
        return self._plain

    def close(self) -> None:
        """Delete the clear copy (idempotent)."""
        if self._plain is not None:
            self._plain.unlink(missing_ok=True)
            self._plain = None

    def __enter__(self) -> Unsealed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


@dataclass(frozen=True, slots=True)
class Swept:
    """What a retention sweep of one folder removed."""

    bundles: tuple[str, ...]
    leftovers: int


def sweep_folder(folder: Path, *, expired: set[str], keep: set[str], now: datetime) -> Swept:
    """Delete the files of `expired` bundle ids, and working files left by a crash.

    Args:
        folder: A district's push folder.
        expired: Bundle ids past the retention period (their files go, sealed or not).
        keep: Bundle ids still waiting or running (never touched).
        now: When the retention is judged (a working file's age is judged by the clock).
    """
    if not folder.is_dir():
        return Swept(bundles=(), leftovers=0)
    private_dir(folder)
    gone: list[str] = []
    leftovers = 0
    # A working file's age is told by the clock, whatever `now` the retention is judged at.
    stale = min(now.timestamp(), time.time()) - STALE_WORKING_FILE.total_seconds()
    for entry in folder.iterdir():
        name = entry.name
        bundle_id = name.split(".", 1)[0]
        if bundle_id in keep:
            continue
        if bundle_id in expired:
            entry.unlink(missing_ok=True)
            gone.append(bundle_id)
        elif name.startswith((".incoming-", ".open-", ".sealing-")):
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < stale:
                    entry.unlink(missing_ok=True)
                    leftovers += 1
    return Swept(bundles=tuple(sorted(set(gone))), leftovers=leftovers)
