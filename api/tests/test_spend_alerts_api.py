"""Budget alerts through the management API: thresholds on spend limits, alert channels (the
webhook secret in the creation answer only, the outbound-host guard), the delivery log; an
outsider gets 404."""

from __future__ import annotations

import pytest

from api.tests.conftest import detail
from policies.spend.models import SpendAlertChannel, SpendPolicy
from policies.tests.test_spend_alerts_surfaces import make_alert

pytestmark = pytest.mark.django_db


def test_the_api_configures_alerts_with_the_secret_once_and_lists_deliveries(
    org_admin, outsider, as_org_admin, as_outsider, api, settings
):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["hooks.example.com"]
    base = f"/api/v1/organizations/{org_admin.organization.pk}/"
    created = as_org_admin.post(
        base + "spend-limits/",
        {
            "name": "cap",
            "scope": "organization",
            "windows": [{"window": "daily", "limit_usd": "10"}],
            "alert_thresholds": [100, 50],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["alert_thresholds"] == [50, 100]
    cap_id = created.json()["id"]
    channels = f"{base}spend-limits/{cap_id}/alert-channels/"
    response = as_org_admin.post(
        channels, {"kind": "webhook", "target": "https://hooks.example.com/gw"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["secret"].startswith("whsec_")
    listed = as_org_admin.get(channels).json()
    assert listed == [{k: v for k, v in response.json().items() if k != "secret"}]
    refused = as_org_admin.post(
        channels, {"kind": "slack", "target": "http://127.0.0.1:9/hook"}, format="json"
    )
    assert refused.status_code == 400 and "only a superuser" in detail(refused)
    patched = as_org_admin.patch(
        f"{base}spend-limits/{cap_id}/", {"alert_thresholds": [80]}, format="json"
    )
    assert patched.json()["alert_thresholds"] == [80]
    assert patched.json()["alert_channels"][0]["target"] == "https://hooks.example.com/gw"

    make_alert(SpendPolicy.objects.get(pk=cap_id))
    (row,) = as_org_admin.get(base + "spend-alert-deliveries/").json()
    assert (row["threshold_percent"], row["status"]) == (80, "delivered")

    assert as_outsider.get(channels).status_code == 404
    assert as_outsider.get(base + "spend-alert-deliveries/").status_code == 404
    channel_id = listed[0]["id"]
    assert as_outsider.delete(f"{channels}{channel_id}/").status_code == 404
    assert as_org_admin.delete(f"{channels}{channel_id}/").status_code == 204
    assert not SpendAlertChannel.objects.exists()
