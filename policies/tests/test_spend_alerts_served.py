"""Budget alerts as users run the gateway: gunicorn with 2 workers on loopback (the embedded
mode: SQLite, delivered by the gateway processes themselves; PostgreSQL + Redis: delivered by a
Celery worker started here), the official OpenAI SDK crossing 50 %, 80 % and 100 % of a daily
cap from two clients at once, a local webhook receiver that fails the first attempt. Exactly
three signed posts arrive, one per threshold. (The next day's window alerting again is in
test_spend_alerts.py, with time-machine: a served process cannot be time-travelled.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from django.conf import settings
from django.db import connection

from devtools.served import embedded_database, fake_provider_thread, gateway_env, served_gateway
from devtools.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.e2e

# gpt-4o-mini: $0.15 / $0.60 per 1M tokens. Each call reports 1,000 + 1,000 tokens: $0.00075;
# its reservation (input bound: the body's bytes + 1,000, and max_tokens) is a little more, so
# the cap of ten calls admits nine, and the tenth is refused: the cap bites (100 %).
USAGE = {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}
CAP = "0.0075"
ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with fake_provider_thread() as url:
        yield url


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def embedded(fake_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str, str]]:
    env, key = embedded_database(tmp_path, fake_url)
    yield env, key, "served"


@pytest.fixture
def production(owner: Any, fake_url: str) -> Iterator[tuple[dict[str, str], str, str]]:
    """The test database and this session's Redis database; a Celery worker delivers."""
    import redis

    from secrets_vault.services import secret_set

    secret_set(workspace=owner.workspace, name="OPENAI_API_KEY", value="sk-0", base_url=fake_url)
    db = connection.settings_dict
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # no task left from another test
    env = gateway_env(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=os.environ["REDIS_URL"],
        GATEWAY_RECORD_STREAM=f"test:runs:{uuid.uuid4().hex}",
    )
    yield env, owner.plaintext_key, owner.organization.slug


@pytest.fixture(
    params=[
        "embedded",
        pytest.param(
            "production",
            marks=[
                pytest.mark.postgres,
                pytest.mark.redis,
                pytest.mark.django_db(transaction=True, serialized_rollback=True),
            ],
        ),
    ]
)
def mode(request: Any) -> tuple[str, dict[str, str], str, str]:
    env, key, org = request.getfixturevalue(request.param)
    return request.param, {**env, "GATEWAY_ALERT_RETRY_SECONDS": "0.5"}, key, org


def celery_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            *("-A", "gateway_site", "worker", "--pool=solo", "--loglevel=WARNING"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def spend_until_refused(base_url: str, key: str) -> tuple[int, int]:
    """Two clients calling at once until the cap refuses one; (admitted, refused)."""
    counts = {"ok": 0, "refused": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        sdk = openai.OpenAI(base_url=f"{base_url}/openai/v1", api_key=key, max_retries=0)
        for _ in range(12):  # bounded: the cap admits nine
            if stop.is_set():
                return
            try:
                sdk.chat.completions.create(
                    model="gpt-4o-mini",
                    max_tokens=1000,
                    messages=[{"role": "user", "content": "count me"}],
                    extra_headers={"x-fake-usage": json.dumps(USAGE)},
                )
                outcome = "ok"
            except openai.APIStatusError as exc:
                assert exc.status_code == 402, exc
                outcome = "refused"
                stop.set()
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return counts["ok"], counts["refused"]


def test_crossing_50_80_and_100_percent_sends_exactly_three_signed_posts(
    mode: tuple[str, dict[str, str], str, str],
) -> None:
    name, env, key, org = mode
    with webhook_receiver(fail_first=1) as hook:
        out = cli(
            env,
            "gateway_spend_limit",
            *("--scope", "organization", "--subject", org, "--name", "daily cap"),
            *("--window", "daily", "--usd", CAP, "--alert-at", "50,80,100"),
            *("--alert-webhook", hook.url),
        )
        secret = re.search(r"(whsec_\S+)", out).group(1)  # type: ignore[union-attr]
        worker = celery_worker(env) if name == "production" else None
        try:
            with served_gateway(env, workers=2) as gw:
                admitted, refused = spend_until_refused(gw.url, key)
                assert refused >= 1 and 6 <= admitted <= 9
                posts = hook.wait_for(3, timeout=60)
                time.sleep(2)  # nothing more arrives: no duplicate, no fourth alert
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(20)
    assert len(hook.posts) == 3 and len(hook.failed) == 1, hook.posts
    thresholds = []
    for post in posts:
        timestamp = post.headers["x-gateway-timestamp"]
        mac = hmac.new(secret.encode(), timestamp.encode() + b"." + post.body, hashlib.sha256)
        assert post.headers["x-gateway-signature"] == f"sha256={mac.hexdigest()}"
        body = json.loads(post.body)
        assert (body["policy"]["name"], body["window"], body["limit_usd"]) == (
            "daily cap",
            "daily",
            "0.007500",
        )
        thresholds.append(body["threshold_percent"])
    assert sorted(thresholds) == [50, 80, 100]
    assert len({p.headers["x-gateway-delivery"] for p in posts}) == 3
