"""Translation benchmark: what a unified endpoint adds to a non-streaming call, in one run.

    python bench/translation_bench.py            # ~1 minute
    python bench/translation_bench.py --calls 500

One served gateway (gunicorn, 1 worker, the embedded default: SQLite, recording on, the
default gates) in front of the project's fake provider (a thread of this process). Calls are
sequential (concurrency 1, keep-alive), in interleaved rounds so every target sees the same
machine, and compared at the median:

- direct: the fake provider itself (the floor: what no gateway can beat);
- native: POST /anthropic/v1/messages, model claude-sonnet-4-5 (the provider's own API);
- translated: POST /v1/chat/completions, model anthropic/claude-sonnet-4-5 (the same provider
  call, the request and the answer translated from and to Chat Completions);
- unified, untranslated: POST /v1/chat/completions, model openai/gpt-4o-mini, next to
  native POST /openai/v1/chat/completions, model gpt-4o-mini;
- streams: the time to the first body byte, native Anthropic stream vs the same stream
  translated to Chat Completions chunks.

Then the translation alone, in this process: Translation.body + whole per call (CPU time).
The machine's load average is printed: on a shared machine, compare within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
os.environ.setdefault("DEBUG", "True")

import django  # noqa: E402

django.setup()

from devtools.served import (  # noqa: E402
    embedded_database,
    fake_provider_thread,
    served_gateway,
)

CONVERSATION = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy? Answer in one word."},
]
CLAUDE = [m for m in CONVERSATION if m["role"] != "system"]


def targets(gw: str, fake: str, key: str) -> dict[str, tuple[str, dict, dict]]:
    bearer = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    claude = {
        "x-api-key": key,
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    upstream = {
        "x-api-key": "sk",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    messages = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "system": "You are a terse assistant.",
        "messages": CLAUDE,
    }
    return {
        "direct (fake provider)": (f"{fake}/v1/messages", upstream, messages),
        "native anthropic": (f"{gw}/anthropic/v1/messages", claude, messages),
        "translated chat→anthropic": (
            f"{gw}/v1/chat/completions",
            bearer,
            {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64, "messages": CONVERSATION},
        ),
        "stream first byte: native anthropic": (
            f"{gw}/anthropic/v1/messages",
            claude,
            {**messages, "stream": True},
        ),
        "stream first byte: translated": (
            f"{gw}/v1/chat/completions",
            bearer,
            {"model": "anthropic/claude-sonnet-4-5", "stream": True, "messages": CONVERSATION},
        ),
        "native openai": (
            f"{gw}/openai/v1/chat/completions",
            bearer,
            {"model": "gpt-4o-mini", "messages": CONVERSATION},
        ),
        "unified openai (untranslated)": (
            f"{gw}/v1/chat/completions",
            bearer,
            {"model": "openai/gpt-4o-mini", "messages": CONVERSATION},
        ),
    }


async def measure(
    plan: dict[str, tuple[str, dict, dict]], calls: int, rounds: int
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in plan}
    async with aiohttp.ClientSession() as session:
        for name, (url, headers, body) in plan.items():  # warm-up: connections, snapshots
            for _ in range(20):
                async with session.post(url, headers=headers, json=body) as resp:
                    assert resp.status == 200, (name, resp.status, await resp.text())
                    await resp.read()
        for _ in range(rounds):
            for name, (url, headers, body) in plan.items():
                data = json.dumps(body).encode()
                for _ in range(calls // rounds):
                    start = time.perf_counter()
                    async with session.post(url, headers=headers, data=data) as resp:
                        if body.get("stream"):  # the time to the first body byte
                            await resp.content.readany()
                            samples[name].append((time.perf_counter() - start) * 1000)
                            await resp.read()
                            continue
                        await resp.read()
                    samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def translation_cpu(iterations: int) -> dict[str, float]:
    """Median µs of Translation.body + whole, per pair, for the bench's conversation."""
    import orjson

    from devtools.fake_formats import openai_answer
    from devtools.fake_formats_anthropic_gemini import anthropic_answer, gemini_answer
    from proxy.translate import Translation

    chat = {"model": "x", "max_tokens": 64, "messages": CONVERSATION}
    claude = {"model": "x", "max_tokens": 64, "system": "You are terse.", "messages": CLAUDE}
    pairs = {
        "chat→anthropic": ("chat", "anthropic", chat, anthropic_answer),
        "chat→gemini": ("chat", "gemini", chat, lambda b: gemini_answer(b, "m")),
        "messages→openai": ("messages", "openai", claude, openai_answer),
        "responses→anthropic": (
            "responses",
            "anthropic",
            {"model": "x", "input": CLAUDE},
            anthropic_answer,
        ),
    }
    out = {}
    for name, (api, provider, body, answer) in pairs.items():
        translation = Translation(api, provider, "m", f"{provider}/m")
        sent = orjson.loads(translation.body(body))
        reply = orjson.dumps(answer(sent))
        times = []
        for _ in range(iterations):
            translation.written = None  # a new call: its request is written anew
            start = time.perf_counter_ns()
            translation.body(body)
            translation.whole(200, reply)
            times.append((time.perf_counter_ns() - start) / 1000)
        out[name] = statistics.median(times)
    floor = []
    data = orjson.dumps(chat)
    for _ in range(iterations):
        start = time.perf_counter_ns()
        orjson.dumps(orjson.loads(data))
        floor.append((time.perf_counter_ns() - start) / 1000)
    out["floor: parse + serialise the body"] = statistics.median(floor)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000, help="calls per target")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp, fake_provider_thread() as fake:
        env, key = embedded_database(Path(tmp), fake)
        for name in ("ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "gateway_secret",
                    "served/main",
                    name,
                    "--base-url",
                    fake,
                ],
                cwd=ROOT,
                env=env,
                input="sk-served-0000",
                text=True,
                check=True,
                capture_output=True,
            )
        with served_gateway(env, workers=1) as gw:
            samples = asyncio.run(measure(targets(gw.url, fake, key), args.calls, args.rounds))
    p50 = {name: statistics.median(values) for name, values in samples.items()}
    floor = p50["direct (fake provider)"]
    print(f"\nsequential non-streaming calls, {args.calls} per target, p50 in ms:")
    for name, value in p50.items():
        print(f"  {name:32s} {value:7.3f} ms   ({value / floor:5.2f}x the floor)")
    added = p50["translated chat→anthropic"] - p50["native anthropic"]
    unified = p50["unified openai (untranslated)"] - p50["native openai"]
    print(f"\nadded by translation (translated - native anthropic): {added:+.3f} ms p50")
    first = p50["stream first byte: translated"] - p50["stream first byte: native anthropic"]
    print(f"added to a stream's first byte by translation: {first:+.3f} ms p50")
    print(f"added by the unified endpoint alone (openai/ - native openai): {unified:+.3f} ms p50")
    print("\ntranslation CPU per call (request + answer), median µs:")
    for name, value in translation_cpu(20000).items():
        print(f"  {name:36s} {value:7.1f} µs")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
