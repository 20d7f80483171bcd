"""Admin forms for the orgs app. Each form's clean() runs the same check function the service
runs (orgs.services.*_check), so a refused write shows up as a form error, not a 500; the
ModelAdmin then calls the service itself, which checks again and writes the audit entry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin import widgets
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from orgs import services
from orgs.models import ApiKey, Organization, OrganizationMember, Role, WorkspaceMember
from orgs.permissions_catalogue import WORKSPACE_PERMISSIONS


def _as_form_error(exc: ValidationError | PermissionDenied) -> ValidationError:
    if isinstance(exc, ValidationError):
        return exc
    return ValidationError(str(exc))


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        choices=[(p, p) for p in WORKSPACE_PERMISSIONS],
        widget=forms.CheckboxSelectMultiple,
        help_text="Workspace permissions this role grants.",
    )

    class Meta:
        model = Role
        fields = ("organization", "name", "description", "permissions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "organization" in self.fields:
            self.fields["organization"].required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        org = data.get("organization") or (self.instance.organization if self.instance.pk else None)
        name = data.get("name") or self.instance.name
        if org is not None and name and data.get("permissions"):
            try:
                services.role_check(
                    organization=org, name=name, permissions=list(data["permissions"])
                )
            except ValidationError as exc:
                raise _as_form_error(exc) from exc
        return data

    def validate_unique(self) -> None:
        # role_upsert updates a same-named role of the organization; a clash on add is
        # reported here so "add" never silently edits an existing role.
        if self.instance.pk is None:
            org = self.cleaned_data.get("organization")
            name = self.cleaned_data.get("name")
            if org is not None and Role.objects.filter(organization=org, name=name).exists():
                self.add_error("name", f"{org.slug} already has a role named {name}.")


class EmailMemberForm(forms.ModelForm):
    """Add form for memberships: the user is named by email and created when new."""

    email = forms.EmailField(help_text="Created as a user (no password) when not yet known.")
    invite = forms.BooleanField(
        label="Send an invitation e-mail",
        required=False,
        initial=True,
        help_text="A one-time link to choose a password (or, with single sign-on, where to "
        "sign in). Also available later as an action on the member list.",
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def existing_user(self) -> Any:
        email = self.cleaned_data.get("email")
        if not email:
            return None
        return get_user_model().objects.filter(email__iexact=email).first()


class WorkspaceMemberForm(EmailMemberForm):
    class Meta:
        model = WorkspaceMember
        fields = ("email", "workspace", "role", "invite")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "role" in self.fields:
            self.fields["role"].queryset = self.fields["role"].queryset.filter(
                scope=Role.Scope.WORKSPACE
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        ws = data.get("workspace") or (self.instance.workspace if self.instance.pk else None)
        role = data.get("role")
        if ws is not None and role is not None:
            try:
                services.member_check(workspace=ws, role=role)
            except ValidationError as exc:
                raise _as_form_error(exc) from exc
        user = self.existing_user() if self.instance.pk is None else None
        if (
            ws is not None
            and user is not None
            and WorkspaceMember.objects.filter(workspace=ws, user=user).exists()
        ):
            self.add_error("email", f"{user.get_username()} is already a member of {ws}.")
        return data


class OrganizationMemberForm(EmailMemberForm):
    class Meta:
        model = OrganizationMember
        fields = ("email", "organization", "role", "invite")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "role" in self.fields:
            self.fields["role"].queryset = Role.objects.filter(
                builtin=True, scope=Role.Scope.ORGANIZATION
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        org = data.get("organization")
        user = self.existing_user() if self.instance.pk is None else None
        if (
            org is not None
            and user is not None
            and OrganizationMember.objects.filter(organization=org, user=user).exists()
        ):
            self.add_error("email", f"{user.get_username()} is already a member of {org}.")
        return data


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ("slug", "name", "plan", "llm_gateway_enabled")


class ServiceKeyForm(forms.ModelForm):
    """New service key: the plaintext is generated by orgs.services.api_key_create."""

    assignee = forms.EmailField(
        required=False,
        help_text="Optional: email of a member this key is assigned to (per-user spend caps).",
    )
    expires_at = forms.SplitDateTimeField(
        required=False, widget=widgets.AdminSplitDateTime, help_text="Optional expiry (UTC)."
    )

    class Meta:
        model = ApiKey
        fields = ("name", "workspace", "role", "expires_at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workspace"].required = True
        self.fields["role"].required = True
        self.fields["role"].queryset = self.fields["role"].queryset.filter(
            scope=Role.Scope.WORKSPACE
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        ws, role = data.get("workspace"), data.get("role")
        user = None
        if data.get("assignee"):
            user = get_user_model().objects.filter(email__iexact=data["assignee"]).first()
            if user is None:
                self.add_error("assignee", "No user with this email.")
                return data
        data["assignee_user"] = user
        if ws is not None and role is not None:
            try:
                services.api_key_check(
                    organization=ws.organization,
                    workspace=ws,
                    kind=ApiKey.Kind.SERVICE,
                    role=role,
                    user=user,
                    expires_at=data.get("expires_at"),
                )
            except (ValidationError, PermissionDenied) as exc:
                raise _as_form_error(exc) from exc
        return data
