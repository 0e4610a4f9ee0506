"""Tamper evidence for machine evidence, verifiable offline with standard tools.

- Each event has a *leaf hash*: SHA-256(0x00 || canonical bytes), the canonical bytes being a
  compact JSON array of the event's fields in a fixed order (see ``canonical_event``).
- The events written by one chunk form a *batch*: a Merkle tree (RFC 6962 shape: interior nodes
  SHA-256(0x01 || left || right)) over their leaves in position order.
- Batches are chained per source: ``link_hash = SHA-256("<prev>|<seq>|<count>|<root>")``.
- The chain head is signed with Ed25519 (a *checkpoint*) by a key read from a file named by
  ``ISMS_EVIDENCE_SIGNING_KEY``; the database holds only signatures and the key's fingerprint.
  The signed message is ``isms-evidence-checkpoint:v1:<source>:<seq>:<link_hash>`` (UTF-8); check it
  with ``openssl pkeyutl -verify -pubin -inkey evidence-signing.pub.pem -rawin -in msg -sigfile sig``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from evidence.parsers.base import DESCRIPTIVE_FIELDS

CANONICAL_FIELDS = ("time", "received_at", *DESCRIPTIVE_FIELDS, "extra", "dedup_key")


@lru_cache(maxsize=4096)
def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


# Built once: json.dumps with options would build a new encoder for every event. These define the
# canonical bytes; orjson writes the same bytes for the values it is given below, several times
# faster (tests/evidence/test_integrity.py holds the two to the same output).
_EXTRA_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
_CANONICAL_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_PLAIN_TYPES = frozenset({str, bool, int, type(None)})  # encoded alike by both; floats are not


def _extra_text(extra: dict[Any, Any]) -> str:
    if all(type(key) is str and type(value) in _PLAIN_TYPES for key, value in extra.items()):
        try:
            return orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:  # an integer beyond 64 bits
            pass
    try:
        return _EXTRA_ENCODER.encode(extra)
    except TypeError:  # keys of mixed types: make them text first
        return _EXTRA_ENCODER.encode(json.loads(json.dumps(extra, default=str)))


def extra_json(extra: Any) -> str:
    """The canonical text of an event's extra fields (also what is stored: JSON reads back the same)."""
    if not extra:
        return "{}"
    return _extra_text(extra).replace("\\u0000", "\\ufffd")


def canonical_values(values: Sequence[Any]) -> bytes:
    """The bytes a leaf hash covers, from the values of ``CANONICAL_FIELDS`` in that order: a
    compact JSON array (times in UTC ISO 8601 with microseconds, the extra fields as their
    canonical JSON text, the dedup key in hex), UTF-8, as ``json.dumps(..., separators=(",", ":"),
    ensure_ascii=False)`` writes it."""
    time, received_at, *plain, extra, dedup = values
    array = [
        _iso(time),
        _iso(received_at),
        *plain,
        extra if isinstance(extra, str) else extra_json(extra),
        dedup if isinstance(dedup, str) else bytes(dedup).hex(),
    ]
    try:
        return orjson.dumps(array)  # text, whole numbers and nulls only: the same bytes as json
    except (orjson.JSONEncodeError, TypeError):
        return _CANONICAL_ENCODER.encode(array).encode()


def canonical_event(fields: dict[str, Any]) -> bytes:
    return canonical_values([fields[name] for name in CANONICAL_FIELDS])


def leaf_hash(fields: dict[str, Any]) -> bytes:
    return hashlib.sha256(b"\x00" + canonical_event(fields)).digest()


def leaf_hash_of(values: Sequence[Any]) -> bytes:
    """``leaf_hash`` of the values of ``CANONICAL_FIELDS`` in order (the ingestion hot path)."""
    return hashlib.sha256(b"\x00" + canonical_values(values)).digest()


def merkle_root(leaves: list[bytes]) -> str:
    """RFC 6962 Merkle tree hash of the leaves (already leaf-hashed), hex; empty tree: SHA-256('')."""
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = list(leaves)
    # Iterative form of MTH: pair adjacent nodes, carry the odd one up unchanged (same tree shape).
    while len(level) > 1:
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


def link_hash(prev_hash: str, seq: int, count: int, root: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{seq}|{count}|{root}".encode()).hexdigest()


def checkpoint_message(source_name: str, seq: int, link: str) -> bytes:
    return f"isms-evidence-checkpoint:v1:{source_name}:{seq}:{link}".encode()


# --- keys ---------------------------------------------------------------------------------------


def key_path() -> Path:
    return Path(settings.EVIDENCE_SIGNING_KEY)


@lru_cache(maxsize=1)
def _private_key(path: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ImproperlyConfigured(
            f"No evidence signing key at {path}: run `python manage.py "
            "create_signing_key` (make setup does) or set ISMS_EVIDENCE_SIGNING_KEY."
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 private key.")
    return key


def signing_key() -> Ed25519PrivateKey:
    return _private_key(str(key_path()))


def public_key_pem(key: Ed25519PublicKey | None = None) -> bytes:
    key = key or signing_key().public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey | None = None) -> str:
    """SHA-256 of the raw 32-byte public key, hex (shown in the UI and stored with checkpoints)."""
    key = key or signing_key().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def create_key(path: Path) -> bool:
    """Write a new Ed25519 key (mode 0600) and its public half beside it; False if one exists."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.touch(mode=0o600)
    path.write_bytes(pem)
    path.with_suffix(".pub.pem").write_bytes(public_key_pem(key.public_key()))
    _private_key.cache_clear()
    return True


def sign(message: bytes) -> str:
    return signing_key().sign(message).hex()


def signature_valid(message: bytes, signature_hex: str, key: Ed25519PublicKey | None = None) -> bool:
    key = key or signing_key().public_key()
    try:
        key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
