"""Scope Django admin pages to the organizations and workspaces a user may manage.

How another app uses it (e.g. policies/admin.py)::

    from orgs.admin.scoping import WorkspaceScopedAdmin

    @admin.register(SpendPolicy)
    class SpendPolicyAdmin(WorkspaceScopedAdmin):
        workspace_field = "workspace"              # ORM path from the model to its Workspace
        organization_field = "organization"        # optional: rows with no workspace belong to an org
        required_permission = "workspaces:manage"  # needed to view, add, change and delete
        admin_section = "Settings → Gateway"       # optional: index grouping (gateway_site.admin_site)

    class OrgWidePolicyAdmin(OrganizationScopedAdmin):
        organization_field = "organization"        # ORM path to the Organization
        required_permission = "organization:manage"

What it guarantees:
- the changelist shows only rows inside the user's scope (get_queryset), so filters, search,
  actions and counts never reveal another organization's objects;
- the change, delete and history pages of an object outside that scope answer 404, never 403
  (get_object raises Http404), so an outsider cannot even learn that an id exists;
- add/change/delete/view need `required_permission` (or `view_permission` for viewing) in the
  object's workspace or organization, resolved by orgs.permissions, the same function the
  proxy and the REST API use; Django's per-model permissions are not consulted;
- foreign-key choices (workspace, organization, role) offer only what the user may manage, each
  labelled with its organization (orgs.admin.labels);
- list filters on a foreign key offer only values used by rows in scope;
- fields listed in `superuser_only_fields` are read-only for everyone but a superuser.
A superuser sees and edits everything.

Why the admin's own hooks and not django-guardian (same reasoning as orgs/permissions.py):
grants come from role memberships (one organization role, one role per workspace) and apply
to everything inside a workspace. Guardian would copy each membership into per-object rows
that must be re-synced on every role change, and every child table would need its own rows or
a join through them. Resolving from the membership tables is one small query per request
(cached on the request here), and get_queryset/has_*_permission are all the admin needs.

Writes still go through services (audit-logged): subclasses override save_model/delete_model
to call orgs.services or secrets_vault.services, never model.save().
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.http import Http404

from orgs.admin.labels import labelled
from orgs.models import Organization, Role, Workspace
from orgs.permissions import visible_organization_ids, visible_workspace_ids

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpRequest


def _scope_cache(request: HttpRequest) -> dict[tuple[str, str], set[int] | None]:
    cache = getattr(request, "_gw_admin_scope", None)
    if cache is None:
        cache = {}
        request._gw_admin_scope = cache  # type: ignore[attr-defined]
    return cache


def workspace_ids_for(request: HttpRequest, permission: str) -> set[int] | None:
    """Workspace ids where the request's user holds `permission` (None: all). Cached per request."""
    cache = _scope_cache(request)
    key = ("ws", permission)
    if key not in cache:
        cache[key] = visible_workspace_ids(request.user, permission)
    return cache[key]


def organization_ids_for(request: HttpRequest, permission: str) -> set[int] | None:
    """Organization ids where the user holds the org-level `permission` (None: all)."""
    cache = _scope_cache(request)
    key = ("org", permission)
    if key not in cache:
        cache[key] = visible_organization_ids(request.user, permission)
    return cache[key]


def _follow(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


class _ScopedAdminBase(admin.ModelAdmin):
    """Shared machinery; use WorkspaceScopedAdmin or OrganizationScopedAdmin."""

    required_permission: str = "workspaces:manage"
    view_permission: str | None = None  # defaults to required_permission
    superuser_only_fields: tuple[str, ...] = ()
    admin_section: str | None = None

    # -- scope, implemented by the two subclasses -------------------------------------------
    def scope_filter(self, request: HttpRequest, permission: str) -> Q | None:
        """A Q selecting the rows in scope for `permission`; None means every row."""
        raise NotImplementedError

    def object_in_scope(self, request: HttpRequest, obj: Model, permission: str) -> bool:
        raise NotImplementedError

    def has_any_scope(self, request: HttpRequest, permission: str) -> bool:
        raise NotImplementedError

    # -- Django hooks --------------------------------------------------------------------------
    def _view_perm(self) -> str:
        return self.view_permission or self.required_permission

    def _is_user_ok(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.is_active)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if not self._is_user_ok(request):
            return qs.none()
        condition = self.scope_filter(request, self._view_perm())
        return qs if condition is None else qs.filter(condition)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        """Outside the user's scope (or missing) → 404, never a redirect or a 403."""
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def _allowed(self, request: HttpRequest, permission: str, obj: Model | None) -> bool:
        if not self._is_user_ok(request):
            return False
        if request.user.is_superuser:
            return True
        if obj is None:
            return self.has_any_scope(request, permission)
        return self.object_in_scope(request, obj, permission)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self._view_perm(), obj) or self.has_change_permission(
            request, obj
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.required_permission, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self.required_permission, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self.required_permission, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self._view_perm(), None)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """A plain foreign-key filter would list every related row of every organization (e.g.
        other organizations' custom role names); offer only those used by rows in scope."""
        result = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and "__" not in item:
                try:
                    field = self.model._meta.get_field(item)
                except FieldDoesNotExist:
                    field = None
                if field is not None and field.is_relation:
                    result.append((item, admin.RelatedOnlyFieldListFilter))
                    continue
            result.append(item)
        return result

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in self.superuser_only_fields if f not in fields]
        return fields

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Offer only the workspaces, organizations and roles the user may manage."""
        related = db_field.remote_field.model
        if related is Workspace:
            ids = workspace_ids_for(request, self.required_permission)
            qs = Workspace.objects.select_related("organization")
            kwargs["queryset"] = qs if ids is None else qs.filter(pk__in=ids)
        elif related is Organization:
            ids = self._manageable_org_ids(request)
            qs = Organization.objects.all()
            kwargs["queryset"] = qs if ids is None else qs.filter(pk__in=ids)
        elif related is Role:
            ids = self._manageable_org_ids(request)
            qs = Role.objects.all()
            kwargs["queryset"] = (
                qs if ids is None else qs.filter(Q(builtin=True) | Q(organization_id__in=ids))
            )
        return labelled(super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """No add/change/delete/view pop-up icons beside foreign keys: each section is managed
        on its own page, and a pop-up would bypass the page's context (e.g. the key form)."""
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        if isinstance(widget, RelatedFieldWidgetWrapper):
            widget.can_add_related = widget.can_change_related = False
            widget.can_delete_related = widget.can_view_related = False
        return formfield

    def _manageable_org_ids(self, request: HttpRequest) -> set[int] | None:
        """Organizations in which the user may manage something of this admin's kind."""
        if self.required_permission.startswith("organization:"):
            return organization_ids_for(request, self.required_permission)
        ws_ids = workspace_ids_for(request, self.required_permission)
        if ws_ids is None:
            return None
        return set(
            Workspace.objects.filter(pk__in=ws_ids).values_list("organization_id", flat=True)
        )


class WorkspaceScopedAdmin(_ScopedAdminBase):
    """Rows that belong to a workspace: visible where the user holds `required_permission`
    (or `view_permission`) in that workspace. `workspace_field` is the ORM path to the
    Workspace ("" when the model *is* Workspace). When `organization_field` is set, rows whose
    workspace is NULL are organization-level and need `organization_permission` there."""

    workspace_field: str = "workspace"
    organization_field: str | None = None
    organization_permission: str = "organization:manage"

    def _ws_path(self) -> str:
        return self.workspace_field or "pk"

    def scope_filter(self, request: HttpRequest, permission: str) -> Q | None:
        ws_ids = workspace_ids_for(request, permission)
        if ws_ids is None:
            return None
        condition = Q(**{f"{self._ws_path()}__in": ws_ids})
        if self.organization_field:
            org_ids = organization_ids_for(request, self.organization_permission) or set()
            condition |= Q(
                **{
                    f"{self.workspace_field}__isnull": True,
                    f"{self.organization_field}__in": org_ids,
                }
            )
        return condition

    def object_in_scope(self, request: HttpRequest, obj: Model, permission: str) -> bool:
        ws_ids = workspace_ids_for(request, permission)
        if ws_ids is None:
            return True
        ws = obj if not self.workspace_field else _follow(obj, self.workspace_field)
        if ws is not None:
            return ws.pk in ws_ids
        if self.organization_field:
            org = _follow(obj, self.organization_field)
            org_ids = organization_ids_for(request, self.organization_permission) or set()
            return org is not None and org.pk in org_ids
        return False

    def has_any_scope(self, request: HttpRequest, permission: str) -> bool:
        ws_ids = workspace_ids_for(request, permission)
        return ws_ids is None or bool(ws_ids)


class OrganizationScopedAdmin(_ScopedAdminBase):
    """Rows that belong to an organization: visible where the user holds the org-level
    `required_permission` (default organization:manage). `organization_field` is the ORM path
    to the Organization ("" when the model *is* Organization)."""

    organization_field: str = "organization"
    required_permission: str = "organization:manage"

    def _org_path(self) -> str:
        return self.organization_field or "pk"

    def scope_filter(self, request: HttpRequest, permission: str) -> Q | None:
        org_ids = organization_ids_for(request, permission)
        if org_ids is None:
            return None
        return Q(**{f"{self._org_path()}__in": org_ids})

    def object_in_scope(self, request: HttpRequest, obj: Model, permission: str) -> bool:
        org_ids = organization_ids_for(request, permission)
        if org_ids is None:
            return True
        org = obj if not self.organization_field else _follow(obj, self.organization_field)
        return org is not None and org.pk in org_ids

    def has_any_scope(self, request: HttpRequest, permission: str) -> bool:
        org_ids = organization_ids_for(request, permission)
        return org_ids is None or bool(org_ids)
