"""SHA-256 of a user's file: the one place Consentry hashes a file on disk."""

from __future__ import annotations

import hashlib
import os

from consentry.io.heldfiles import refuse_held

#: Bytes read per block.
BLOCK_BYTES = 1 << 20


def sha256_and_size(path: str | os.PathLike) -> tuple[str, int]:
    """Hex SHA-256 and size (bytes) of the file at ``path``, read in 1 MiB blocks.

    Raises
    ------
    InputError
        If ``path`` is a file of a registry this process has open (reading it
        would drop SQLite's locks; see :mod:`consentry.io.heldfiles`).
    OSError
        If the file cannot be read.
    """
    refuse_held(path)
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
