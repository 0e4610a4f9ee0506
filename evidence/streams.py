"""Bounded readers for received bodies: gzip decompression that stops at size and ratio limits."""

from __future__ import annotations

import io
import zlib
from typing import Any, BinaryIO

READ_BLOCK = 256 * 1024


class StreamRejected(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class GzipLimitedReader(io.RawIOBase):
    """Decompress a gzip stream lazily, refusing a decompression bomb or a truncated stream."""

    def __init__(self, raw: BinaryIO, *, max_output: int, max_ratio: int = 200, ratio_grace: int = 8 * 1024**2) -> None:
        super().__init__()
        self.raw, self.max_output, self.max_ratio, self.ratio_grace = raw, max_output, max_ratio, ratio_grace
        self.inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self.pending = b""
        self.consumed = self.produced = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def _check(self) -> None:
        if self.produced > self.max_output:
            raise StreamRejected("too_large", f"decompressed body exceeds {self.max_output} bytes")
        if self.produced > self.ratio_grace and self.produced > self.max_ratio * max(self.consumed, 1):
            raise StreamRejected("decompression_bomb", f"compression ratio above {self.max_ratio}:1")

    def _raw_block(self) -> bytes:
        data = self.raw.read(READ_BLOCK)
        self.consumed += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            if self.finished:
                return 0
            if self.inflater.eof:
                rest = self.inflater.unused_data
                if not rest.strip(b"\x00"):
                    rest = self._raw_block()
                    if not rest:
                        self.finished = True
                        return 0
                # concatenated gzip members (cat a.gz b.gz) are one stream
                self.inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                data = rest
            else:
                data = self.inflater.unconsumed_tail or self._raw_block()
                if not data:
                    raise StreamRejected("truncated_gzip", "the gzip stream ends before its end marker")
            try:
                self.pending = self.inflater.decompress(data, READ_BLOCK)
            except zlib.error as exc:
                raise StreamRejected("bad_gzip", str(exc)) from exc
            self.produced += len(self.pending)
            self._check()
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size
