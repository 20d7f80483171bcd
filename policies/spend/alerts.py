"""Budget alerts: claimed once per threshold, window and subject, delivered at least once.

Claim. The spend gate settles a call's cost and learns each counter's new spend; a threshold
of the policy (`SpendPolicy.alert_thresholds`, percent of the window's limit) that the spend
reached is claimed here by inserting a `SpendAlert` row. Its unique constraint (policy, member,
window, window start, threshold) lets exactly one insert win, whichever process, host or worker
tries, in SQLite and PostgreSQL alike; the losers get an IntegrityError and do nothing. The same
transaction creates one `SpendAlertDelivery` per channel, so a claimed alert always has its
deliveries recorded, even if the process dies right after the commit.

Delivery. Each delivery is leased with a conditional UPDATE (pending, or sending with an expired
lease → sending), attempted, and marked delivered, or put back to pending with the next attempt
after an exponential backoff (GATEWAY_ALERT_RETRY_SECONDS times 2^(attempt-1), at most 10 minutes),
or failed after GATEWAY_ALERT_MAX_ATTEMPTS. With a broker (REDIS_URL) a Celery task does each
attempt (policies.spend.tasks.deliver_spend_alert, retried with a countdown) and the beat task
`sweep_spend_alerts` re-sends what a lost message or a dead worker left behind; without one, a
daemon thread of the claiming process does the same, and every later claim sweeps. A receiver
may therefore see a delivery twice (at least once): `X-Gateway-Delivery` identifies it.

Channels. A webhook gets the alert as JSON, signed: `X-Gateway-Signature: sha256=<hex>` is the
HMAC-SHA256, under the channel's secret, of `<X-Gateway-Timestamp>.<body>`. Slack incoming
webhooks get `{"text": ...}`; e-mail goes through Django's mail backend. Webhook and Slack URLs
pass the outbound-host guard of provider base URLs when they are configured
(policies/spend/services.py), and redirects are never followed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from policies.spend.models import SpendAlert, SpendAlertChannel, SpendAlertDelivery, SpendPolicy
from policies.spend.windows import window_end

logger = logging.getLogger(__name__)

Status = SpendAlertDelivery.Status
LEASE = dt.timedelta(seconds=60)
MAX_BACKOFF = 600.0
Claim = tuple[int, str, str, dt.datetime, int, int, int]
# (policy id, member, window, window start, threshold, spent micros, limit micros)


def _usd(micros: int) -> Decimal:
    return (Decimal(micros) / 1_000_000).quantize(Decimal("0.000001"))


def alerts_claim(claims: list[Claim]) -> list[int]:
    """Insert one SpendAlert per claim that no process made before, with its deliveries, and
    send them. Returns the ids of the deliveries created here."""
    created: list[int] = []
    for policy_id, member, window, start, threshold, spent, limit in claims:
        try:
            with transaction.atomic():
                alert = SpendAlert.objects.create(
                    policy_id=policy_id,
                    member=member,
                    window=window,
                    window_start=start,
                    threshold=threshold,
                    spent_usd=_usd(spent),
                    limit_usd=_usd(limit),
                )
                deliveries = SpendAlertDelivery.objects.bulk_create(
                    SpendAlertDelivery(alert=alert, channel=ch, kind=ch.kind, target=ch.target)
                    for ch in SpendAlertChannel.objects.filter(policy_id=policy_id)
                )
        except IntegrityError:  # claimed by another process (or the policy is gone)
            continue
        logger.info(
            "budget alert: policy %s %s %s%% of its %s limit", policy_id, member, threshold, window
        )
        created += [d.pk for d in deliveries]
    if created:
        deliveries_dispatch(created)
    if not _broker():
        deliveries_sweep()  # pending ones a stopped process left behind
    return created


def _broker() -> bool:
    return not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True)


def deliveries_dispatch(ids: list[int]) -> None:
    """Send each delivery: a Celery task per delivery with a broker, else a daemon thread."""
    if not ids:
        return
    if _broker():
        from policies.spend.tasks import deliver_spend_alert

        for delivery_id in ids:
            deliver_spend_alert.delay(delivery_id)
        return
    threading.Thread(
        target=_deliver_in_process, args=(list(ids),), name="spend-alerts", daemon=True
    ).start()


def _deliver_in_process(ids: list[int]) -> None:
    """The embedded mode's worker: every attempt and backoff of these deliveries, in order of
    their next attempt. Bounded: each delivery ends delivered or failed."""
    from django.db import connection

    try:
        due = {delivery_id: 0.0 for delivery_id in ids}
        while due:
            delivery_id = min(due, key=due.__getitem__)
            wait = due.pop(delivery_id) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            retry_in = delivery_attempt(delivery_id)
            if retry_in is not None:
                due[delivery_id] = time.monotonic() + retry_in
    finally:
        connection.close()


def deliveries_sweep(*, now: dt.datetime | None = None) -> int:
    """Send again what is due and nobody is sending: pending past its next attempt (a lost task
    message, a stopped process) or sending past its lease (a worker that died mid-attempt)."""
    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.GATEWAY_ALERT_RETRY_SECONDS * 2 + 30)
    ids = list(
        SpendAlertDelivery.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now - grace)
            | Q(status=Status.SENDING, lease_until__lt=now)
        ).values_list("pk", flat=True)[:500]
    )
    deliveries_dispatch(ids)
    return len(ids)


def backoff_seconds(attempts: int) -> float:
    return min(settings.GATEWAY_ALERT_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def delivery_attempt(delivery_id: int) -> float | None:
    """One attempt at one delivery. Returns the seconds until it should be tried again, or None
    (delivered, given up, or leased by someone else)."""
    now = timezone.now()
    leased = (
        SpendAlertDelivery.objects.filter(pk=delivery_id)
        .filter(Q(status=Status.PENDING) | Q(status=Status.SENDING, lease_until__lt=now))
        .update(status=Status.SENDING, lease_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not leased:
        return None
    delivery = SpendAlertDelivery.objects.select_related(
        "alert__policy__organization", "channel"
    ).get(pk=delivery_id)
    try:
        response_status = _send(delivery)
        error = "" if response_status < 300 else f"HTTP {response_status}"
    except Exception as exc:  # any failure is recorded and retried
        response_status, error = None, f"{type(exc).__name__}: {exc}"[:500]
    done = timezone.now()
    if not error:
        SpendAlertDelivery.objects.filter(pk=delivery_id).update(
            status=Status.DELIVERED,
            delivered_at=done,
            response_status=response_status,
            last_error="",
            lease_until=None,
        )
        return None
    if delivery.attempts >= settings.GATEWAY_ALERT_MAX_ATTEMPTS:
        SpendAlertDelivery.objects.filter(pk=delivery_id).update(
            status=Status.FAILED, response_status=response_status, last_error=error
        )
        logger.warning("budget alert delivery %s gave up: %s", delivery_id, error)
        return None
    delay = backoff_seconds(delivery.attempts)
    SpendAlertDelivery.objects.filter(pk=delivery_id).update(
        status=Status.PENDING,
        next_attempt_at=done + dt.timedelta(seconds=delay),
        response_status=response_status,
        last_error=error,
        lease_until=None,
    )
    logger.info("budget alert delivery %s failed (%s), again in %.1f s", delivery_id, error, delay)
    return delay


def alert_payload(alert: SpendAlert, delivery_id: int) -> dict[str, Any]:
    policy: SpendPolicy = alert.policy
    return {
        "type": "spend.alert",
        "alert_id": alert.pk,
        "delivery_id": delivery_id,
        "organization": policy.organization.slug,
        "policy": {"id": policy.pk, "name": policy.name, "scope": policy.scope},
        "member": alert.member or None,
        "window": alert.window,
        "window_start": alert.window_start.isoformat(),
        "window_end": window_end(alert.window, alert.window_start).isoformat(),
        "threshold_percent": alert.threshold,
        "spent_usd": str(alert.spent_usd),
        "limit_usd": str(alert.limit_usd),
        "created_at": alert.created_at.isoformat(),
    }


def alert_text(alert: SpendAlert) -> str:
    policy = alert.policy
    subject = f" ({alert.member})" if alert.member else ""
    return (
        f"Budget alert: spend limit {policy.name!r}{subject} of {policy.organization.slug} reached "
        f"{alert.threshold}% of its {alert.window} limit: ${alert.spent_usd} of "
        f"${alert.limit_usd} (window from {alert.window_start:%Y-%m-%d %H:%M} UTC)."
    )


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """What X-Gateway-Signature carries: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer (a failed attempt), never a new destination


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    if not url.startswith(("http://", "https://")):
        raise ValueError("not an http(s) URL")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=settings.GATEWAY_ALERT_TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _send(delivery: SpendAlertDelivery) -> int:
    """Send one delivery; the HTTP status (200 for an e-mail handed to the mail backend)."""
    from secrets_vault import crypto

    alert = delivery.alert
    if delivery.kind == SpendAlertChannel.Kind.EMAIL:
        send_mail(
            f"[LLM Gateway] {alert.policy.name}: {alert.threshold}% of the {alert.window} limit",
            alert_text(alert),
            None,
            [delivery.target],
        )
        return 200
    if delivery.channel is None or not delivery.channel.secret_ciphertext:
        raise ValueError("the channel was removed")
    if delivery.kind == SpendAlertChannel.Kind.SLACK:  # the URL is the credential: encrypted
        body = json.dumps({"text": alert_text(alert)}).encode()
        url = crypto.decrypt(delivery.channel.secret_ciphertext)
        return _post(url, body, {"Content-Type": "application/json"})
    body = json.dumps(alert_payload(alert, delivery.pk), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    secret = crypto.decrypt(delivery.channel.secret_ciphertext)
    return _post(
        delivery.target,
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": "llm-gateway-alerts/1",
            "X-Gateway-Event": "spend.alert",
            "X-Gateway-Delivery": str(delivery.pk),
            "X-Gateway-Timestamp": timestamp,
            "X-Gateway-Signature": webhook_signature(secret, timestamp, body),
        },
    )
