"""Writes for model-access policies, validated and audit-logged (the admin, the CLI and the
REST API call these). Every committed change reaches the proxies through the change signal
(topic `modelaccess`), so it applies to the next call."""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orgs.audit import audit_record
from policies.modelaccess.models import (
    ALL_MODELS,
    ModelAccessPolicy,
    ModelAccessRule,
    Provider,
    split_patterns,
)
from policies.subjects import policy_name_set

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import ApiKey, Organization, Workspace

_PATTERN = re.compile(r"^[A-Za-z0-9._:/@*?\[\]!-]{1,200}$")


def patterns_check(provider: str, models: str | list[str]) -> str:
    """The normalised pattern list of one provider ("*" alone when every model is allowed)."""
    if provider not in Provider.values:
        raise ValidationError(
            f"unknown provider {provider!r} (one of {', '.join(Provider.values)})"
        )
    patterns = split_patterns(models if isinstance(models, str) else ",".join(models))
    if not patterns:
        raise ValidationError(f"give the {provider} models allowed: patterns, or * for all")
    for pattern in patterns:
        if not _PATTERN.match(pattern):
            raise ValidationError(
                f"{pattern!r} is not a model pattern (letters, digits, . _ - : / @ and * ? [ ])"
            )
        try:
            re.compile(fnmatch.translate(pattern))
        except re.error as exc:
            raise ValidationError(f"{pattern!r} is not a valid pattern: {exc}") from exc
    if ALL_MODELS in patterns:
        return ALL_MODELS
    return ", ".join(dict.fromkeys(patterns))


def model_access_state(policy: ModelAccessPolicy) -> dict[str, Any]:
    """The audit-log view of a policy."""
    return {
        "name": policy.name,
        "enabled": policy.enabled,
        "scope": policy.scope,
        "workspace": str(policy.workspace) if policy.workspace_id else None,
        "api_key": policy.api_key.display_prefix if policy.api_key_id else None,
        "user": policy.user.get_username() if policy.user_id else None,
        "models": {r.provider: r.models for r in ModelAccessRule.objects.filter(policy=policy)},
    }


def _apply(
    policy: ModelAccessPolicy,
    *,
    organization: Organization,
    name: str,
    scope: str,
    workspace: Workspace | None,
    api_key: ApiKey | None,
    user: AbstractBaseUser | None,
    enabled: bool,
) -> None:
    policy_name_set(policy, organization=organization, name=name, what="model access policy")
    if scope not in ModelAccessPolicy.Scope.values:
        raise ValidationError(
            f"unknown scope {scope!r} (one of {', '.join(ModelAccessPolicy.Scope.values)})"
        )
    policy.scope, policy.enabled = scope, enabled
    policy.workspace, policy.api_key, policy.user = workspace, api_key, user  # type: ignore[assignment]
    policy.updated_at = timezone.now()
    fields = {"workspace": "workspace", "api_key": "api_key", "user": "user"}
    needed = fields.get(scope)
    for field in fields:
        present = getattr(policy, f"{field}_id") is not None
        if field == needed and not present:
            raise ValidationError(f"a {scope} policy needs a {field.replace('_', ' ')}")
        if field != needed and present:
            raise ValidationError(f"a {scope} policy takes no {field.replace('_', ' ')}")
    org_id = organization.pk
    if policy.workspace_id and policy.workspace.organization_id != org_id:
        raise ValidationError("the workspace belongs to another organization")
    if policy.api_key_id and policy.api_key.organization_id != org_id:
        raise ValidationError("the API key belongs to another organization")
    if policy.user_id and not policy.user.org_memberships.filter(organization_id=org_id).exists():
        raise ValidationError("the user is not a member of the organization")
    policy.full_clean(exclude=["organization", "user", "api_key", "workspace"])


def _save(
    policy: ModelAccessPolicy,
    models: dict[str, str],
    *,
    before: dict[str, Any] | None,
    actor: AbstractBaseUser | None,
    replace: bool,
) -> None:
    policy.save()
    if replace:
        ModelAccessRule.objects.filter(policy=policy).exclude(provider__in=list(models)).delete()
    for provider, patterns in models.items():
        ModelAccessRule.objects.update_or_create(
            policy=policy, provider=provider, defaults={"models": patterns}
        )
    audit_record(
        action="model_access.create" if before is None else "model_access.update",
        obj=policy,
        actor=actor,
        organization=policy.organization,
        workspace=policy.workspace,
        before=before,
        after=model_access_state(policy),
    )


def models_check(models: dict[str, Any]) -> dict[str, str]:
    if not models:
        raise ValidationError("a model access policy allows the models of at least one provider")
    return {provider: patterns_check(provider, value) for provider, value in models.items()}


@transaction.atomic
def model_access_upsert(
    *,
    organization: Organization,
    name: str,
    scope: str,
    workspace: Workspace | None = None,
    api_key: ApiKey | None = None,
    user: AbstractBaseUser | None = None,
    models: dict[str, Any],
    enabled: bool = True,
    actor: AbstractBaseUser | None = None,
) -> ModelAccessPolicy:
    """Create the policy `name` or update it, setting the given providers' patterns (other
    providers of an existing policy are kept). Audit-logged."""
    checked = models_check(models)
    policy = (
        ModelAccessPolicy.objects.select_for_update()
        .filter(organization=organization, name=name.strip())
        .first()
    )
    return _write(
        policy,
        checked,
        actor=actor,
        replace=False,
        organization=organization,
        name=name,
        scope=scope,
        workspace=workspace,
        api_key=api_key,
        user=user,
        enabled=enabled,
    )


@transaction.atomic
def model_access_save(
    *,
    policy: ModelAccessPolicy | None,
    organization: Organization,
    name: str,
    scope: str,
    workspace: Workspace | None,
    api_key: ApiKey | None,
    user: AbstractBaseUser | None,
    models: dict[str, Any],
    enabled: bool,
    actor: AbstractBaseUser | None = None,
) -> ModelAccessPolicy:
    """Create a policy (`policy` None) or replace its whole definition, exactly `models`
    included (a provider not listed is no longer allowed). Audit-logged."""
    checked = models_check(models)
    if policy is not None:
        policy = ModelAccessPolicy.objects.select_for_update().get(pk=policy.pk)
    return _write(
        policy,
        checked,
        actor=actor,
        replace=True,
        organization=organization,
        name=name,
        scope=scope,
        workspace=workspace,
        api_key=api_key,
        user=user,
        enabled=enabled,
    )


def _write(
    policy: ModelAccessPolicy | None,
    models: dict[str, str],
    *,
    actor: AbstractBaseUser | None,
    replace: bool,
    organization: Organization,
    **fields: Any,
) -> ModelAccessPolicy:
    """The write of both services above, on a locked row (or a new policy)."""
    before = None if policy is None else model_access_state(policy)
    policy = policy or ModelAccessPolicy(organization=organization)
    _apply(policy, organization=organization, **fields)
    _save(policy, models, before=before, actor=actor, replace=replace)
    return policy


def model_access_check(
    *, policy: ModelAccessPolicy | None, organization: Organization, **fields: Any
) -> None:
    """Validate a definition as model_access_save would, writing nothing (admin forms)."""
    candidate = ModelAccessPolicy(pk=policy.pk if policy is not None else None)
    if policy is not None:
        candidate.organization_id = policy.organization_id
        candidate._state.adding = False
    _apply(candidate, organization=organization, **fields)


@transaction.atomic
def model_access_delete(
    *, policy: ModelAccessPolicy, actor: AbstractBaseUser | None = None
) -> None:
    before = model_access_state(policy)
    audit_record(
        action="model_access.delete",
        obj=policy,
        actor=actor,
        organization=policy.organization,
        workspace=policy.workspace,
        before=before,
        after=None,
    )
    policy.delete()
