"""The admin runs list over 1,000,000 runs in one workspace (target: < 300 ms).

Generates the runs once with one INSERT ... SELECT generate_series in the dedicated database
gw_h3_bench (spread evenly over the last 30 days and stored oldest first, as ingestion
appends them in time order; 6 models, 5 keys, 5 users, 2 % blocked, 3 % errors),
then times the admin changelist (the page a workspace admin opens, totals included) with
Django's test client logged in as a workspace admin (not a superuser: the scoped queries run).

    python bench/bench_tracing_runs_list.py [--runs 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from _tracing_setup import setup_django

MODELS = [
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gemini-2.5-pro",
]

GENERATE = """
INSERT INTO tracing_run (
    run_id, trace_id, project_id, organization_id, workspace_id, key_id, key_prefix, user_id,
    name, started_at, ended_at, first_token_at, status, http_status, error, dialect, provider,
    model, method, path, stream, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, cost_usd,
    price_missing, usage_estimated, usage_note, policy_outcome, policy_results,
    redaction_counts, user_agent, request_metadata)
SELECT g.run_id, replace(g.run_id::text, '-', ''), %(project)s, %(org)s, %(ws)s,
    (%(keys)s::bigint[])[1 + g.i %% 5], 'gw_sk_bench', (%(users)s::bigint[])[1 + g.i %% 5],
    'ChatCompletions', g.t, g.t + interval '800 ms', g.t + interval '200 ms',
    g.status, CASE g.status WHEN 'success' THEN 200 WHEN 'blocked' THEN 402 ELSE 502 END,
    '', 'openai', 'openai', (%(models)s::text[])[1 + (g.i / 7) %% 6], 'POST',
    '/openai/v1/chat/completions', false, 100 + g.i %% 900, 10 + g.i %% 300, 0, 0, 0, 0, 0,
    ((100 + g.i %% 900) * 0.00000015 + (10 + g.i %% 300) * 0.0000006)::numeric(20, 10), false,
    false, '',
    CASE g.status WHEN 'blocked' THEN 'blocked' ELSE 'none' END,
    '{}'::jsonb, '{}'::jsonb, 'OpenAI/Python 2.0', '{}'::jsonb
FROM (
    SELECT i, gen_random_uuid() AS run_id,
        now() - ((%(count)s - i)::float8 / %(count)s) * interval '30 days' AS t,
        CASE WHEN i %% 50 = 0 THEN 'blocked' WHEN i %% 33 = 0 THEN 'error' ELSE 'success' END
            AS status
    FROM generate_series(1, %(count)s) AS i
) AS g
"""


def ensure_runs(count: int) -> tuple[object, dict[str, int]]:
    from _tracing_setup import bench_persona
    from django.db import connection

    from orgs import services
    from orgs.models import ApiKey, Role
    from tracing.models import Run, TracingProject

    org, ws, user, _key = bench_persona()
    role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    users = [user]
    for n in range(1, 5):
        other = services.user_get_or_create(email=f"bench{n}@acme-bench.test")
        services.member_set(workspace=ws, user=other, role=role)
        users.append(other)
    while ApiKey.objects.filter(workspace=ws).count() < 5:
        services.api_key_create(organization=org, workspace=ws, role=role, user=user, name="bench")
    keys = list(ApiKey.objects.filter(workspace=ws).values_list("pk", flat=True)[:5])
    project, _ = TracingProject.objects.get_or_create(workspace=ws, name="gateway")
    have = Run.objects.filter(workspace=ws).count()
    if have < count:
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                GENERATE,
                {
                    "project": project.pk,
                    "org": org.pk,
                    "ws": ws.pk,
                    "keys": keys,
                    "users": [u.pk for u in users],
                    "models": MODELS,
                    "count": count - have,
                },
            )
            cursor.execute("ANALYZE tracing_run")
        print(f"runs list: generated {count - have} runs in {time.perf_counter() - t0:.1f} s")
    return user, {"project": project.pk, "key": keys[1], "user": users[2].pk}


def _cpu_seconds(pid: int) -> float:
    """user + system CPU time of a local process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(client: object, url: str, repeat: int, backend: int) -> tuple[float, float, float, float]:
    """(median wall ms, max wall ms, mean CPU ms of this process (Python and templates), mean
    CPU ms of its PostgreSQL backend (the queries; parallel workers not counted))."""
    response = client.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200, (url, response.status_code)
    samples = []
    cpu0, db0 = time.process_time(), _cpu_seconds(backend)
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url)  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    cpu = (time.process_time() - cpu0) * 1000 / repeat
    db = (_cpu_seconds(backend) - db0) * 1000 / repeat
    return statistics.median(samples), max(samples), cpu, db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django(redis=False)
    from django.test import Client

    user, ids = ensure_runs(args.runs)
    client = Client()
    client.force_login(user)
    base = "/admin/tracing/run/"
    pages = {
        "default (last 24 hours)": base,
        "any time (totals over every run)": f"{base}?period=all",
        "last 7 days": f"{base}?period=7d",
        "one project": f"{base}?project={ids['project']}",
        "status = blocked": f"{base}?status__exact=blocked",
        "policy outcome = blocked": f"{base}?policy_outcome__exact=blocked",
        "model = gpt-5": f"{base}?model=gpt-5",
        "one key": f"{base}?key={ids['key']}",
        "one user": f"{base}?user={ids['user']}",
        "one key, last 24 hours": f"{base}?key={ids['key']}&period=24h",
        "page 50": f"{base}?p=50",
    }
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    from tracing.models import Run

    stored = Run.objects.count()  # the bench database holds one workspace's runs only
    print(
        f"runs list: {stored:,} runs in the database, all in one workspace; load average {load} on "
        f"{os.cpu_count()} cores (figures are noisy)"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    print(
        f"runs list: {'page':<40} median / max wall of {args.repeat} | CPU: python + database"
        " = uncontended estimate (ms)"
    )
    for label, url in pages.items():
        median, worst, cpu, db = timed(client, url, args.repeat, backend)
        flag = "" if median < 300 else "  (wall over the 300 ms target)"
        print(
            f"runs list: {label:<40} {median:6.1f} / {worst:6.1f} | "
            f"{cpu:5.1f} + {db:5.1f} = {cpu + db:5.1f}{flag}"
        )


if __name__ == "__main__":
    main()
