"""The admin mixin every policy kind shares for its subject (organization, workspace, API key,
user: policies.subjects.PolicySubject).

    class SpendPolicyAdmin(PolicySubjectAdminMixin, OrganizationScopedAdmin):
        required_permission = "organization:manage"
        subject_fields_by_kind = {...}  # optional: when the kind changes which fields apply

What it guarantees on a policy's form:
- scope pickers show only the fields of the chosen scope (policies/static/policies/
  subject_fields.js), and the form ignores the others (`subject_data`), so a value left in a
  hidden field never makes a policy mean something else;
- the workspace, key and user choices hold only what the editor may manage: subjects of the
  organizations where they hold `required_permission`, users who are members there;
- every workspace, key, role and user is labelled with its organization (and workspace, role,
  owner) by orgs.admin.labels;
- key and user pickers are autocompletes (select2 from Django's admin), served by
  `scoped_autocomplete` with the same scoping, so a long list is searched, never dumped.

The kinds whose policy has parts edited inline (spend windows, rate-limit windows, model-access
rules) and is written by its service in one go also share `PolicyDefinitionForm` (the form's
definition, checked by the service), `PolicyPartInline` (the parts follow the policy's
permissions) and `ServiceWrittenPolicyAdminMixin` (nothing saved or deleted but through the
service, audit-logged).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import JsonResponse

from orgs.admin.labels import key_label, labelled, user_label, workspace_label
from orgs.admin.scoping import organization_ids_for
from orgs.models import ApiKey, Workspace

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

SUBJECT_FIELDS = ("organization", "scope", "workspace", "api_key", "user", "customer")
# Which subject field each scope uses; "*" when the policy kind does not change it.
DEFAULT_SUBJECT_FIELDS: dict[str, dict[str, list[str]]] = {
    "*": {
        "organization": [],
        "workspace": ["workspace"],
        "api_key": ["api_key"],
        "user": ["user"],
    }
}
# Counting policies (spend and rate limits): a total names one subject, a customer with its
# workspace; a default per member names a group (every workspace of the organization, every
# key / user / customer of the organization or of one workspace).
COUNTING_SUBJECT_FIELDS: dict[str, dict[str, list[str]]] = {
    "*": {**DEFAULT_SUBJECT_FIELDS["*"], "customer": ["workspace", "customer"]},
    "total": {**DEFAULT_SUBJECT_FIELDS["*"], "customer": ["workspace", "customer"]},
    "default_per_member": {
        "organization": [],
        "workspace": [],
        "api_key": ["workspace"],
        "user": ["workspace"],
        "customer": ["workspace"],
    },
}
AUTOCOMPLETE_FIELDS = ("api_key", "user")
AUTOCOMPLETE_PAGE = 20


def subject_data(
    data: dict[str, Any],
    fields_by_kind: dict[str, dict[str, list[str]]],
    kind: str | None = None,
) -> dict[str, Any]:
    """The subject fields of `data` with those the scope does not use set to None."""
    by_scope = fields_by_kind.get(kind or "*") or fields_by_kind["*"]
    used = set(by_scope.get(str(data.get("scope")), []))
    return {
        name: (data.get(name) if name in ("organization", "scope") or name in used else None)
        for name in SUBJECT_FIELDS
    }


class PolicyDefinitionForm(forms.ModelForm):
    """A policy's admin form whose definition the kind's service validates and writes (the
    model's own validation never runs on the instance): `definition()` is the policy as the
    service takes it, with the subject fields its scope (and kind) does not use dropped, and
    `clean()` runs the service's check on it so that errors show on the form.

    A subclass sets `check` (the service's check, e.g. staticmethod(rate_limit_check)),
    `subject_fields_by_kind`, `has_kind` for counting kinds (kind and customer) and
    `extra_fields`, its other fields of the definition."""

    check: ClassVar[Callable[..., None]]
    subject_fields_by_kind: ClassVar[dict[str, dict[str, list[str]]]] = DEFAULT_SUBJECT_FIELDS
    has_kind: ClassVar[bool] = False
    extra_fields: ClassVar[tuple[str, ...]] = ()

    def definition(self) -> dict[str, Any]:
        data = self.cleaned_data
        organization = data.get("organization") or self.instance.organization
        kind = data.get("kind") if self.has_kind else None
        subject = subject_data(
            {**data, "organization": organization}, self.subject_fields_by_kind, kind
        )
        out: dict[str, Any] = {
            "organization": organization,
            "name": data.get("name") or "",
            "scope": subject["scope"],
            "workspace": subject["workspace"],
            "api_key": subject["api_key"],
            "user": subject["user"],
        }
        if self.has_kind:
            out.update(kind=kind, customer=subject["customer"] or "")
        out.update({name: data.get(name) for name in self.extra_fields})
        out["enabled"] = bool(data.get("enabled"))
        return out

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.check(policy=self.instance if self.instance.pk else None, **self.definition())
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data

    def _post_clean(self) -> None:
        # No model validation on the instance: the service validates the whole definition
        # (the form's own fields and the inline parts) and writes it.
        pass


class PolicyPartInline(admin.TabularInline):
    """The parts of a policy edited on its page (windows, limits, provider rules): the
    policy's admin decides who may edit the policy, and its parts follow."""

    extra = 1
    min_num = 1

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


class ServiceWrittenPolicyAdminMixin:
    """A policy admin that writes nothing itself: the policy and its parts are written
    together by the kind's service in `save_related` (the admin's own), and deleting goes
    through `delete_service` (audit-logged, every gateway process reloads)."""

    delete_service: ClassVar[Callable[..., None]]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing yet: the policy and its parts are written together in save_related."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_service(policy=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_service(policy=obj, actor=request.user)


class PolicySubjectAdminMixin:
    """Put before the scoped admin base (OrganizationScopedAdmin) in the class bases."""

    subject_fields_by_kind: dict[str, dict[str, list[str]]] = DEFAULT_SUBJECT_FIELDS
    kind_field: str | None = None  # the form field whose value picks the map (e.g. "kind")
    required_permission: str = "organization:manage"

    class Media:
        js = ("policies/subject_fields.js",)

    # -- choices -------------------------------------------------------------------------------
    def subject_choices(self, request: HttpRequest, field_name: str) -> QuerySet[Any]:
        """What the editor may pick for `field_name` (workspace, api_key or user)."""
        org_ids = organization_ids_for(request, self.required_permission)
        if field_name == "workspace":
            qs: QuerySet[Any] = Workspace.objects.select_related("organization")
            return qs if org_ids is None else qs.filter(organization_id__in=org_ids)
        if field_name == "api_key":
            qs = ApiKey.objects.select_related(
                "organization", "workspace__organization", "role", "user"
            ).filter(revoked_at__isnull=True)
            return qs if org_ids is None else qs.filter(organization_id__in=org_ids)
        if field_name == "user":
            qs = get_user_model().objects.filter(is_active=True)
            if org_ids is not None:
                qs = qs.filter(org_memberships__organization_id__in=org_ids).distinct()
            return qs.prefetch_related("org_memberships__organization").order_by("email")
        raise PermissionDenied(f"no subject field {field_name!r}")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in ("workspace", "api_key", "user"):
            kwargs["queryset"] = self.subject_choices(request, db_field.name)
            if db_field.name in AUTOCOMPLETE_FIELDS:
                kwargs["widget"] = AutocompleteSelect(db_field, self.admin_site)  # type: ignore[attr-defined]
            formfield = db_field.formfield(**kwargs)
            return labelled(formfield)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        if db_field.name == "scope" and formfield is not None:
            formfield.widget.attrs["data-subject-fields"] = json.dumps(self.subject_fields_by_kind)
            if self.kind_field:
                formfield.widget.attrs["data-kind-field"] = self.kind_field
        return formfield

    # -- autocomplete --------------------------------------------------------------------------
    def scoped_autocomplete(self, request: HttpRequest) -> JsonResponse:
        """Django's autocomplete answer for a subject picker of this admin, from the same
        scoped choices (gateway_site.admin_site routes the admin's autocomplete URL here)."""
        field_name = request.GET.get("field_name", "")
        if field_name not in AUTOCOMPLETE_FIELDS:
            raise PermissionDenied
        if not (
            self.has_add_permission(request)  # type: ignore[attr-defined]
            or self.has_change_permission(request)  # type: ignore[attr-defined]
        ):
            raise PermissionDenied
        term = request.GET.get("term", "").strip()
        qs = self.subject_choices(request, field_name)
        if term:
            if field_name == "api_key":
                ident = term.removeprefix("gw_sk_").removeprefix("gw_pt_")
                qs = qs.filter(
                    Q(lookup_id__istartswith=ident)
                    | Q(name__icontains=term)
                    | Q(workspace__slug__icontains=term)
                    | Q(user__email__icontains=term)
                )
            else:
                qs = qs.filter(Q(email__icontains=term) | Q(username__icontains=term))
        try:
            page = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            page = 1
        start = (page - 1) * AUTOCOMPLETE_PAGE
        rows = list(qs[start : start + AUTOCOMPLETE_PAGE + 1])
        label = key_label if field_name == "api_key" else user_label
        return JsonResponse(
            {
                "results": [
                    {"id": str(obj.pk), "text": label(obj)} for obj in rows[:AUTOCOMPLETE_PAGE]
                ],
                "pagination": {"more": len(rows) > AUTOCOMPLETE_PAGE},
            }
        )


__all__ = ["PolicySubjectAdminMixin", "subject_data", "workspace_label"]
