"""How many occurrences a stored event stands for: the one rule behind every count of events.

Two markers in an event's ``extra`` (both hashed with the event, and set on events ingested from now on
only; events stored before carry neither and count once, as they were counted then):

- ``repeated = N``: the line is a syslog daemon's reduction "message repeated N times: [ text ]"
  (rsyslog, syslog-ng; also BSD syslogd's "last message repeated N times"). rsyslog writes it after the
  message itself was logged once, on its own line, and N counts the repetitions that line does not: the
  reduced line stands for N occurrences and the first occurrence is counted by its own line. So the
  event counts N (not N + 1) everywhere counts are shown.
- ``same_attempt_as = P``: the event records an authentication attempt that an earlier event of the same
  chunk already records (sshd's "Failed password" after pam_unix's "authentication failure" of the same
  process, or a line the parser marks ``echo_of``); P is that event's ``position`` in the same chunk (the
  pair chunk + position names one stored event; ``first_event_of_attempt`` resolves it). See
  ``evidence.attempts``. It adds nothing to the per-control figures; both events stay stored.

``occurrences`` (one event) and ``occurrences_expression`` (the same in SQL) are the two forms of the rule:
ingestion counts with the first, ``verify_evidence`` re-counts with the second, so they must agree.
"""

from __future__ import annotations

from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Expression
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Least
from django.db.models.lookups import Regex

from evidence.parsers.base import REPEATED, SAME_ATTEMPT_AS  # set by the pipeline only (ndjson renames supplied ones)

# A reduced line counts at most this many occurrences (the marker keeps the logged number): a forged
# "message repeated 9999999999 times" cannot overflow the counters or drown every other figure.
MAX_COUNTED_REPEATS = 1_000_000


def line_count(extra: Any) -> int:
    """How many occurrences the stored line stands for (``repeated``, else 1)."""
    if not isinstance(extra, dict):
        return 1
    value = extra.get(REPEATED, 1)
    return min(value, MAX_COUNTED_REPEATS) if type(value) is int and 0 < value < 10**18 else 1


def occurrences(extra: Any) -> int:
    """What the event adds to the per-control figures: 0 for a second record of one attempt, else its lines."""
    if isinstance(extra, dict) and SAME_ATTEMPT_AS in extra:
        return 0
    return line_count(extra)


class IsJSONNumber(Func):
    """True where ``extra``'s ``key`` holds a JSON number, on both databases (PostgreSQL's
    ``jsonb_typeof``, SQLite's ``json_type``): a string that looks like a number is not one."""

    output_field = BooleanField()

    def __init__(self, key: str) -> None:
        super().__init__(F("extra"))
        self.key = key

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"(jsonb_typeof({column} -> %s) = 'number')", [*params, self.key]

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"(json_type({column}, %s) IN ('integer', 'real'))", [*params, f"$.{self.key}"]


def line_count_expression() -> Expression:
    """``line_count`` in SQL, for the events table."""
    number = IsJSONNumber(REPEATED)
    positive = Regex(KT(f"extra__{REPEATED}"), r"^[1-9][0-9]{0,17}$")  # an integer (JSON's "5.0" or "1e3" count once)
    return Case(
        When(Q(number, positive), then=Least(Cast(KT(f"extra__{REPEATED}"), BigIntegerField()), MAX_COUNTED_REPEATS)),
        default=Value(1),
        output_field=BigIntegerField(),
    )


def occurrences_expression() -> Expression:
    """``occurrences`` in SQL, for the events table."""
    return Case(
        When(extra__has_key=SAME_ATTEMPT_AS, then=Value(0)),
        default=line_count_expression(),
        output_field=BigIntegerField(),
    )


def with_counts(events: Any) -> Any:
    """``events`` annotated with ``count`` (the occurrences the line stands for, ``line_count``) and
    ``same_attempt_of`` (the id of the event recording the same attempt first, else NULL)."""
    from evidence.models import Event

    marker = KT(f"extra__{SAME_ATTEMPT_AS}")
    return events.annotate(
        count=line_count_expression(),
        attempt_position=Case(
            When(
                Q(extra__has_key=SAME_ATTEMPT_AS) & Q(Regex(marker, r"^[0-9]{1,9}$")), then=Cast(marker, IntegerField())
            ),
            default=Value(None),
            output_field=IntegerField(),
        ),
        same_attempt_of=Subquery(
            Event.objects.filter(chunk_id=OuterRef("chunk_id"), position=OuterRef("attempt_position"))
            .order_by()
            .values("id")[:1],
            output_field=IntegerField(),
        ),
    )
