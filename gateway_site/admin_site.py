"""The admin site that is the product UI: sections read the way users know them (SPEC §1).

A ModelAdmin joins a section by setting `admin_section` (e.g. "Settings → Gateway") and,
optionally, `admin_order` (an int) to order it inside the section. The index and the side bar
list the sections in SECTION_ORDER first (a sub-section such as "Settings → Gateway → LLM
Gateway" right after its parent), other sections after them by name, then the remaining apps
as Django groups them. Each app's own index page (/admin/<app>/) is unchanged.

Who may enter: an active user who is staff or a member of any organization. Members need no
Django model permissions: what they see is decided by orgs.admin.scoping from their roles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin

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


class GatewayAdminSite(admin.AdminSite):
    site_header = "LLM Gateway"
    site_title = "LLM Gateway"
    index_title = "Administration"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        if user.is_staff:
            return True
        from orgs.models import OrganizationMember

        return OrganizationMember.objects.filter(user=user).exists()

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

        ordered = [sections[name] for name in sorted(sections, key=rank)]
        return ordered + remaining
