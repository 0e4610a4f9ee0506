"""Synthetic but realistic evidence: auth.log traffic and an administrator's terminal session.

Used by the demo data and the benchmarks (never by the parsers' tests, which keep their own
hand-written fixtures). Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

USERS = ("alice", "bob", "carol", "deploy", "backup", "root", "oracle", "admin", "git", "test")
HOSTS = ("web1", "web2", "db1", "bastion", "ci")
AUTH_TEMPLATES = (
    "sshd[{pid}]: Accepted publickey for {user} from 203.0.113.{ip} port {port} ssh2: ED25519 SHA256:abc{n}",
    "sshd[{pid}]: Failed password for {user} from 198.51.100.{ip} port {port} ssh2",
    "sshd[{pid}]: Failed password for invalid user {user}{n} from 192.0.2.{ip} port {port} ssh2",
    "sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)",
    "sshd[{pid}]: pam_unix(sshd:session): session closed for user {user}",
    "sudo:    {user} : TTY=pts/{ip} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart app{n}",
    "CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    "systemd-logind[812]: New session {n} of user {user}.",
    "sshd[{pid}]: Received disconnect from 203.0.113.{ip} port {port}:11: disconnected by user",
    "sshd[{pid}]: Connection closed by authenticating user {user} 198.51.100.{ip} port {port} [preauth]",
)


def auth_log_lines(
    count: int,
    *,
    start: datetime,
    step: timedelta = timedelta(seconds=0.05),
    seed: int = 7,
    users: Sequence[str] = USERS,
    hosts: Sequence[str] = HOSTS,
) -> Iterator[str]:
    """``count`` RFC 3164 auth.log lines (with their newline), one every ``step`` from ``start``."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    for n in range(count):
        stamp = start + step * n
        text = rng.choice(AUTH_TEMPLATES).format(
            pid=1000 + n % 50000, user=rng.choice(users), ip=rng.randint(1, 254), port=rng.randint(1024, 65535), n=n
        )
        yield f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S} {rng.choice(hosts)} {text}\n"


def asciicast_session(*, user: str, host: str, started_at: datetime, commands: Sequence[tuple[str, str]]) -> bytes:
    """An asciicast v2 recording in which ``user`` types each command and sees its output."""
    header = {
        "version": 2,
        "width": 100,
        "height": 30,
        "timestamp": int(started_at.timestamp()),
        "title": f"{user}@{host}",
        "env": {"SHELL": "/bin/bash", "TERM": "xterm-256color", "USER": user},
    }
    lines = [json.dumps(header)]
    clock = 0.4
    prompt = f"{user}@{host}:~$ "
    lines.append(json.dumps([clock, "o", prompt]))
    for command, output in commands:
        for char in command + "\r":
            clock += 0.09
            lines.append(json.dumps([round(clock, 3), "i", char]))
            lines.append(json.dumps([round(clock + 0.01, 3), "o", "\r\n" if char == "\r" else char]))
        clock += 0.3
        lines.append(json.dumps([round(clock, 3), "o", output.replace("\n", "\r\n") + "\r\n" + prompt]))
        clock += 1.2
    return ("\n".join(lines) + "\n").encode()
