"""The audit log's one writer: who changed what, when, before/after (never secret values)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orgs.models import AuditLogEntry, actor_label_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import Organization, Workspace


def audit_record(
    *,
    action: str,
    obj: Any,
    actor: AbstractBaseUser | None = None,
    actor_label: str | None = None,
    organization: Organization | None = None,
    workspace: Workspace | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Append one audit entry. Callers pass only non-secret fields in before/after."""
    return AuditLogEntry.objects.create(
        organization=organization,
        workspace=workspace,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label or actor_label_for(actor, "cli"),
        action=action,
        object_type=type(obj).__name__,
        object_id=str(getattr(obj, "pk", "") or ""),
        object_repr=str(obj)[:300],
        before=before,
        after=after,
    )
