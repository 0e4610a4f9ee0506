"""iCalendar (RFC 5545) text of a user's audits: one all-day event per audit, from its actual
dates once started (else the planned ones). Written by hand: escaping, CRLF, 75-octet folding."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.urls import reverse

from audits.models import Audit

STATUS = {
    Audit.Status.PLANNED: "TENTATIVE",
    Audit.Status.IN_PROGRESS: "CONFIRMED",
    Audit.Status.REPORTING: "CONFIRMED",
    Audit.Status.CLOSED: "CONFIRMED",
}


def escape(value: str) -> str:
    """TEXT value: backslash, semicolon, comma and line breaks escaped; other controls dropped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return "".join(ch for ch in value if ch == "\t" or (ord(ch) >= 0x20 and ord(ch) != 0x7F))


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (never inside a character)."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _date(value: date) -> str:
    return value.strftime("%Y%m%d")


def audit_event(audit: Audit, stamp: datetime) -> list[str]:
    start = audit.actual_start or audit.planned_start
    end = audit.actual_end or (audit.planned_end if audit.planned_end >= start else start)
    url = f"{settings.ISMS_BASE_URL}{reverse('audits:audit', args=[audit.pk])}"
    description = (
        f"{audit.get_audit_type_display()} audit, {audit.get_status_display().lower()}.\n"
        f"Lead auditor: {audit.lead_auditor.get_full_name() or audit.lead_auditor.get_username()}.\n{url}"
    )
    return [
        "BEGIN:VEVENT",
        f"UID:audit-{audit.pk}@{settings.ISMS_BASE_URL.split('://')[-1].split('/')[0] or 'isms'}",
        f"DTSTAMP:{stamp.strftime('%Y%m%dT%H%M%SZ')}",
        f"DTSTART;VALUE=DATE:{_date(start)}",
        f"DTEND;VALUE=DATE:{_date(end + timedelta(days=1))}",
        f"SUMMARY:{escape('Audit: ' + audit.title)}",
        f"DESCRIPTION:{escape(description)}",
        f"STATUS:{STATUS[audit.status]}",
        f"URL:{url}",
        "END:VEVENT",
    ]


def calendar(audits: Iterable[Audit], stamp: datetime) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//ISMS//Internal audits//EN", "CALSCALE:GREGORIAN"]
    lines.append(f"X-WR-CALNAME:{escape('My audits')}")
    for audit in audits:
        lines.extend(audit_event(audit, stamp))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
