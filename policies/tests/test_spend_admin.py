"""Settings → Gateway → LLM Gateway → Spend limits, through the admin pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from orgs.models import AuditLogEntry, Role
from orgs.services import member_set
from policies.spend.models import SpendPolicy
from policies.tests.spend_helpers import admin_form_data as form_data
from policies.tests.spend_helpers import policy

pytestmark = pytest.mark.django_db
URL = "/admin/policies/spendpolicy/"


def client_for(persona: Any) -> Client:
    c = Client()
    c.force_login(persona.user)
    return c


def test_an_org_admin_creates_a_limit_and_it_is_audited(org_admin: Any) -> None:
    response = client_for(org_admin).post(URL + "add/", form_data(org_admin.organization))
    assert response.status_code == 302, response.content.decode()[:2000]
    p = SpendPolicy.objects.get(name="team cap")
    assert [(w.window, str(w.limit_usd)) for w in p.windows.all()] == [("monthly", "250.000000")]
    entry = AuditLogEntry.objects.get(action="spend_policy.create")
    assert entry.after["windows"] == {"monthly": "250.000000"}


def test_the_list_shows_current_spend_per_window(org_admin: Any) -> None:
    policy(org_admin, "team cap", "organization", {"daily": "12", "monthly": "300"})
    page = client_for(org_admin).get(URL).content.decode()
    assert "team cap" in page
    assert "daily: $0.0000 of $12.00" in page
    assert "monthly: $0.0000 of $300.00" in page


def test_an_invalid_combination_is_refused_with_a_clear_error(org_admin: Any) -> None:
    response = client_for(org_admin).post(
        URL + "add/", form_data(org_admin.organization, scope="workspace")
    )
    assert response.status_code == 200
    assert "a workspace spend limit needs a workspace" in response.content.decode()
    assert not SpendPolicy.objects.exists()


def test_the_page_says_when_the_gateway_is_off(org_admin: Any) -> None:
    from orgs.services import organization_upsert

    organization_upsert(slug="acme", llm_gateway_enabled=False)
    page = client_for(org_admin).get(URL, follow=True).content.decode()
    assert "The LLM Gateway is not enabled for acme" in page


def test_a_workspace_admin_without_organization_manage_cannot_manage_limits(owner: Any) -> None:
    p = policy(owner, "team cap", "organization", {"daily": "12"})
    c = client_for(owner)  # WORKSPACE_ADMIN, ORGANIZATION_USER
    assert c.get(URL).status_code == 403
    assert c.get(f"{URL}{p.pk}/change/").status_code in (403, 404)


def test_an_outsider_gets_404_on_another_orgs_limit(org_admin: Any, outsider: Any) -> None:
    p = policy(org_admin, "team cap", "organization", {"daily": "12"})
    member_set(
        workspace=outsider.workspace,
        user=outsider.user,
        role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"),
        org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    c = client_for(outsider)
    assert c.get(f"{URL}{p.pk}/change/").status_code == 404
    assert c.post(f"{URL}{p.pk}/delete/", {"post": "yes"}).status_code == 404
    listing = c.get(URL).content.decode()
    assert "team cap" not in listing
    add_page = c.get(URL + "add/").content.decode()
    assert org_admin.key.display_prefix not in add_page  # no other org's key in the choices
    assert "alice@acme.test" not in add_page
    assert SpendPolicy.objects.filter(pk=p.pk).exists()


def test_deleting_a_limit_is_audited(org_admin: Any) -> None:
    p = policy(org_admin, "team cap", "organization", {"daily": "12"})
    response = client_for(org_admin).post(f"{URL}{p.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not SpendPolicy.objects.exists()
    assert AuditLogEntry.objects.get(action="spend_policy.delete").before["name"] == "team cap"


def test_a_per_member_policy_lists_its_members_and_their_spend(org_admin: Any) -> None:
    import datetime as dt
    import uuid
    from decimal import Decimal

    from django.utils import timezone

    from policies.spend.models import SpendPolicyMember
    from policies.spend.services import spend_totals_aggregate
    from tracing.models import UsageRecord

    p = policy(org_admin, "each key", "api_key", {"daily": "5"}, kind="default_per_member")
    SpendPolicyMember.objects.create(policy=p, member=f"key:{org_admin.key.pk}")
    UsageRecord.objects.create(
        run_id=uuid.uuid4(),
        started_at=timezone.now() - dt.timedelta(seconds=1),
        organization_id=org_admin.organization.pk,
        workspace_id=org_admin.workspace.pk,
        key_id=org_admin.key.pk,
        status="success",
        cost_usd=Decimal("1.25"),
    )
    spend_totals_aggregate()
    page = client_for(org_admin).get(f"{URL}{p.pk}/change/").content.decode()
    assert f"key:{org_admin.key.pk}: daily $1.2500" in page
