from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from orgs import services
from orgs.models import ApiKey, BuiltinRoleImmutable, Role
from orgs.permissions import has_permission


def test_it_grants_invoke_to_workspace_admin_key(owner):
    assert has_permission(owner.key, "gateway:invoke", workspace=owner.workspace)
    assert has_permission(owner.key, "workspaces:read", workspace=owner.workspace)


def test_it_denies_invoke_to_workspace_user(member):
    assert not has_permission(member.user, "gateway:invoke", workspace=member.workspace)
    assert has_permission(member.user, "runs:read", workspace=member.workspace)


def test_outsider_has_nothing_in_another_org(owner, outsider):
    assert not has_permission(outsider.user, "workspaces:read", workspace=owner.workspace)
    assert not has_permission(outsider.key, "gateway:invoke", workspace=owner.workspace)


def test_builtin_roles_are_immutable_through_orm(db):
    role = Role.objects.get(builtin=True, name="WORKSPACE_USER")
    role.permissions = [*role.permissions, "gateway:invoke"]
    with pytest.raises(BuiltinRoleImmutable):
        role.save()
    with pytest.raises(BuiltinRoleImmutable):
        Role.objects.filter(name="WORKSPACE_USER").update(permissions=["gateway:invoke"])
    with pytest.raises(BuiltinRoleImmutable):
        role.delete()
    with pytest.raises(BuiltinRoleImmutable):
        Role.objects.filter(builtin=True).delete()
    assert "gateway:invoke" not in Role.objects.get(name="WORKSPACE_USER").permissions


def test_custom_role_refused_on_basic_plan(owner):
    with pytest.raises(ValidationError, match="enterprise"):
        services.role_upsert(
            organization=owner.organization, name="Invokers", permissions=["gateway:invoke"]
        )


def test_revoked_and_unknown_keys_authenticate_the_same(owner):
    assert services.api_key_authenticate(owner.plaintext_key) == owner.key
    services.api_key_revoke(api_key=owner.key)
    assert services.api_key_authenticate(owner.plaintext_key) is None
    assert services.api_key_authenticate("gw_sk_" + "a" * 12 + "_" + "b" * 40) is None
    assert services.api_key_authenticate("nonsense") is None
    assert not ApiKey.objects.filter(digest__contains=owner.plaintext_key).exists()
