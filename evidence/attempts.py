"""One failed authentication attempt, several log lines: which lines record the same attempt.

sshd with PAM logs one password attempt up to five times: "Invalid user X from A" (once per connection),
its 5.x-7.x echo "input_userauth_request: invalid user X", pam_unix's "check pass; user unknown" and
"authentication failure; ... rhost=A user=X", then sshd's own "Failed password for X from A port P ssh2".
``AttemptGrouper`` gathers, per host and process id, the lines of one attempt into a group: a line
joins the newest open group of its process when the group has no line of its kind yet, none of a
later kind (``KINDS`` ranks them in the order the daemons log them), names no other user or peer,
stands for as many repetitions (``repeated``) and began at most ``WINDOW_SECONDS`` and ``WINDOW_LINES``
before; otherwise it opens a new group. The first line of a group is the attempt;
the others get ``extra["same_attempt_as"]`` = the first line's position in the chunk and add nothing
to the per-control figures (``evidence.counting``). Both stay stored, unchanged otherwise.

Decided within one chunk, in file order, with bounded state (one open group per process, at most
``MAX_OPEN`` processes):
a chunk boundary that falls between two lines of one attempt leaves the second counted too (at
most one extra count per attempt cut by a boundary; chunks are about 8,000 lines, so rare). The
same holds between two batches of the syslog receiver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evidence.parsers.base import REPEATED, SAME_ATTEMPT_AS, Event, Outcome

WINDOW_SECONDS = 10.0  # pam_unix's fail delay (2 s by default) plus slow PAM back ends
WINDOW_LINES = 64  # lines of the chunk between the first and the last line of one attempt
MAX_OPEN = 4096  # processes with an open group kept at once; the oldest are forgotten first

# The kind of line each classification rule (``extra["auth_event"]``) writes about one attempt, and its
# rank: the lines of one attempt come in this order (sshd announces an invalid user, PAM's modules run,
# then sshd reports the method's failure), so a line of a lower rank than the group's last begins another.
KINDS: dict[str, tuple[str, int]] = {
    "ssh_invalid_user": ("ssh_invalid_user", 0),
    "ssh_invalid_user_request": ("ssh_invalid_user_request", 1),  # echo_of ssh_invalid_user
    "pam_user_unknown": ("pam_user_unknown", 2),  # echo_of pam_auth_failure
    "pam_auth_failure": ("pam_auth_failure", 3),
    "pam_auth_failure_ambiguous_peer": ("pam_auth_failure", 3),
    "pam_sss_failure": ("pam_backend_failure", 3),  # before or after pam_unix, as the stack says
    "pam_ldap_failure": ("pam_backend_failure", 3),
    "ssh_pam_failure": ("ssh_pam_failure", 4),
    "ssh_failed": ("ssh_failed", 5),
    "ssh_failed_ambiguous_peer": ("ssh_failed", 5),
}


@dataclass(slots=True)
class _Group:
    first: int  # position of the attempt's first line in the chunk
    started: datetime | None
    user: str
    peer: str
    repeated: int
    rank: int  # of its latest line
    kinds: set[str] = field(default_factory=set)


class AttemptGrouper:
    """Marks, in place, the events that record an attempt an earlier event of the chunk records."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, int | None], _Group] = {}

    def mark(self, event: Event, position: int) -> None:
        if event.outcome != Outcome.FAILURE:
            return
        extra = event.extra
        known = KINDS.get(extra.get("auth_event", ""))
        if known is None:
            return
        kind, rank = known
        repeated = extra.get(REPEATED, 1)
        user, peer = event.user, event.source_ip or _text(extra.get("source_host"))
        key = (event.host, event.pid)
        group = self.open.get(key)
        if group is not None and self._joins(group, kind, rank, event.time, position, user, peer, repeated):
            extra[SAME_ATTEMPT_AS] = group.first
            group.kinds.add(kind)
            group.rank = rank
            group.user, group.peer = group.user or user, group.peer or peer
            return
        self.open.pop(key, None)
        if len(self.open) >= MAX_OPEN:
            del self.open[next(iter(self.open))]
        self.open[key] = _Group(position, event.time, user, peer, repeated, rank, {kind})

    @staticmethod
    def _joins(
        group: _Group,
        kind: str,
        rank: int,
        time: datetime | None,
        position: int,
        user: str,
        peer: str,
        repeated: Any,
    ) -> bool:
        if kind in group.kinds or rank < group.rank or repeated != group.repeated:
            return False
        if position - group.first > WINDOW_LINES:
            return False
        if user and group.user and user != group.user:
            return False
        if peer and group.peer and peer != group.peer:
            return False
        if time is not None and group.started is not None:
            return abs((time - group.started).total_seconds()) <= WINDOW_SECONDS
        return True


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
