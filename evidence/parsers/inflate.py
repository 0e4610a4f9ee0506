"""Bounded decompression, shared by the HTTP receiver (gzip bodies) and the archive and session
readers: every byte that comes out is counted against a budget, so a decompression bomb, an
oversized stream or a truncated one is refused with a ``ParseError`` naming the reason, within
bounded time and memory. Gzip is inflated block by block, never more than the caller asks for.
"""

from __future__ import annotations

import io
import zlib
from typing import IO, Any

from evidence.parsers.base import READ_BLOCK, ParseError

MAX_COMPRESSION_RATIO = 200  # uncompressed / compressed; text logs rarely pass 20
RATIO_CHECK_AFTER = 8 * 1024 * 1024  # ratios are only meaningful once this much has come out
GZIP_MAGIC = b"\x1f\x8b"


class Budget:
    """Counts bytes coming out of a source (and going into its decompressors) against the caps."""

    def __init__(self, limit: int, too_large: str) -> None:
        self.limit, self.too_large = limit, too_large
        self.total = 0  # bytes produced, compressed or not
        self.compressed_in = self.inflated_out = 0

    def produced(self, size: int, *, inflated: bool = False) -> None:
        self.total += size
        if self.total > self.limit:
            raise ParseError(self.too_large, f"more than {self.limit} bytes uncompressed")
        if inflated:
            self.inflated_out += size
            self._check_ratio()

    def consumed(self, size: int) -> None:
        self.compressed_in += size

    def _check_ratio(self) -> None:
        if self.inflated_out > RATIO_CHECK_AFTER and self.inflated_out > self.compressed_in * MAX_COMPRESSION_RATIO:
            raise ParseError(
                "decompression_bomb",
                f"{self.inflated_out} bytes from {self.compressed_in} compressed (ratio over {MAX_COMPRESSION_RATIO})",
            )


class _SourceReader(io.RawIOBase):
    """A raw reader over ``source`` that counts against ``budget``; closes the source if it owns it."""

    def __init__(self, source: IO[bytes], budget: Budget, *, owns_source: bool = False) -> None:
        super().__init__()
        self._source, self._budget, self._owns_source = source, budget, owns_source

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._owns_source and not self.closed:
            self._source.close()
        super().close()


class BudgetReader(_SourceReader):
    """A plain (uncompressed) source, counted against a budget."""

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        self._budget.produced(len(data))
        buffer[: len(data)] = data
        return len(data)


class GzipReader(_SourceReader):
    """Inflates a gzip source (several members allowed) block by block, never more than asked for,
    counting input and output against a budget. A stream without its end marker is ``truncated``;
    anything after the last member that is not another member is ignored."""

    def __init__(
        self, source: IO[bytes], budget: Budget, truncated: str, corrupt: str, *, owns_source: bool = False
    ) -> None:
        super().__init__(source, budget, owns_source=owns_source)
        self._truncated, self._corrupt = truncated, corrupt
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._finished = False

    def readinto(self, buffer: Any) -> int:
        while not self._finished:
            if self._inflate.eof and not self._next_member():
                break
            if not self._pending and not self._fill():
                raise ParseError(self._truncated, "gzip data ends before its end-of-stream marker")
            fed = len(self._pending)
            try:
                out = self._inflate.decompress(self._pending, len(buffer))
            except zlib.error as exc:
                raise ParseError(self._corrupt, f"gzip: {exc}") from exc
            self._pending = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
            self._budget.consumed(fed - len(self._pending))
            if out:
                self._budget.produced(len(out), inflated=True)
                buffer[: len(out)] = out
                return len(out)
        return 0

    def _fill(self) -> bool:
        chunk = self._source.read(READ_BLOCK)
        self._pending += chunk
        return bool(chunk)

    def _next_member(self) -> bool:
        while len(self._pending) < len(GZIP_MAGIC) and self._fill():
            pass
        if not self._pending.startswith(GZIP_MAGIC):
            self._finished = True
            return False
        self._inflate = zlib.decompressobj(wbits=31)
        return True


def open_maybe_gzip(
    raw: io.BufferedReader[Any], budget: Budget, truncated: str = "truncated_stream", corrupt: str = "corrupt_stream"
) -> io.BufferedReader[Any]:
    """``raw`` decompressed if it starts with the gzip magic, counted against ``budget`` either way."""
    if raw.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC:
        return io.BufferedReader(GzipReader(raw, budget, truncated, corrupt, owns_source=True), READ_BLOCK)
    return io.BufferedReader(BudgetReader(raw, budget, owns_source=True), READ_BLOCK)


class _Prefixed(io.RawIOBase):
    """``head`` (bytes already read from ``source``), then the rest of ``source``."""

    def __init__(self, head: bytes, source: IO[bytes]) -> None:
        super().__init__()
        self._head, self._source = head, source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size], self._head = self._head[:size], self._head[size:]
            return size
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def inflated_if_gzip(stream: IO[bytes], limit: int) -> IO[bytes]:
    """Any readable ``stream``, inflated (within ``limit`` bytes and the bomb ratio) if it is gzip:
    a rotated ``auth.log.2.gz`` is ingested like the plain file. A damaged one is refused while
    it is read, as ``truncated_gzip`` or ``bad_gzip``."""
    head = b""
    while len(head) < len(GZIP_MAGIC) and (more := stream.read(len(GZIP_MAGIC) - len(head))):
        head += more
    source = _Prefixed(head, stream)
    if head != GZIP_MAGIC:
        return io.BufferedReader(source, READ_BLOCK)
    budget = Budget(limit, "too_large")
    return io.BufferedReader(GzipReader(source, budget, "truncated_gzip", "bad_gzip"), READ_BLOCK)
