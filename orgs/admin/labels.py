"""How the admin names a workspace, role, key or user in a picker: always with its organization
(and workspace), so two organizations' "gateway-user" roles or keys are never confused.

`labelled(field)` gives a ModelChoiceField these labels; the scoping base and the policy admins
call it on every foreign key to these models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model

from orgs.models import ApiKey, Role, Workspace

if TYPE_CHECKING:
    from django import forms


def workspace_label(ws: Workspace) -> str:
    return f"{ws.organization.slug}/{ws.slug} ({ws.name})" if ws.name != ws.slug else str(ws)


def role_label(role: Role) -> str:
    if role.builtin:
        return f"{role.name} (built-in)"
    return f"{role.name} ({role.organization.slug if role.organization_id else '?'})"


def key_label(key: ApiKey) -> str:
    where = str(key.workspace) if key.workspace_id else f"{key.organization.slug} (organization)"
    parts = [key.display_prefix]
    if key.name:
        parts.append(f"“{key.name}”")
    parts.append(f"in {where}")
    if key.kind == ApiKey.Kind.PERSONAL and key.user_id:
        parts.append(f"personal token of {key.user.get_username()}")
    elif key.role_id:
        parts.append(f"role {key.role.name}")
    if not key.is_active:
        parts.append("(revoked)" if key.revoked_at else "(expired)")
    return " ".join(parts)


def user_label(user: Any) -> str:
    """The e-mail (or user name) and the organizations the user belongs to."""
    name = user.email or user.get_username()
    orgs = sorted(m.organization.slug for m in user.org_memberships.all())
    return f"{name} ({', '.join(orgs)})" if orgs else name


LABELS = {
    Workspace: (workspace_label, ("organization",)),
    Role: (role_label, ("organization",)),
    ApiKey: (key_label, ("organization", "workspace__organization", "role", "user")),
}


def labelled(formfield: forms.ModelChoiceField | None) -> Any:
    """Give a foreign-key form field the labels above (and the joins they read)."""
    if formfield is None:
        return formfield
    model = formfield.queryset.model  # type: ignore[attr-defined]
    if model is get_user_model():
        formfield.queryset = formfield.queryset.prefetch_related(  # type: ignore[attr-defined]
            "org_memberships__organization"
        )
        formfield.label_from_instance = user_label  # type: ignore[method-assign]
        return formfield
    for cls, (label, joins) in LABELS.items():
        if issubclass(model, cls):
            formfield.queryset = formfield.queryset.select_related(*joins)  # type: ignore[attr-defined]
            formfield.label_from_instance = label  # type: ignore[method-assign]
    return formfield
