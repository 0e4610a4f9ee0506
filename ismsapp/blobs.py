"""Content-addressed file store: every stored file lives under its SHA-256, written once."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


def blob_root() -> Path:
    root = Path(settings.BLOB_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root


def blob_path(sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 digest: {sha256!r}")
    return blob_root() / sha256[:2] / sha256[2:4] / sha256


def _place(temporary: Path, sha256: str) -> Path:
    final = blob_path(sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        temporary.unlink()
    else:
        os.replace(temporary, final)
    return final


def store_stream(stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
    """Copy ``stream`` into the store in 1 MiB blocks (never whole in memory); return (sha256, size).

    Raises ``ValueError`` past ``max_bytes`` and leaves nothing behind.
    """
    digest, size = hashlib.sha256(), 0
    handle, name = tempfile.mkstemp(dir=blob_root(), prefix=".incoming-")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            while block := stream.read(CHUNK):
                size += len(block)
                if max_bytes is not None and size > max_bytes:
                    raise ValueError(f"file larger than the limit of {max_bytes} bytes")
                digest.update(block)
                out.write(block)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sha256 = digest.hexdigest()
    _place(temporary, sha256)
    return sha256, size


def store_bytes(data: bytes) -> str:
    import io

    return store_stream(io.BytesIO(data))[0]


def open_blob(sha256: str) -> BinaryIO:
    return blob_path(sha256).open("rb")
