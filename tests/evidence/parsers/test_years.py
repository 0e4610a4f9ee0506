"""Years of RFC 3164 timestamps decided across a file in file order (evidence.parsers.years), and
through the whole pipeline: files spanning one and two year ends, with modification times before,
at and long after the last line, strays, steps back far from a year end, and never the future."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from evidence import ingestion, services
from evidence.models import Event
from evidence.parsers.years import SLACK, TOLERANCE, plan_years, stamp_position

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def line(moment: datetime, user: str) -> bytes:
    stamp = f"{MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S}"
    return f"{stamp} web1 sshd[7]: Failed password for {user} from 192.0.2.7 port 22 ssh2\n".encode()


def daily(start: datetime, days: int, per_day: int = 3) -> list[datetime]:
    return [start + timedelta(days=d, hours=8 * n) for d in range(days) for n in range(per_day)]


def log_of(moments: list[datetime]) -> bytes:
    return b"".join(line(moment, f"u{i}") for i, moment in enumerate(moments))


def planned_years(data: bytes, reference: datetime) -> list[int]:
    plan = plan_years(io.BytesIO(data), reference)
    assert plan is not None
    offsets = list(itertools.accumulate((len(x) for x in data.splitlines(keepends=True)), initial=0))[:-1]
    return [plan.year_at(offset) for offset in offsets]


ONE_YEAR_END = daily(datetime(2023, 6, 1, 1, tzinfo=UTC), 300)  # June 2023 to late March 2024
TWO_YEAR_ENDS = daily(datetime(2022, 11, 20, 1, tzinfo=UTC), 420, per_day=1)  # Nov 2022 to Jan 2024


@pytest.mark.parametrize(
    ("moments", "written"),
    [
        (ONE_YEAR_END, ONE_YEAR_END[-1] + timedelta(minutes=1)),  # at the last line
        (ONE_YEAR_END, ONE_YEAR_END[-1] + timedelta(days=200)),  # copied long after, same year
        (TWO_YEAR_ENDS, TWO_YEAR_ENDS[-1] + timedelta(seconds=5)),
        (TWO_YEAR_ENDS, TWO_YEAR_ENDS[-1] + timedelta(days=300)),  # restored or rsynced much later
    ],
)
def test_every_line_gets_its_own_year_whatever_the_modification_time(moments, written) -> None:
    assert planned_years(log_of(moments), written) == [m.year for m in moments]


def test_a_modification_time_before_the_last_line_never_puts_lines_in_the_future() -> None:
    """mtime in February, last line in late March: the last line cannot be this year's, so the
    whole file is a year older (the line-by-line guess split December and sent March forward)."""
    written = datetime(2024, 2, 10, tzinfo=UTC)
    years = planned_years(log_of(ONE_YEAR_END), written)
    assert years == [m.year - 1 for m in ONE_YEAR_END]
    assert years == sorted(years)  # December never split across two years


def test_time_never_runs_backwards_beyond_the_tolerance_in_file_order() -> None:
    data = log_of(TWO_YEAR_ENDS)
    years = planned_years(data, TWO_YEAR_ENDS[-1])
    rebuilt = [m.replace(year=y) for m, y in zip(TWO_YEAR_ENDS, years, strict=True)]
    assert all(b >= a - TOLERANCE for a, b in itertools.pairwise(rebuilt))


def test_a_stray_line_from_another_season_is_doubtful_not_a_new_year() -> None:
    june = daily(datetime(2024, 6, 1, tzinfo=UTC), 5)
    stray = datetime(2024, 1, 2, tzinfo=UTC)
    moments = [*june[:8], stray, *june[8:]]
    data = log_of(moments)
    plan = plan_years(io.BytesIO(data), june[-1])
    assert plan is not None
    assert plan.years == [2024]
    stray_offset = data.index(line(stray, "u8"))
    assert "far from a year end" in plan.doubt_at(stray_offset)
    assert len(plan.doubtful) == 1


def test_a_january_stray_in_december_is_doubtful_and_does_not_end_the_year() -> None:
    december = daily(datetime(2024, 12, 1, tzinfo=UTC), 10)
    stray = datetime(2025, 1, 3, tzinfo=UTC)
    moments = [*december[:5], stray, *december[5:]]
    data = log_of(moments)
    plan = plan_years(io.BytesIO(data), december[-1] + timedelta(hours=1))
    assert plan is not None
    assert plan.years == [2024]
    assert "out of file order" in plan.doubt_at(data.index(line(stray, "u5")))


def test_lines_without_a_bsd_timestamp_do_not_disturb_the_plan() -> None:
    moments = daily(datetime(2024, 12, 28, tzinfo=UTC), 8)
    data = b"".join(
        line(m, f"u{i}") + b"<38>1 2024-06-01T00:00:00Z web1 sshd 1 - - x\n" + b"garbage\n"
        for i, m in enumerate(moments)
    )
    plan = plan_years(io.BytesIO(data), moments[-1])
    assert plan is not None
    assert plan.years == [2024, 2025]


def test_a_huge_line_is_looked_at_by_its_start_only() -> None:
    moments = daily(datetime(2024, 12, 30, tzinfo=UTC), 4)
    data = line(moments[0], "a") + line(moments[1], "b" * 3_000_000) + log_of(moments[2:])
    assert planned_years(data, moments[-1]) == [m.year for m in moments]


def test_no_plan_without_year_less_lines() -> None:
    assert plan_years(io.BytesIO(b"<38>1 2024-06-01T00:00:00Z web1 sshd 1 - - x\n"), datetime.now(UTC)) is None
    assert stamp_position(b"Foo 12 10:00:00 x") is None


@pytest.mark.django_db
def test_pipeline_keeps_file_order_across_chunks_and_never_stores_the_future(isms_admin, monkeypatch) -> None:
    """Chunks parsed in any order agree on the years, December stays before January, and a line that
    ran back across the reference is read in the year before and flagged."""
    monkeypatch.setattr(ingestion, "CHUNK_BYTES", 4_000)
    source, _ = services.create_source(actor=isms_admin, name="years", owner=isms_admin)
    written = TWO_YEAR_ENDS[-1] + timedelta(minutes=30)
    late = TWO_YEAR_ENDS[-1] + timedelta(days=3)  # within the tolerance, but after the reference + slack
    data = log_of(TWO_YEAR_ENDS) + line(late, "late") + line(TWO_YEAR_ENDS[-1], "last")
    job = ingestion.create_job(
        actor=None, source=source, fmt="syslog", stream=io.BytesIO(data), enqueue=False, written_at=written
    )
    assert job.chunks_total > 5
    for chunk_id in reversed(job.chunks.order_by("index").values_list("pk", flat=True)):
        ingestion.process_chunk(chunk_id)
    times = dict(Event.objects.filter(job=job).values_list("user", "time"))
    assert [times[f"u{i}"] for i in range(len(TWO_YEAR_ENDS))] == TWO_YEAR_ENDS
    assert max(times.values()) <= written + SLACK
    assert times["late"] == late.replace(year=late.year - 1)
    flagged = Event.objects.get(job=job, user="late").extra["time_doubtful"]
    assert "after the reference time" in flagged
    assert not Event.objects.filter(job=job, extra__has_key="time_doubtful").exclude(user="late").exists()
