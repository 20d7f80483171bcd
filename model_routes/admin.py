"""Settings → Gateway → Model routes: a route's chain, fallback conditions and aliases. Every
write is a model_routes.services call (validated, audit-logged)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from model_routes import services
from model_routes.models import FALLBACK_ON, ModelRoute
from orgs.admin.scoping import WorkspaceScopedAdmin

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest


def _chain_text(chain: list[dict[str, Any]]) -> str:
    lines = []
    for candidate in chain or []:
        params = candidate.get("params") or {}
        suffix = " " + orjson.dumps(params).decode() if params else ""
        lines.append(f"{candidate.get('model')}{suffix}")
    return "\n".join(lines)


class ModelRouteForm(forms.ModelForm):
    chain_text = forms.CharField(
        label="Chain",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One PROVIDER/MODEL per line, in the order they are tried (openai/…, "
        "anthropic/…, gemini/…), optionally followed by request fields as JSON: "
        'anthropic/claude-haiku-4-5 {"temperature": 0.2}',
    )
    fallback = forms.MultipleChoiceField(
        label="Fall back on",
        choices=[(v, v) for v in FALLBACK_ON],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="When the next candidate is called: never once an answer has started.",
    )
    aliases_text = forms.CharField(
        label="Aliases",
        required=False,
        help_text="Model names (patterns with * and ?) that mean this route, comma-separated, "
        "e.g. claude-haiku-*: coding agents keep their model names.",
    )

    class Meta:
        model = ModelRoute
        fields = ("workspace", "name")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        route = self.instance
        if route.pk is not None:
            self.fields["chain_text"].initial = _chain_text(route.chain)
            self.fields["aliases_text"].initial = ", ".join(route.aliases or [])
        self.fields["fallback"].initial = list(route.fallback_on or FALLBACK_ON)

    def clean_chain_text(self) -> list[dict[str, Any]]:
        chain = []
        for number, line in enumerate(self.cleaned_data["chain_text"].splitlines(), 1):
            model, _, params = line.strip().partition(" ")
            if not model:
                continue
            try:
                parsed = orjson.loads(params) if params.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise ValidationError(f"line {number}: the request fields are not JSON") from exc
            chain.append({"model": model, "params": parsed})
        return services.chain_check(chain)

    def clean_aliases_text(self) -> list[str]:
        return [
            a.strip() for a in self.cleaned_data.get("aliases_text", "").split(",") if a.strip()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        route = self.instance
        workspace = data.get("workspace") or (route.workspace if route.pk else None)
        name = data.get("name") or route.name
        if workspace is not None and name and "aliases_text" in data:
            try:
                data["aliases_text"] = services.aliases_check(
                    workspace=workspace, name=name, aliases=data["aliases_text"]
                )
            except ValidationError as exc:
                self.add_error("aliases_text", exc)
        return data


@admin.register(ModelRoute)
class ModelRouteAdmin(WorkspaceScopedAdmin):
    admin_section = "Settings → Gateway"
    required_permission = "workspaces:manage"
    form = ModelRouteForm
    list_display = ("__str__", "workspace", "chain_column", "fallback_display", "aliases_display")
    search_fields = ("name", "workspace__slug", "workspace__organization__slug")
    list_select_related = ("workspace__organization",)
    fields = ("workspace", "name", "chain_text", "fallback", "aliases_text")

    @admin.display(description="chain")
    def chain_column(self, obj: ModelRoute) -> str:
        return obj.chain_display

    @admin.display(description="falls back on")
    def fallback_display(self, obj: ModelRoute) -> str:
        return ", ".join(obj.fallback_on)

    @admin.display(description="aliases")
    def aliases_display(self, obj: ModelRoute) -> str:
        return ", ".join(obj.aliases) or "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("workspace", "name") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.route_set(
            workspace=obj.workspace,
            name=obj.name,
            chain=form.cleaned_data["chain_text"],
            fallback_on=form.cleaned_data["fallback"],
            aliases=form.cleaned_data["aliases_text"],
            actor=request.user,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.route_delete(route=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for route in queryset.select_related("workspace__organization"):
            services.route_delete(route=route, actor=request.user)
