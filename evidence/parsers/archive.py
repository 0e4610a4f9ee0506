"""Reading an uploaded ``.tar``, ``.tar.gz`` or ``.zip`` without extracting anything.

The upload is copied (size-capped) to an anonymous temporary file; members are validated from
their headers, streamed in blocks through the caps below (decompressed by ``inflate``, so every
byte is counted) and the wanted ones spooled to a second anonymous temporary file. Memory stays
bounded whatever the archive; disk use is bounded by the caps; nothing is written to a path the
archive chooses.

Rejections (``ParseError`` reason): ``unsafe_path`` (absolute, ``..``, backslash, drive letter,
NUL, over-long or over-deep names), ``link_in_archive`` (symbolic or hard links),
``special_member`` (devices, FIFOs, sparse files), ``duplicate_member``, ``encrypted_member``,
``too_many_members``, ``member_too_large``, ``archive_too_large`` (total uncompressed size),
``decompression_bomb`` (compression ratio), ``truncated_archive``, ``corrupt_archive``,
``unsupported_archive``.
"""

from __future__ import annotations

import contextlib
import io
import re
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, BinaryIO, Self

from evidence.parsers.base import READ_BLOCK, ParseError
from evidence.parsers.inflate import (
    GZIP_MAGIC,
    MAX_COMPRESSION_RATIO,
    RATIO_CHECK_AFTER,
    Budget,
    BudgetReader,
    GzipReader,
)
from evidence.parsers.sessions import MAX_SESSION_BYTES, MeteredReader

MAX_ARCHIVE_MEMBERS = 10_000  # entries of any type (a sudo session directory has 4 to 8 files)
MAX_MEMBER_BYTES = MAX_SESSION_BYTES  # uncompressed size of one member
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024  # total uncompressed size, and the size of the upload itself
MAX_EXTENDED_HEADER_BYTES = 64 * 1024  # tar pax / GNU long-name headers (read whole by tarfile)
MAX_NAME_LENGTH = 1024
MAX_PATH_DEPTH = 32

_LINK_TYPES = frozenset({tarfile.SYMTYPE, tarfile.LNKTYPE})
_EXTENDED_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, b"L", b"K"})


def safe_member_name(name: str) -> str:
    """The normalised relative path of an archive member, or ``ParseError("unsafe_path")``."""
    if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name or "\\" in name:
        raise ParseError("unsafe_path", f"member name {name[:80]!r}")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise ParseError("unsafe_path", f"absolute member name {name[:80]!r}")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ParseError("unsafe_path", f"member name with '..': {name[:80]!r}")
    if not parts or len(parts) > MAX_PATH_DEPTH:
        raise ParseError("unsafe_path", f"member name {name[:80]!r} is empty or too deep")
    return "/".join(parts)


class Spool:
    """Wanted members' contents appended to one anonymous temporary file, indexed by normalised name."""

    def __init__(self, file: IO[bytes], wanted: Callable[[str], bool]) -> None:
        self.file, self.wanted = file, wanted
        self.members: dict[str, tuple[int, int]] = {}
        self._seen: set[str] = set()
        self._count = 0

    def admit(self, raw_name: str) -> str:
        """Count a member and check its name (``too_many_members``, ``unsafe_path``, ``duplicate_member``)."""
        self._count += 1
        if self._count > MAX_ARCHIVE_MEMBERS:
            raise ParseError("too_many_members", f"more than {MAX_ARCHIVE_MEMBERS} members")
        name = safe_member_name(raw_name)
        if name in self._seen:
            raise ParseError("duplicate_member", f"{name} appears twice")
        self._seen.add(name)
        return name

    def store(self, name: str, source: IO[bytes]) -> None:
        """Copy a member in blocks; stop as soon as it passes ``MAX_MEMBER_BYTES``."""
        self.file.seek(0, io.SEEK_END)
        offset, size = self.file.tell(), 0
        while block := source.read(READ_BLOCK):
            size += len(block)
            if size > MAX_MEMBER_BYTES:
                raise ParseError("member_too_large", f"{name} is larger than {MAX_MEMBER_BYTES} bytes")
            self.file.write(block)
        self.members[name] = (offset, size)

    def directories(self) -> Iterator[tuple[str, dict[str, tuple[int, int]]]]:
        """``(directory, {file name: (offset, size)})`` of the spooled members, in path order."""
        by_directory: dict[str, dict[str, tuple[int, int]]] = {}
        for name, where in self.members.items():
            path = PurePosixPath(name)
            by_directory.setdefault(str(path.parent), {})[path.name] = where
        yield from sorted(by_directory.items())


def _check_declared_size(name: str, size: int) -> None:
    if size > MAX_MEMBER_BYTES:
        raise ParseError("member_too_large", f"{name} declares {size} bytes (limit {MAX_MEMBER_BYTES})")


class _GuardedTarInfo(tarfile.TarInfo):
    """Refuses oversized pax / GNU long-name headers, which ``tarfile`` would read whole into memory."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _EXTENDED_TYPES and info.size > MAX_EXTENDED_HEADER_BYTES:
            raise ParseError("member_too_large", f"extended tar header of {info.size} bytes")
        return info


def _tar_member(spool: Spool, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    name = spool.admit(member.name)
    if member.type in _LINK_TYPES:
        raise ParseError("link_in_archive", f"{name} is a link to {member.linkname[:80]!r}")
    if member.isdir():
        return
    if not member.isreg() or member.issparse():
        raise ParseError("special_member", f"{name} is not a regular file (type {member.type!r})")
    _check_declared_size(name, member.size)
    if spool.wanted(name):
        source = archive.extractfile(member)
        if source is None:
            raise ParseError("corrupt_archive", f"{name} cannot be read")
        spool.store(name, source)


def _read_tar(spool: Spool, source: io.RawIOBase) -> None:
    """Read the members, then the rest of the stream (so a gzip trailer is checked: CRC, length)."""
    try:
        with tarfile.open(fileobj=source, mode="r|", tarinfo=_GuardedTarInfo) as archive:
            for member in archive:
                _tar_member(spool, archive, member)
        while source.read(READ_BLOCK):
            pass
    except tarfile.TarError as exc:
        text = str(exc)
        truncated = "unexpected end" in text or "truncated" in text
        raise ParseError("truncated_archive" if truncated else "corrupt_archive", f"tar: {text}") from exc
    except EOFError as exc:
        raise ParseError("truncated_archive", f"tar: {exc}") from exc


def _zip_entry_count(fileobj: IO[bytes]) -> int:
    """The member count from the end-of-central-directory record, read before ``zipfile`` builds
    its whole member list in memory (zip64 included)."""
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    tail_start = max(0, size - (22 + 65535))
    fileobj.seek(tail_start)
    tail = fileobj.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise ParseError("corrupt_archive", "zip without an end-of-central-directory record")
    count = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if count == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        (zip64_at,) = struct.unpack("<Q", tail[at - 12 : at - 4])
        fileobj.seek(zip64_at)
        record = fileobj.read(56)
        if len(record) < 56 or record[:4] != b"PK\x06\x06":
            raise ParseError("corrupt_archive", "bad zip64 end-of-central-directory record")
        (count,) = struct.unpack("<Q", record[32:40])
    return int(count)


def _zip_member(spool: Spool, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    name = spool.admit(info.filename)
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if kind == stat.S_IFLNK:
        raise ParseError("link_in_archive", f"{name} is a symbolic link")
    if info.is_dir() or kind == stat.S_IFDIR:
        return
    if kind not in (0, stat.S_IFREG):
        raise ParseError("special_member", f"{name} is not a regular file")
    if info.flag_bits & 0x1:
        raise ParseError("encrypted_member", f"{name} is encrypted")
    if info.file_size > RATIO_CHECK_AFTER and info.file_size > max(info.compress_size, 1) * MAX_COMPRESSION_RATIO:
        raise ParseError("decompression_bomb", f"{name}: {info.file_size} bytes from {info.compress_size}")
    _check_declared_size(name, info.file_size)
    if spool.wanted(name):
        with archive.open(info) as source:
            spool.store(name, source)


def _read_zip(spool: Spool, fileobj: IO[bytes], budget: Budget) -> None:
    if _zip_entry_count(fileobj) > MAX_ARCHIVE_MEMBERS:
        raise ParseError("too_many_members", f"more than {MAX_ARCHIVE_MEMBERS} members")
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            for info in archive.infolist():
                budget.produced(info.file_size)
                _zip_member(spool, archive, info)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ParseError("corrupt_archive", f"zip: {exc}") from exc
    except NotImplementedError as exc:  # compression methods zipfile cannot read
        raise ParseError("unsupported_archive", f"zip: {exc}") from exc


def _copy_upload(fileobj: BinaryIO, copy: IO[bytes]) -> str:
    """Copy the upload (seekable or not) to ``copy``, size-capped; return its SHA-256."""
    metered = MeteredReader(fileobj, MAX_ARCHIVE_BYTES, "archive_too_large")
    while block := metered.read(READ_BLOCK):
        copy.write(block)
    copy.seek(0)
    return metered.hexdigest()


def _archive_kind(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "tar.gz"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    raise ParseError("unsupported_archive", "not a tar, tar.gz or zip archive")


@dataclass
class SpooledArchive:
    sha256: str  # of the upload as received
    kind: str  # tar, tar.gz or zip
    spool: Spool


@contextlib.contextmanager
def spooled_archive(fileobj: BinaryIO, wanted: Callable[[str], bool]) -> Iterator[SpooledArchive]:
    """Check every member of the uploaded archive and spool the ``wanted`` ones (by member path);
    the temporary files live until the ``with`` block ends."""
    with tempfile.TemporaryFile() as upload, tempfile.TemporaryFile() as spool_file:
        sha256 = _copy_upload(fileobj, upload)
        spool = Spool(spool_file, wanted)
        kind = _archive_kind(upload.read(512))
        upload.seek(0)
        budget = Budget(MAX_ARCHIVE_BYTES, "archive_too_large")
        if kind == "zip":
            _read_zip(spool, upload, budget)
        elif kind == "tar.gz":
            _read_tar(spool, GzipReader(upload, budget, "truncated_archive", "corrupt_archive"))
        else:
            _read_tar(spool, BudgetReader(upload, budget))
        yield SpooledArchive(sha256, kind, spool)
