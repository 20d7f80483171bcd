"""Admin scoping: a workspace admin of one organization gets 404 on every page of another's
objects, and sees only their own rows in every changelist."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgs import services
from orgs.models import AuditLogEntry, OrganizationMember, Role, WorkspaceMember
from secrets_vault import services as secret_services

pytestmark = pytest.mark.django_db


def _login(client, persona):
    assert client.login(username=persona.user.username, password=persona.password)
    return client


def _other_org_objects(owner):
    """One object of every admin model, all belonging to owner's organization (acme)."""
    secret = secret_services.secret_set(
        workspace=owner.workspace, name="OPENAI_API_KEY", value="sk-acme-secret-1234"
    )
    services.organization_upsert(slug=owner.organization.slug, plan="enterprise")
    owner.organization.refresh_from_db()
    role = services.role_upsert(
        organization=owner.organization,
        name="Acme invokers",
        permissions=["gateway:invoke", "workspaces:read"],
    )
    token = services.api_key_create(
        organization=owner.organization, workspace=owner.workspace, kind="personal", user=owner.user
    )
    return {
        "role": role,
        "personalaccesstoken": token.api_key,
        "organization": owner.organization,
        "workspace": owner.workspace,
        "workspacemember": WorkspaceMember.objects.get(user=owner.user, workspace=owner.workspace),
        "organizationmember": OrganizationMember.objects.get(user=owner.user),
        "servicekey": owner.key,
        "auditlogentry": AuditLogEntry.objects.filter(workspace=owner.workspace).first(),
        "providersecret": secret,
    }


def _app(model_name):
    return "secrets_vault" if model_name == "providersecret" else "orgs"


def test_outsider_gets_404_on_every_object_page_of_another_org(client, owner, outsider):
    objects = _other_org_objects(owner)
    _login(client, outsider)
    for model_name, obj in objects.items():
        app = _app(model_name)
        for view in ("change", "delete", "history"):
            url = reverse(f"admin:{app}_{model_name}_{view}", args=[obj.pk])
            assert client.get(url).status_code == 404, url
            assert client.post(url, {"post": "yes"}).status_code == 404, url


def test_outsider_changelists_show_only_their_own_rows(client, owner, outsider):
    objects = _other_org_objects(owner)
    secret_services.secret_set(
        workspace=outsider.workspace, name="OPENAI_API_KEY", value="sk-other-9876"
    )
    services.api_key_create(
        organization=outsider.organization,
        workspace=outsider.workspace,
        kind="personal",
        user=outsider.user,
    )
    # Even an organization admin of "other" sees nothing of acme.
    services.org_member_set(
        organization=outsider.organization,
        user=outsider.user,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    _login(client, outsider)
    for model_name in objects:
        url = reverse(f"admin:{_app(model_name)}_{model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, url
        rows = list(response.context["cl"].result_list)
        assert rows, url
        html = response.content.decode().lower()
        assert "acme" not in html and "alice" not in html, url  # filters and counts too
        for row in rows:
            text = str(row).lower()
            assert "acme" not in text and "alice" not in text, (url, text)
    listing = client.get(reverse("admin:orgs_servicekey_changelist")).content.decode()
    assert owner.key.display_prefix not in listing
    assert outsider.key.display_prefix in listing


def test_member_without_manage_sees_no_settings_pages(client, owner, member):
    _login(client, member)
    assert client.get(reverse("admin:index")).status_code == 200
    for name in ("orgs_servicekey", "secrets_vault_providersecret", "orgs_workspacemember"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 403
    url = reverse("admin:orgs_servicekey_change", args=[owner.key.pk])
    assert client.get(url).status_code == 404


def test_superuser_sees_every_organization(client, owner, outsider, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.test", "pw-root-123")
    assert client.login(username="root", password="pw-root-123")
    response = client.get(reverse("admin:orgs_organization_changelist"))
    slugs = {org.slug for org in response.context["cl"].result_list}
    assert slugs == {"acme", "other"}


def test_index_groups_pages_into_the_product_sections(client, owner):
    _login(client, owner)
    response = client.get(reverse("admin:index"))
    names = [app["name"] for app in response.context["app_list"]]
    # The overview of what they manage first, then every member's own page.
    assert names[:2] == ["Gateway overview", "My account"]
    names = names[2:]
    ours = [
        "Settings → Gateway",
        "Settings → Workspaces",
        "Settings → Members & roles",
        "Settings → Integrations",
        "API keys",
        "Audit log",
    ]
    top = [n for n in names[: len(ours) + 3] if not n.startswith("Settings → Gateway → ")]
    assert top[: len(ours)] == ours
    subsections = [i for i, n in enumerate(names) if n.startswith("Settings → Gateway → ")]
    assert subsections == list(range(1, 1 + len(subsections)))  # right after their parent


def test_outsider_cannot_add_into_another_orgs_workspace(client, owner, outsider):
    _login(client, outsider)
    response = client.post(
        reverse("admin:secrets_vault_providersecret_add"),
        {"workspace": owner.workspace.pk, "name": "OPENAI_API_KEY", "value": "sk-evil-0000"},
    )
    assert response.status_code == 200
    assert "workspace" in response.context["adminform"].form.errors
    assert not owner.workspace.provider_secrets.exists()
    services.api_key_revoke(api_key=outsider.key)


def test_anonymous_gets_the_login_page_and_nothing_else(client, owner):
    assert client.get(reverse("admin:login")).status_code == 200
    response = client.get(reverse("admin:orgs_servicekey_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_member_without_staff_flag_may_enter_the_admin(client, owner, django_user_model):
    owner.user.is_staff = False
    owner.user.save()
    _login(client, owner)
    assert client.get(reverse("admin:orgs_servicekey_changelist")).status_code == 200
    stranger = django_user_model.objects.create_user("nobody", "nobody@x.test", "pw-nobody-1")
    client.force_login(stranger)
    assert client.get(reverse("admin:index")).status_code == 302


def test_add_forms_offer_nothing_of_another_org(client, owner, outsider):
    _other_org_objects(owner)
    services.org_member_set(
        organization=outsider.organization,
        user=outsider.user,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    _login(client, outsider)
    for name in (
        "orgs_servicekey",
        "orgs_workspacemember",
        "orgs_organizationmember",
        "orgs_role",
        "orgs_workspace",
        "secrets_vault_providersecret",
    ):
        response = client.get(reverse(f"admin:{name}_add"))
        assert response.status_code == 200, name
        html = response.content.decode().lower()
        assert "acme" not in html and "alice" not in html, name


def test_every_tenant_owned_admin_is_scoped():
    """A ModelAdmin over rows that belong to an organization or a workspace must scope them
    (orgs.admin.scoping); a plain ModelAdmin would show every tenant's rows to its users."""
    from django.contrib import admin

    from orgs.admin.scoping import _ScopedAdminBase
    from orgs.models import Organization, Workspace

    def tenant_owned(model) -> bool:
        if model in (Organization, Workspace):
            return True
        return any(
            f.is_relation and f.many_to_one and f.related_model in (Organization, Workspace)
            for f in model._meta.get_fields()
        )

    unscoped = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if tenant_owned(model) and not isinstance(model_admin, _ScopedAdminBase)
    ]
    assert unscoped == []
