"""Test settings: PostgreSQL and Redis when they answer, the embedded defaults otherwise.

``REQUIRE_SERVICES=1`` turns a missing service into a failed run (see ``tests/conftest.py``).
"""

import hashlib
import socket
import uuid
from urllib.parse import urlsplit

from ismsapp.settings.base import *  # noqa: F403
from ismsapp.settings.base import BASE_DIR, VAR_DIR, database_from_url
from ismsapp.settings.env import env_str


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


TEST_DATABASE_URL = env_str("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/isms")
TEST_REDIS_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SERVICES = {
    "postgresql": _answers(TEST_DATABASE_URL, 5432),
    "redis": _answers(TEST_REDIS_URL, 6379),
}

DATABASES = {
    "default": database_from_url(
        TEST_DATABASE_URL if TEST_SERVICES["postgresql"] else f"sqlite:///{VAR_DIR / 'test.sqlite3'}"
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = 0
# One test database per checkout, so two clones (or CI beside a developer) never share one.
_CHECKOUT = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]
if TEST_SERVICES["postgresql"]:
    DATABASES["default"]["TEST"] = {"NAME": f"test_isms_{_CHECKOUT}"}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEBUG = False
CELERY_TASK_ALWAYS_EAGER = False
# Tasks sent by committed test transactions go to a queue of this run only, where the real
# workers started by tests (tests/conftest.py) consume them.
CELERY_TASK_DEFAULT_QUEUE = f"isms-test-{uuid.uuid4().hex[:10]}"
if TEST_SERVICES["redis"]:
    CELERY_BROKER_URL = TEST_REDIS_URL
BLOB_ROOT = VAR_DIR / "test-blobs"
EVIDENCE_SIGNING_KEY = VAR_DIR / "test-keys" / "evidence-signing.pem"  # created by tests/conftest.py
EVIDENCE_CHECKPOINT_JOURNAL = VAR_DIR / "test-keys" / "evidence-checkpoints.jsonl"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# The personas log in with a password only; MFA tests set the roles that require a factor.
ISMS_MFA_REQUIRED_ROLES: list[str] = []
