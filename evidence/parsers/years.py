"""The year of timestamps that leave it out (RFC 3164 "Mmm dd hh:mm:ss"), decided across a file.

A log file is written in time order, so its year-less timestamps are read in file order, not line by
line: time may run backwards by at most ``TOLERANCE`` (a clock step, two writers racing); a larger
step back is the start of a new year. The year of the last line is the latest that does not put it
after the reference time (the file's modification time, the browser's ``lastModified`` of an
upload, the receive time of a stream) by more than ``SLACK``; every earlier line counts the year
ends between it and the last line. So a file spanning a year end keeps December before January,
whatever its modification time, and a file copied long after its last line keeps its years.

The decision is a ``YearPlan``: a short list of byte offsets from which lines take a year (one per
year end) and of the lines whose date stays doubtful, with why (a step back too large for a clock
and too far from a year end to be one). It is made once per file by ``plan_years``, a streaming
pass that holds one line at a time, and read by every chunk of the file in whatever order its
workers parse them. A line the plan would still put after the reference (time that ran backwards
within the tolerance across the reference) is given the year before and flagged by the parser.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO, Self
from zoneinfo import ZoneInfo

TOLERANCE = timedelta(days=7)  # how far time may run backwards in file order within one year
SLACK = timedelta(days=1)  # how far after the reference a line may be (other hosts' clocks, zones)
CONFIRM = 2  # stamps after a year end that must stay in the new year before it counts
MAX_DOUBTFUL = 10_000  # doubtful lines flagged by offset; beyond, the plan keeps only the year ends

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
# Minutes before each month's start in a leap year: positions compare across months without a year.
_MONTH_START = (0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335)
_MINUTES_PER_DAY = 24 * 60
_TOLERANCE_MINUTES = int(TOLERANCE.total_seconds() // 60)
# A BSD timestamp without a year at the start of a line (after an optional PRI), as rfc3164 reads it.
_STAMP = re.compile(rb"(?:<\d{1,3}>)? ?([A-Za-z]{3}) {1,2}(\d{1,2}) (\d\d):(\d\d):\d\d")
_LINE_STAMPS = re.compile(rb"^(?:<\d{1,3}>)? ?[A-Za-z]{3} {1,2}\d{1,2} \d\d:\d\d:\d\d", re.MULTILINE)
_READ_BYTES = 1024 * 1024
_SKIP_SPAN_MINUTES = 31 * _MINUTES_PER_DAY


def position(month: int, day: int, hour: int, minute: int) -> int:
    """Minutes since January 1st 00:00 of a leap year: the order of year-less timestamps."""
    return (_MONTH_START[month] + day - 1) * _MINUTES_PER_DAY + hour * 60 + minute


def stamp_position(line: bytes) -> int | None:
    """The position of the year-less BSD timestamp that starts ``line``, or None."""
    match = _STAMP.match(line)
    if match is None:
        return None
    month = _MONTHS.get(match[1].lower().decode())
    if month is None:
        return None
    day, hour, minute = int(match[2]), int(match[3]), int(match[4])
    if not (1 <= day <= 31 and hour < 24 and minute < 60):
        return None
    return position(month, day, hour, minute)


def _near_year_end(before: int, after: int) -> bool:
    """A step back from ``before`` to ``after`` that a year end explains: from the last quarter of a
    year into the first quarter of the next."""
    return before >= position(10, 1, 0, 0) and after < position(4, 1, 0, 0)


@dataclass
class YearPlan:
    """Offsets from which lines take a year, and the offsets of doubtful lines with their reason."""

    starts: list[int] = field(default_factory=lambda: [0])
    years: list[int] = field(default_factory=list)
    doubtful: dict[int, str] = field(default_factory=dict)

    @property
    def single_year(self) -> int | None:
        """The year of every line, when the file has one year and no doubtful line."""
        return self.years[0] if len(self.years) == 1 and not self.doubtful else None

    def year_at(self, offset: int) -> int:
        return self.years[bisect_right(self.starts, offset) - 1]

    def doubt_at(self, offset: int) -> str:
        return self.doubtful.get(offset, "")

    def as_json(self) -> dict[str, object]:
        return {"starts": self.starts, "years": self.years, "doubtful": {str(k): v for k, v in self.doubtful.items()}}

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> Self | None:
        if not data:
            return None
        doubtful = data.get("doubtful") or {}
        return cls(
            starts=[int(s) for s in data["starts"]],  # type: ignore[union-attr]
            years=[int(y) for y in data["years"]],  # type: ignore[union-attr]
            doubtful={int(k): str(v) for k, v in doubtful.items()},  # type: ignore[union-attr]
        )


def reference_position(reference: datetime, zone_name: str) -> tuple[int, int]:
    """(year, position) of the latest local time a line may have: the reference plus ``SLACK``."""
    local = (reference + SLACK).astimezone(ZoneInfo(zone_name))
    return local.year, position(local.month, local.day, local.hour, local.minute)


def plan_from_positions(
    stamped: Iterable[tuple[int, int]], reference: datetime, zone_name: str = "UTC"
) -> YearPlan | None:
    """The plan for ``(offset, position)`` of the year-less lines in file order (None: no such line).

    A year ends where time runs back by more than ``TOLERANCE`` from the last quarter of a year into
    the first quarter, and the next ``CONFIRM`` stamps stay there (else the lines that ran back were
    strays: doubtful, same year). Any other step back beyond the tolerance is doubtful, same year."""
    starts: list[int] = [0]
    doubtful: dict[int, str] = {}

    def flag(offset: int, reason: str) -> None:
        if len(doubtful) < MAX_DOUBTFUL:
            doubtful[offset] = reason

    previous: int | None = None
    before_candidate, suspects = 0, []  # a year end waiting for confirmation: the stamp before it, its lines
    for offset, moment in stamped:
        if suspects:
            if moment < before_candidate - _TOLERANCE_MINUTES:
                suspects.append(offset)
                if len(suspects) > CONFIRM:
                    starts.append(suspects[0])
                    suspects = []
            else:
                for suspect in suspects:
                    flag(suspect, "out of file order: a stamp from the start of a year among the end of one")
                suspects = []
        elif previous is not None and moment < previous - _TOLERANCE_MINUTES:
            if _near_year_end(previous, moment):
                before_candidate, suspects = previous, [offset]
            else:
                days = (previous - moment) // _MINUTES_PER_DAY
                flag(offset, f"time ran back {days} days in file order, far from a year end")
        previous = moment
    if previous is None:
        return None
    if suspects:  # the file ends too soon after a year end to confirm it: take it, flagged
        starts.append(suspects[0])
        for suspect in suspects:
            flag(suspect, "a year end too close to the end of the file to be confirmed")
    year, latest = reference_position(reference, zone_name)
    last_year = year if previous <= latest else year - 1
    first_year = last_year - (len(starts) - 1)
    return YearPlan(starts=starts, years=list(range(first_year, last_year + 1)), doubtful=doubtful)


@functools.lru_cache(maxsize=256)
def _other_months(first: bytes, last: bytes) -> re.Pattern[bytes]:
    """Finds a line stamped with a month other than ``first`` and ``last`` (a stray, a year end)."""
    months = b"|".join({re.escape(first.lower()), re.escape(last.lower())})
    return re.compile(rb"\n(?:<\d{1,3}>)? ?(?!(?i:" + months + rb") )[A-Za-z]{3} {1,2}\d{1,2} \d\d:")


def _block_stamps(data: bytes, offset: int, end: int, cache: dict[bytes, int | None]) -> Iterator[tuple[int, int]]:
    """The year-less stamps of the whole lines in ``data[:end]``. A block whose first and last
    lines are stamped and close in forward order cannot hold a year end: its ends stand for it."""
    first, last_start = _STAMP.match(data, 0, 32), data.rfind(b"\n", 0, end - 1) + 1
    last = _STAMP.match(data, last_start, last_start + 32)
    if first and last:
        begin, finish = stamp_position(first[0]), stamp_position(last[0])
        if (
            begin is not None
            and finish is not None
            and 0 <= finish - begin <= _SKIP_SPAN_MINUTES
            and not _other_months(first[1], last[1]).search(data, 0, end)
        ):
            yield offset, begin
            yield offset + last_start, finish
            return
    for match in _LINE_STAMPS.finditer(data, 0, end):
        key = match[0]
        moment = cache.get(key, -1)
        if moment == -1:
            moment = cache[key] = stamp_position(key)
        if moment is not None:
            yield offset + match.start(), moment


def _stamped_lines(stream: BinaryIO) -> Iterator[tuple[int, int]]:
    """``(offset, position)`` of the lines starting with a year-less timestamp that matter for the
    plan, read in bounded pieces (a line longer than a piece is looked at by its start only)."""
    offset, data, skipping, cache = 0, b"", False, {}
    while block := stream.read(_READ_BYTES):
        data += block
        if skipping:
            newline = data.find(b"\n")
            if newline < 0:
                offset, data = offset + len(data), b""
                continue
            offset, data, skipping = offset + newline + 1, data[newline + 1 :], False
        if len(cache) > 100_000:
            cache.clear()
        cut = data.rfind(b"\n") + 1
        if cut:
            yield from _block_stamps(data, offset, cut, cache)
        offset, data = offset + cut, data[cut:]
        if len(data) > _READ_BYTES:
            if (moment := stamp_position(data[:32])) is not None:
                yield offset, moment
            offset, data, skipping = offset + len(data), b"", True
    if data and not skipping and (moment := stamp_position(data[:32])) is not None:
        yield offset, moment


def plan_years(stream: BinaryIO, reference: datetime, zone_name: str = "UTC") -> YearPlan | None:
    """The year plan of a whole file (None if no line leaves its year out)."""
    return plan_from_positions(_stamped_lines(stream), reference, zone_name)
