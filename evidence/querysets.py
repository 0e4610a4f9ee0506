"""Reads of events, shared by the explorer page, its CSV export and the API."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.db.models import Q, QuerySet

from evidence import rules
from evidence.counting import with_counts
from evidence.models import Event, EvidenceSource
from evidence.parsers.base import DESCRIPTIVE_FIELDS


def visible_events(user: Any) -> QuerySet[Event]:
    """The events ``user`` may see, each with ``count`` and ``same_attempt_of`` (see ``evidence.counting``)."""
    return with_counts(Event.objects.for_user(user, "view"))


def filter_events(events: QuerySet[Event], data: dict[str, Any]) -> QuerySet[Event]:
    """Apply explorer filters (cleaned form data): source, host, user, peer address, action, outcome, time
    range, job, and a control (through the mapping rules that give it evidence)."""
    if data.get("source"):
        events = events.filter(source=data["source"])
    for name in ("host", "user", "action", "outcome"):
        if data.get(name):
            events = events.filter(**{name: data[name]})
    if data.get("source_ip"):
        events = events.filter(peer_query(data["source_ip"]))
    if data.get("since"):
        events = events.filter(time__gte=data["since"])
    if data.get("until"):
        events = events.filter(time__lte=data["until"])
    if data.get("job"):
        events = events.filter(job_id=data["job"])
    if data.get("control"):
        mapped = rules.rules_for_control(data.get("edition") or "2022", data["control"].strip())
        sources = EvidenceSource.objects.all()
        query = Q(pk__in=[])
        for rule in mapped:
            query |= rule.as_q(sources)
        events = events.filter(query)
    return events


def peer_query(text: str) -> Q:
    """Events whose peer is ``text``: the address as logged (an IPv4 address also in its v4-mapped IPv6 form,
    and back) or the host name a daemon logged instead of an address (``extra["source_host"]``, e.g. PAM's
    ``rhost=`` or sshd with UseDNS)."""
    value = text.strip()
    query = Q(source_ip__iexact=value) | Q(extra__source_host__iexact=value)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return query
    mapped = address if isinstance(address, ipaddress.IPv4Address) else address.ipv4_mapped
    if mapped is None:
        return query | Q(source_ip__iexact=address.compressed)
    forms = {str(mapped), f"::ffff:{mapped}", ipaddress.IPv6Address(f"::ffff:{mapped}").compressed}
    return query | Q(source_ip__in=forms) | Q(source_ip__iexact=f"::ffff:{mapped}")


# count: the occurrences the line stands for ("message repeated N times": N); same_attempt_of: the id of the
# event that records the same authentication attempt first (this one adds nothing to the SoA's figures).
CSV_HEADER = (
    "id", "time_utc", "source", *DESCRIPTIVE_FIELDS, "job", "raw_offset", "raw_length", "leaf_sha256",
    "count", "same_attempt_of",
)  # fmt: skip


def csv_row(event: dict[str, Any], source_names: dict[int, str]) -> tuple[Any, ...]:
    return (
        event["id"],
        event["time"].isoformat() if event["time"] else "",
        source_names.get(event["source_id"], ""),
        event["host"],
        event["program"],
        event["pid"],
        event["user"],
        event["target_user"],
        event["source_ip"],
        event["action"],
        event["outcome"],
        event["session_id"],
        event["command"],
        event["message"],
        event["job_id"],
        event["raw_offset"],
        event["raw_length"],
        bytes(event["leaf_hash"]).hex(),
        event["count"],
        event["same_attempt_of"] or "",
    )


CSV_FIELDS = (
    "id", "time", "source_id", *DESCRIPTIVE_FIELDS, "job_id", "raw_offset", "raw_length", "leaf_hash",
    "count", "same_attempt_of",
)  # fmt: skip
