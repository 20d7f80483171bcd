"""Budget alerts in the admin (thresholds on the spend limit form, alert channels with the
webhook secret shown once, the delivery log) and the overview's events; every page scoped (an
outsider gets 404). The REST API's side: api/tests/test_spend_alerts_api.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from policies.spend.models import SpendAlert, SpendAlertChannel, SpendAlertDelivery
from policies.spend.services import alert_channel_add
from policies.tests.spend_helpers import admin_form_data, policy

pytestmark = pytest.mark.django_db


def make_alert(cap, threshold=80):
    alert = SpendAlert.objects.create(
        policy=cap,
        window="daily",
        window_start=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        threshold=threshold,
        spent_usd="8",
        limit_usd="10",
    )
    SpendAlertDelivery.objects.create(
        alert=alert, kind="webhook", target="https://hooks.example.com/a", status="delivered"
    )
    return alert


def test_the_admin_sets_thresholds_adds_channels_once_and_shows_the_delivery_log(
    client, org_admin, outsider, settings
):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["hooks.example.com"]
    client.force_login(org_admin.user)
    data = admin_form_data(org_admin.organization, alert_at="100, 50,80")
    response = client.post(reverse("admin:policies_spendpolicy_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    cap = org_admin.organization.spendpolicy_set.get()
    assert cap.alert_thresholds == [50, 80, 100]
    bad = client.post(
        reverse("admin:policies_spendpolicy_change", args=[cap.pk]),
        admin_form_data(org_admin.organization, alert_at="fifty"),
    )
    assert "whole percentage" in bad.content.decode()

    add = reverse("admin:policies_spendalertchannel_add")
    refused = client.post(add, {"policy": cap.pk, "kind": "webhook", "target": "http://10.0.0.5/x"})
    assert refused.status_code == 200 and "only a superuser" in refused.content.decode()
    response = client.post(
        add, {"policy": cap.pk, "kind": "webhook", "target": "https://hooks.example.com/gw"}
    )
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("whsec_" in m for m in shown)
    channel = SpendAlertChannel.objects.get()
    assert "was added successfully" in client.get(response["Location"]).content.decode()
    page = client.get(reverse("admin:policies_spendalertchannel_change", args=[channel.pk]))
    assert page.status_code == 200 and "whsec_" not in page.content.decode()  # shown once

    alert = make_alert(cap)
    log = client.get(reverse("admin:policies_spendalertdelivery_changelist"))
    assert log.status_code == 200 and "80% ($8.000000 of $10.000000)" in log.content.decode()
    filtered = client.get(
        reverse("admin:policies_spendalertdelivery_changelist") + f"?alert__id__exact={alert.pk}"
    )
    assert filtered.status_code == 200
    overview = client.get(reverse("overview:organization", args=[org_admin.organization.pk]))
    (event,) = [e for e in overview.context["events"] if e.kind == "alert"]
    assert "80% of the daily limit" in event.summary and client.get(event.url).status_code == 200

    client.force_login(outsider.user)
    for url in (
        reverse("admin:policies_spendalertchannel_change", args=[channel.pk]),
        reverse("admin:policies_spendalertdelivery_change", args=[alert.deliveries.get().pk]),
    ):
        assert client.get(url).status_code == 404
    assert (
        "hooks.example.com"
        not in client.get(reverse("admin:policies_spendalertdelivery_changelist")).content.decode()
    )


def test_a_workspace_admin_sees_the_alerts_of_limits_on_their_workspace_only(
    client, owner, settings
):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["hooks.example.com"]
    mine = policy(owner, "main cap", "workspace", {"daily": "10"}, workspace=owner.workspace)
    org_wide = policy(owner, "org cap", "organization", {"daily": "100"})
    make_alert(mine, 50)
    make_alert(org_wide, 80)
    alert_channel_add(policy=mine, kind="email", target="ops@acme.test")
    client.force_login(owner.user)
    events = client.get(reverse("overview:organization", args=[owner.organization.pk])).context[
        "events"
    ]
    assert [e.summary.split(":")[0] for e in events if e.kind == "alert"] == ["main cap"]
