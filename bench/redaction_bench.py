"""Redaction speed: scan time per KB, added latency for a 4 KB request, and for a 300 KB
coding-agent conversation whose last turn adds 4 KB (warm and cold cache).

    python bench/redaction_bench.py [--rounds 30]

Targets: ≤ 5 ms p50 for a 4 KB request; ≤ 15 ms p50 for the warm 300 KB case;
≤ 400 ms for the cold 300 KB case. "Added latency" is what the redaction gate adds before the
request can go upstream: the hop to the scanner thread, copying the body, walking it, scanning
(cache lookups included), writing placeholders back, and preparing the restore filter. The
proxy's own JSON (de)serialisation is not counted. Every cold figure uses text never seen
before (fresh random values), so the per-block cache cannot help.

The machine is shared: every figure comes with a floor measured in the same run, interleaved
with it, and the ratio to that floor. The floor is the least a proxy does with the same body
whatever it redacts: a JSON round trip of the body and one `\\w+` tokenisation of its text
(C-speed passes). Ratios are of CPU times: on a loaded machine the wall time of a scan that
takes milliseconds is mostly waiting for a core, which a sub-millisecond floor is not. The load
average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
os.environ.setdefault("DEBUG", "True")  # the development settings: nothing is served

_WORDS = re.compile(r"\w+")


def floor_ms(body: Any) -> tuple[float, float]:
    """The floor for one body (see the module's docstring): (wall ms, CPU ms)."""
    started, cpu = time.perf_counter(), time.process_time()
    copied = json.loads(json.dumps(body))
    for _ in _WORDS.finditer(json.dumps(copied)):
        pass
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


def _code_text(size: int) -> str:
    files = sorted((ROOT / "orgs").glob("*.py")) + sorted((ROOT / "proxy").glob("*.py"))
    text = "\n".join(p.read_text() for p in files)
    return (text * (size // len(text) + 1))[:size]


_CONTEXTS = {
    "logs": ("ci_log", "stack_trace", "sql", "app_log", "http_log"),
    "prose": ("prose",),
}


def _filled(contexts: tuple[str, ...], size: int, seed: int) -> str:
    """Documents of the tuning half's families of these contexts, filled with fresh values."""
    from policies.tests.corpus import families, instantiate
    from policies.tests.corpus.values import EvalGen

    templates = [t for f in families("tuning") if f.context in contexts for t in f.templates]
    gen, parts, total, i = EvalGen(seed), [], 0, 0
    while total < size:
        doc = instantiate(templates[i % len(templates)], gen)
        parts.append(doc.text)
        total += len(doc.text)
        i += 1
    return "".join(parts)[:size]


def texts(kind: str, size: int, seed: int) -> str:
    if kind == "code":
        from policies.tests.corpus.values import Gen

        # real source, made unique per seed so no cache can help
        return f"# build {Gen(seed).uuid()}\n" + _code_text(size)
    return _filled(_CONTEXTS[kind], size, seed)


def bench_per_kb(rounds: int) -> None:
    from policies.redaction.engine import all_rule_config, scanner

    engine, config = scanner(), all_rule_config()
    print("scan time per KB (cold, one 16 KB block, median of rounds):")
    for kind in ("prose", "code", "logs"):
        wall, cpu, floor = [], [], []
        for r in range(rounds):
            text = texts(kind, 16 * 1024, seed=1000 + r)
            floor.append(floor_ms(text)[1] / 16)
            started, cpu_started = time.perf_counter(), time.process_time()
            engine.scan_text(text, config)
            wall.append((time.perf_counter() - started) * 1000 / 16)
            cpu.append((time.process_time() - cpu_started) * 1000 / 16)
        print(
            f"  {kind:6s} p50 {statistics.median(wall):.3f} ms/KB wall, "
            f"{statistics.median(cpu):.3f} ms/KB CPU; p90 {_p(wall, 0.9):.3f} wall; "
            f"floor {statistics.median(floor):.4f} ms/KB CPU, "
            f"x{statistics.median(cpu) / statistics.median(floor):.0f} floor (CPU)"
        )


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _turn(seed: int, size: int) -> list[dict[str, Any]]:
    """One agent turn: an assistant tool call and its (code or log) result, then a user note."""
    from policies.tests.corpus.values import Gen

    gen = Gen(seed)
    result = texts("code" if seed % 2 else "logs", size - 300, seed)
    return [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": f"Let me look at {gen.ticket_id()}."},
                {
                    "type": "tool_use",
                    "id": f"toolu_{seed}",
                    "name": "read_file",
                    "input": {"path": f"src/mod_{seed}.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{seed}", "content": result},
                {"type": "text", "text": f"also check {gen.email()} please"},
            ],
        },
    ]


def conversation(prefix_kb: int, seed: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Fix the failing billing tests."}]
    turn = 0
    while sum(len(str(m)) for m in messages) < prefix_kb * 1024:
        messages += _turn(seed * 1000 + turn, 4096)
        turn += 1
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "system": "You are a coding agent.",
        "messages": messages,
    }


class Harness:
    """The gate's own path (thread hop, copy, walk, scan, rewrite, restore filter) for one call."""

    def __init__(self) -> None:
        from policies.redaction.engine import all_rule_config
        from policies.redaction.gate import RedactionGate
        from policies.redaction.snapshot import EffectivePolicy

        self.gate = RedactionGate()
        self.policy = EffectivePolicy(
            id=1,
            name="bench",
            scope="organization",
            organization_id=1,
            workspace_id=None,
            api_key_id=None,
            user_id=None,
            config=all_rule_config(),
            scan_system=True,
            restore=True,
            timeout_s=30.0,
            block_on_failure=True,
        )

    def call(self, body: dict[str, Any], dialect: str, endpoint: str) -> Any:
        from hotpath.callrecord import CallRecord
        from hotpath.context import RequestContext
        from hotpath.gates import ProxyCall

        ctx = RequestContext(
            organization_id=1,
            workspace_id=1,
            key_id=1,
            key_prefix="gw_sk_bench",
            key_kind="service",
            user_id=None,
            permissions=frozenset(),
            trace_content=False,
        )
        return ProxyCall(
            ctx=ctx,
            dialect=dialect,
            endpoint=endpoint,
            model="m",
            body=body,
            stream=False,
            record=CallRecord(run_id="r", trace_id="t", started_at=time.time()),
        )

    async def added_ms(
        self, body: dict[str, Any], dialect: str, endpoint: str
    ) -> tuple[float, float]:
        """(wall ms, CPU ms of this process) for one call's redaction."""
        call = self.call(body, dialect, endpoint)
        started, cpu = time.perf_counter(), time.process_time()
        outcome = await self.gate._run(call, self.policy)
        assert not isinstance(outcome, str), outcome
        return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


def _report(
    label: str,
    samples: list[tuple[float, float]],
    floor: list[tuple[float, float]],
    target: str,
) -> None:
    wall = [w for w, _c in samples]
    cpu = [c for _w, c in samples]
    floor_cpu = statistics.median(c for _w, c in floor)
    print(
        f"{label}: p50 {statistics.median(wall):.2f} ms wall, {statistics.median(cpu):.2f} ms CPU; "
        f"p90 {_p(wall, 0.9):.2f} ms wall  (target {target}); floor p50 {floor_cpu:.3f} ms CPU, "
        f"x{statistics.median(cpu) / floor_cpu:.1f} floor (CPU)"
    )


async def bench_requests(rounds: int) -> None:
    from policies.redaction.cache import scan_cache

    harness = Harness()
    await harness.added_ms(
        {"messages": [{"role": "user", "content": "warm up"}]}, "openai", "ChatCompletions"
    )
    small, small_floor = [], []
    for r in range(rounds):
        body = {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {
                    "role": "user",
                    "content": texts("logs" if r % 2 else "prose", 4096, seed=5000 + r),
                },
            ],
        }
        small_floor.append(floor_ms(body))
        small.append(await harness.added_ms(body, "openai", "ChatCompletions"))
    _report("4 KB request, added latency (cold)", small, small_floor, "≤ 5 ms p50")

    warm, cold, big_floor = [], [], []
    for r in range(max(3, rounds // 5)):
        body = conversation(300, seed=90 + r)
        size_kb = len(str(body)) / 1024
        await harness.added_ms(body, "anthropic", "Messages")  # the previous turns, seen before
        body["messages"] += _turn(777_000 + r, 4096)
        big_floor.append(floor_ms(body))
        warm.append(await harness.added_ms(body, "anthropic", "Messages"))
        scan_cache().clear()
        body["messages"] += _turn(888_000 + r, 4096)
        cold.append(await harness.added_ms(body, "anthropic", "Messages"))
    _report(
        f"{size_kb:.0f} KB conversation + 4 KB new turn, warm cache", warm, big_floor, "≤ 15 ms p50"
    )
    _report(f"{size_kb:.0f} KB conversation, cold cache", cold, big_floor, "≤ 400 ms")
    harness.gate.executor.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    import logging

    import django

    django.setup()
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    from policies.redaction.engine import scanner

    scanner()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bench_per_kb(args.rounds)
    asyncio.run(bench_requests(args.rounds))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
