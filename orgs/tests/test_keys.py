"""Gateway keys through the services: identical failure for every bad key, no plaintext in the
database, last_used_at at most once a minute, pepper rotation, audit entries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from orgs import keys, services
from orgs.models import ApiKey, AuditLogEntry, Role

pytestmark = pytest.mark.django_db


def _raw(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return repr(cursor.fetchall())


def test_the_database_holds_no_plaintext_key(owner, member, outsider):
    everything = "".join(_raw(t) for t in ("orgs_apikey", "orgs_auditlogentry"))
    for persona in (owner, member, outsider):
        secret_part = persona.plaintext_key.rsplit("_", 1)[1]
        assert persona.plaintext_key not in everything
        assert secret_part not in everything
        assert persona.key.lookup_id in everything  # the public part is stored, by design


def test_unknown_expired_revoked_malformed_and_wrong_keys_fail_the_same(owner, outsider):
    expiring = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        role=Role.objects.get(name="WORKSPACE_ADMIN"),
        expires_at=timezone.now() + dt.timedelta(minutes=5),
    )
    services.api_key_revoke(api_key=outsider.key)
    wrong_secret = owner.plaintext_key[:-1] + ("a" if owner.plaintext_key[-1] != "a" else "b")
    presented = [
        "gw_sk_" + "a" * 12 + "_" + "b" * 40,  # unknown lookup id
        outsider.plaintext_key,  # revoked
        wrong_secret,  # right lookup id, wrong secret
        "gw_sk_short",  # malformed
        "Bearer " + owner.plaintext_key,  # malformed (not stripped by this layer)
        owner.plaintext_key.replace("gw_sk_", "gw_pt_"),  # wrong kind
        "",
    ]
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        presented.append(expiring.plaintext)  # expired
        results = [services.api_key_authenticate(p) for p in presented]
    assert results == [None] * len(presented)
    assert services.api_key_authenticate(owner.plaintext_key) == owner.key


def test_last_used_at_is_written_at_most_once_a_minute(owner):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        services.api_key_authenticate(owner.plaintext_key)
    assert ApiKey.objects.get(pk=owner.key.pk).last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
        services.api_key_authenticate(owner.plaintext_key)
    assert ApiKey.objects.get(pk=owner.key.pk).last_used_at == start
    later = start + dt.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        services.api_key_authenticate(owner.plaintext_key)
    assert ApiKey.objects.get(pk=owner.key.pk).last_used_at == later


def test_a_key_under_an_old_pepper_still_verifies_and_is_rehashed(owner, settings):
    old_digest = ApiKey.objects.get(pk=owner.key.pk).digest
    settings.GATEWAY_KEY_PEPPERS = ["2:a-brand-new-pepper", *settings.GATEWAY_KEY_PEPPERS]
    assert services.api_key_authenticate(owner.plaintext_key) == owner.key
    stored = ApiKey.objects.get(pk=owner.key.pk)
    assert stored.pepper_id == "2" and stored.digest != old_digest
    assert stored.digest == keys.key_digest(owner.plaintext_key, "2")
    settings.GATEWAY_KEY_PEPPERS = ["2:a-brand-new-pepper"]  # old pepper dropped
    assert services.api_key_authenticate(owner.plaintext_key) == owner.key


def test_a_key_whose_pepper_is_gone_fails_like_any_other(owner, settings):
    settings.GATEWAY_KEY_PEPPERS = ["9:only-this-pepper"]
    assert services.api_key_authenticate(owner.plaintext_key) is None


def test_audit_log_records_key_and_membership_changes_without_the_key(owner, member):
    services.api_key_revoke(api_key=member.key, actor=owner.user)
    services.member_set(
        workspace=owner.workspace,
        user=member.user,
        role=Role.objects.get(name="WORKSPACE_ADMIN"),
        actor=owner.user,
    )
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions.count("api_key.create") == 2 and "api_key.revoke" in actions
    assert actions[-1] == "member.update"
    last = AuditLogEntry.objects.order_by("-id").first()
    assert (last.before, last.after, last.actor) == (
        {"role": "WORKSPACE_USER"},
        {"role": "WORKSPACE_ADMIN"},
        owner.user,
    )
    dump = repr(list(AuditLogEntry.objects.values_list("before", "after", "object_repr")))
    assert owner.plaintext_key not in dump and member.plaintext_key not in dump


def test_gateway_flag_changes_only_by_a_superuser(owner, django_user_model):
    from django.core.exceptions import PermissionDenied

    org = owner.organization
    with pytest.raises(PermissionDenied, match="superuser"):
        services.organization_upsert(slug=org.slug, llm_gateway_enabled=False, actor=owner.user)
    root = django_user_model.objects.create_superuser("root", "root@x.test", "pw")
    services.organization_upsert(slug=org.slug, llm_gateway_enabled=False, actor=root)
    entry = AuditLogEntry.objects.filter(action="organization.update").latest("id")
    assert (
        entry.before["llm_gateway_enabled"] is True and entry.after["llm_gateway_enabled"] is False
    )
    assert entry.actor == root


def test_builtin_roles_cannot_be_changed_through_services(owner):
    from django.core.exceptions import ValidationError

    services.organization_upsert(slug="acme", plan="enterprise")
    owner.organization.refresh_from_db()
    with pytest.raises(ValidationError, match="built-in"):
        services.role_upsert(
            organization=owner.organization, name="WORKSPACE_VIEWER", permissions=["gateway:invoke"]
        )
    with pytest.raises(ValidationError, match="built-in"):
        services.role_delete(role=Role.objects.get(name="WORKSPACE_VIEWER"))
    assert Role.objects.get(name="WORKSPACE_VIEWER").permissions == [
        "projects:read",
        "runs:read",
        "workspaces:read",
    ]


def test_custom_role_in_use_is_not_deleted(owner):
    services.organization_upsert(slug="acme", plan="enterprise")
    owner.organization.refresh_from_db()
    role = services.role_upsert(
        organization=owner.organization,
        name="Invokers",
        permissions=["gateway:invoke", "workspaces:read"],
    )
    services.member_set(workspace=owner.workspace, user=owner.user, role=role)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="still held"):
        services.role_delete(role=role)
