"""Shared benchmark plumbing: a throw-away database, timing, and the ``name: value unit`` output.

Benchmarks report figures and ratios against a baseline measured in the same run, so results
compare across machines; nothing here asserts a time.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def emit(name: str, value: float | int, unit: str = "") -> None:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{name}: {text} {unit}".rstrip(), flush=True)


@contextmanager
def bench_database() -> Iterator[None]:
    """Django set up on a fresh database (PostgreSQL when it answers), dropped afterwards."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ismsapp.settings.test")
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = "isms_bench"
    from django.test.utils import setup_databases, teardown_databases

    # No setup_test_environment(): its instrumented template rendering (context copies for the
    # test client) would be measured as if it were server time.
    settings.ALLOWED_HOSTS = ["testserver"]
    old = setup_databases(verbosity=0, interactive=False, keepdb=False, aliases={"default"})
    print(f"# database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}", flush=True)
    try:
        yield
    finally:
        teardown_databases(old, verbosity=0)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return p50, p95


def time_requests(get: Callable[[], object], count: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        get()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        get()
        samples.append((time.perf_counter() - start) * 1000)
    return samples
