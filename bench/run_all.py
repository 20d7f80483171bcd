"""`make bench`: run every benchmark script in turn and print their tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Each entry: a script in bench/ and its arguments. Add yours here.
BENCHES: list[list[str]] = [
    ["proxy_bench.py"],
    ["usage_summary_bench.py"],
    ["translation_bench.py"],
    ["spend_overspend.py"],
    ["spend_check_latency.py"],
    ["redaction_corpus.py", "--baseline"],
    ["redaction_bench.py"],
    ["bench_tracing_sink.py"],
    ["bench_tracing_ingest.py"],
    ["bench_tracing_runs_list.py"],
    ["bench_partitions.py", "--runs", "1000000", "--budget", "600"],
]


def main() -> int:
    failed = 0
    for script, *args in BENCHES:
        print(f"== {script} {' '.join(args)}".rstrip(), flush=True)
        failed += (
            subprocess.run([sys.executable, str(HERE / script), *args], check=False).returncode != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
