"""Settings → Members & roles → Single sign-on: the operator sets the provider up, the
organization's admin edits group mappings (through the services, audit-logged), outsiders get
404, the client secret is never shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import SsoGroupMapping, SsoProvider
from orgs.models import AuditLogEntry, Role

pytestmark = pytest.mark.django_db


def _inline(prefix_total=0, initial=0, rows=()):
    data = {
        "mappings-TOTAL_FORMS": str(len(rows)),
        "mappings-INITIAL_FORMS": str(initial),
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"mappings-{i}-{key}"] = value
    return data


def test_the_operator_creates_a_provider_and_the_secret_is_never_shown(client, owner, idp):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "root@x.test", "pw")
    client.force_login(root)
    response = client.post(
        reverse("admin:accounts_ssoprovider_add"),
        {
            "organization": owner.organization.pk,
            "name": "Acme SSO",
            "enabled": "on",
            "issuer": idp.issuer,
            "client_id": "llm-gateway",
            "client_secret": "very-secret-value-123",
            "email_domains": "acme.test, ACME.example",
            "groups_claim": "groups",
            "scopes": "openid email profile groups",
            **_inline(),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider = SsoProvider.objects.get()
    assert provider.email_domains == ["acme.example", "acme.test"]
    assert "very-secret-value-123" not in provider.client_secret_ciphertext
    page = client.get(reverse("admin:accounts_ssoprovider_change", args=[provider.pk]))
    html = page.content.decode()
    assert "very-secret-value-123" not in html and "/accounts/sso/callback/" in html
    assert "OK: authorization" in html  # discovery checked against the provider
    entry = AuditLogEntry.objects.get(action="sso_provider.create")
    assert "very-secret-value-123" not in str(entry.after)


def test_an_org_admin_edits_mappings_but_not_the_issuer(client, org_admin, sso):
    client.force_login(org_admin.user)
    url = reverse("admin:accounts_ssoprovider_change", args=[sso.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="issuer"' not in page.content.decode()
    mappings = list(sso.mappings.order_by("id"))
    rows = [
        {
            "id": str(m.pk),
            "provider": str(sso.pk),
            "group": m.group,
            "org_role": str(m.org_role_id or ""),
            "workspace": str(m.workspace_id or ""),
            "workspace_role": str(m.workspace_role_id or ""),
        }
        for m in mappings
    ]
    rows.append(
        {
            "provider": str(sso.pk),
            "group": "readers",
            "org_role": "",
            "workspace": str(org_admin.workspace.pk),
            "workspace_role": str(Role.objects.get(name="WORKSPACE_VIEWER").pk),
        }
    )
    response = client.post(
        url,
        {
            "name": "Acme",
            "enabled": "on",
            "groups_claim": "groups",
            "scopes": "openid email",
            "issuer": "https://evil.test",
            **_inline(initial=len(mappings), rows=rows),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    sso.refresh_from_db()
    assert sso.issuer.startswith("http://127.0.0.1")  # superuser-only field ignored
    assert SsoGroupMapping.objects.filter(group="readers").exists()
    assert AuditLogEntry.objects.filter(action="sso_mapping.create", actor=org_admin.user).exists()


def test_a_mapping_to_another_organizations_workspace_is_refused(client, org_admin, sso, outsider):
    client.force_login(org_admin.user)
    url = reverse("admin:accounts_ssoprovider_change", args=[sso.pk])
    response = client.post(
        url,
        {
            "name": "Acme",
            "enabled": "on",
            "groups_claim": "groups",
            "scopes": "openid",
            **_inline(
                rows=[
                    {
                        "provider": str(sso.pk),
                        "group": "x",
                        "org_role": "",
                        "workspace": str(outsider.workspace.pk),
                        "workspace_role": str(Role.objects.get(name="WORKSPACE_ADMIN").pk),
                    }
                ]
            ),
        },
    )
    assert response.status_code == 200
    assert not SsoGroupMapping.objects.filter(group="x").exists()


def test_outsiders_get_404_and_no_list_entry(client, sso, outsider):
    client.force_login(outsider.user)
    assert (
        client.get(reverse("admin:accounts_ssoprovider_change", args=[sso.pk])).status_code == 404
    )


def test_org_admins_cannot_add_providers(client, org_admin):
    client.force_login(org_admin.user)
    assert client.get(reverse("admin:accounts_ssoprovider_add")).status_code == 403


def test_rotating_the_keys_re_encrypts_sso_client_secrets(settings, sso):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from accounts.services import sso_client_secret

    old = sso.client_secret_ciphertext
    settings.GATEWAY_SECRETS_KEYS = [Fernet.generate_key().decode(), *settings.GATEWAY_SECRETS_KEYS]
    out = StringIO()
    call_command("gateway_rotate_secrets", stdout=out)
    assert "1 single sign-on client secret(s)" in out.getvalue()
    sso.refresh_from_db()
    assert sso.client_secret_ciphertext != old
    settings.GATEWAY_SECRETS_KEYS = settings.GATEWAY_SECRETS_KEYS[:1]  # the old key dropped
    assert sso_client_secret(sso) == "idp-client-secret-0123456789"
