"""``make bench``: run every benchmark and print one ``name: value unit`` per line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import bench_database

BENCHMARKS = [
    "bench.bench_dashboard",
    "bench.bench_soa",
    "bench.bench_risks",
    "bench.bench_evidence",
    "bench.bench_audits",
]


def main(selected: list[str]) -> None:
    names = [name for name in BENCHMARKS if not selected or any(part in name for part in selected)]
    with bench_database():
        for name in names:
            print(f"# {name}", flush=True)
            importlib.import_module(name).run()


if __name__ == "__main__":
    main(sys.argv[1:])
