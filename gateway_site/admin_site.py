"""The admin site that is the product UI: sections read the way users know them.

A ModelAdmin joins a section by setting `admin_section` (e.g. "Settings → Gateway") and,
optionally, `admin_order` (an int) to order it inside the section. The index and the side bar
list the sections in SECTION_ORDER first (a sub-section such as "Settings → Gateway → LLM
Gateway" right after its parent), other sections after them by name, then the remaining apps
as Django groups them. The gateway overview (overview.views) comes first for those who manage
an organization or a workspace. Each app's own index page (/admin/<app>/) is unchanged.

Who may enter (orgs.permissions.may_sign_in): an active superuser or staff user, or a member of
any organization, signed in with a password (as e-mail or user name) or single sign-on. No
`is_staff` flag and no Django model permission is needed: what each page shows is decided by
orgs.admin.scoping from the member's roles. Every member finds "My account" (accounts.views)
first in the index; "View site" leads to the gateway's home page (base URLs for clients).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

if TYPE_CHECKING:
    from django.http import HttpRequest

SECTION_ORDER: tuple[str, ...] = (
    "Settings → Gateway",
    "Settings → Workspaces",
    "Settings → Members & roles",
    "Settings → Integrations",
    "API keys",
    "Audit log",
)


class SignInForm(AdminAuthenticationForm):
    """Django's admin sign-in, with access derived from roles instead of `is_staff`, and the
    e-mail address accepted in place of the user name (members are created by e-mail)."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct e-mail (or user name) and password.",
        "no_access": (
            "This account has no role in any organization yet: ask an administrator of your "
            "organization to add you."
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "E-mail or user name"

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        if "@" in username:
            user = get_user_model().objects.filter(email__iexact=username.strip()).first()
            if user is not None:
                self.cleaned_data["username"] = user.get_username()
        return super().clean()

    def confirm_login_allowed(self, user: Any) -> None:
        from orgs.permissions import may_sign_in

        if not user.is_active:
            raise ValidationError(self.error_messages["inactive"], code="inactive")
        if not may_sign_in(user):
            raise ValidationError(self.error_messages["no_access"], code="no_access")


class GatewayAdminSite(admin.AdminSite):
    site_header = "LLM Gateway"
    site_title = "LLM Gateway"
    index_title = "Administration"
    site_url = "/"
    login_form = SignInForm

    def has_permission(self, request: HttpRequest) -> bool:
        from orgs.permissions import may_sign_in

        cached = getattr(request, "_gw_may_sign_in", None)  # asked several times per page
        if cached is None:
            cached = request._gw_may_sign_in = may_sign_in(request.user)  # type: ignore[attr-defined]
        return cached

    def autocomplete_view(self, request: HttpRequest) -> Any:
        """An admin that scopes its own pickers (policies.admin_mixins) answers its
        autocompletes itself; the others get Django's, from the related model's admin."""
        from django.apps import apps

        try:
            model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        except (KeyError, LookupError, ValueError):
            model = None
        handler = getattr(self._registry.get(model), "scoped_autocomplete", None)
        if handler is not None:
            return handler(request)
        return super().autocomplete_view(request)

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        if app_label is not None:
            return app_list
        sections: dict[str, dict[str, Any]] = {}
        remaining = []
        for app in app_list:
            kept = []
            for model_dict in app["models"]:
                model_admin = self._registry.get(model_dict["model"])
                section = getattr(model_admin, "admin_section", None)
                if not section:
                    kept.append(model_dict)
                    continue
                entry = sections.setdefault(
                    section,
                    {
                        "name": section,
                        "app_label": app["app_label"],
                        "app_url": model_dict["admin_url"] or app["app_url"],
                        "has_module_perms": True,
                        "models": [],
                    },
                )
                model_dict["_order"] = getattr(model_admin, "admin_order", 100)
                entry["models"].append(model_dict)
            if kept:
                remaining.append({**app, "models": kept})
        for entry in sections.values():
            entry["models"].sort(key=lambda m: (m["_order"], m["name"]))

        def rank(name: str) -> tuple[int, str]:
            # A sub-section ("Settings → Gateway → LLM Gateway") follows its parent section.
            for index in range(len(SECTION_ORDER) - 1, -1, -1):
                parent = SECTION_ORDER[index]
                if name == parent or name.startswith(f"{parent} → "):
                    return (index, name)
            return (len(SECTION_ORDER), name)

        llm_gateway = sections.get("Settings → Gateway → LLM Gateway")
        if llm_gateway is not None:  # shown to those who manage policies
            llm_gateway["models"].append(
                self._page("Effective policies", reverse("policies:effective"))
            )
        ordered = [sections[name] for name in sorted(sections, key=rank)]
        overview = self._overview_section(request)
        return [*overview, self._my_account_section(), *ordered, *remaining]

    @staticmethod
    def _page(name: str, url: str) -> dict[str, Any]:
        """An index entry for a page that is not a model's changelist."""
        return {
            "name": name,
            "object_name": name.title().replace(" ", ""),
            "admin_url": url,
            "add_url": None,
            "view_only": True,
            "perms": {"view": True},
        }

    def _overview_section(self, request: HttpRequest) -> list[dict[str, Any]]:
        """The gateway overview of each organization the user manages (or with a workspace
        they manage), first on the index; nothing for a member who manages nothing."""
        from overview.selectors import overview_organizations

        organizations = overview_organizations(request.user)
        if not organizations:
            return []
        url = reverse("overview:index")
        models = [
            self._page(
                f"Overview: {org.name}"
                if len(organizations) > 1
                else "Checklist, usage and policy events",
                reverse("overview:organization", args=[org.pk]),
            )
            for org in organizations[:20]
        ]
        return [
            {
                "name": "Gateway overview",
                "app_label": "overview",
                "app_url": url,
                "has_module_perms": True,
                "models": models,
            }
        ]

    def _my_account_section(self) -> dict[str, Any]:
        url = reverse("accounts:me")
        return {
            "name": "My account",
            "app_label": "accounts",
            "app_url": url,
            "has_module_perms": True,
            "models": [self._page("Workspaces, roles and personal access tokens", url)],
        }
