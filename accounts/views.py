"""Sign-in pages and the member's own page. Thin adapters over accounts.services,
accounts.selectors and orgs.services (keys are created and revoked by orgs.services, which
audit-logs them).

- /accounts/invitation/<uid>/<token>/: the one-time set-password link of an invitation;
- /accounts/sso/ (POST an e-mail): the organization's single sign-on, found by e-mail domain;
- /admin/account/: "My account": workspaces, roles and what they allow, personal access
  tokens (create, shown once with agent files to download, revoke with confirmation).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.selectors import member_organizations, member_tokens, member_workspaces
from accounts.services import sso_provider_for_email
from orgs import services as org_services
from orgs.cli import one_line
from orgs.models import ApiKey, Workspace

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


class InvitationView(auth_views.PasswordResetConfirmView):
    """Django's password-reset confirmation, worded as a welcome; signs the member in."""

    template_name = "accounts/invitation.html"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("admin:index")
    title = "Choose your password"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, "Welcome: your password is set and you are signed in.")
        return response


@require_POST
def sso_by_email(request: HttpRequest) -> HttpResponse:
    """The sign-in page's "single sign-on" form: find the organization by e-mail domain."""
    email = (request.POST.get("email") or "").strip()
    provider = sso_provider_for_email(email) if "@" in email else None
    if provider is None:
        messages.error(
            request,
            "No organization signs in addresses like this one with single sign-on; sign in "
            "with your password, or ask your administrator for an invitation.",
        )
        return HttpResponseRedirect(reverse("admin:login"))
    url = reverse("accounts:sso-start", args=[provider.organization.slug])
    next_url = request.POST.get("next")  # checked by the start view (same host only)
    return HttpResponseRedirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)


class TokenForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.none())
    name = forms.CharField(max_length=200, required=False, help_text="e.g. laptop, CI")
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        min_value=1,
        max_value=3650,
        required=False,
        initial=90,
        help_text="Empty: never expires.",
    )

    def __init__(self, *args: Any, allowed: list[Workspace], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["workspace"]
        field.queryset = Workspace.objects.filter(pk__in=[w.pk for w in allowed]).select_related(  # type: ignore[attr-defined]
            "organization"
        )
        field.label_from_instance = lambda ws: f"{ws} ({ws.name})"  # type: ignore[attr-defined]
        if len(allowed) == 1:
            field.initial = allowed[0].pk


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def member_page(request: HttpRequest) -> HttpResponse:
    """My account: memberships, what each role allows, personal tokens and a form for a new one."""
    workspaces = member_workspaces(user=request.user)
    allowed = [w.workspace for w in workspaces if w.may_create_tokens]
    form = TokenForm(allowed=allowed)
    return _render_member_page(request, workspaces, form)


def _render_member_page(request: HttpRequest, workspaces: list[Any], form: TokenForm) -> Any:
    context = _context(
        request,
        "My account",
        organizations=member_organizations(user=request.user),
        workspaces=workspaces,
        tokens=member_tokens(user=request.user),
        form=form,
        may_create=bool(form.fields["workspace"].queryset.exists()),  # type: ignore[attr-defined]
        now=timezone.now(),
    )
    return render(request, "accounts/member_page.html", context)


@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Create a personal access token and show it once, with its agent files to download."""
    workspaces = member_workspaces(user=request.user)
    allowed = [w.workspace for w in workspaces if w.may_create_tokens]
    form = TokenForm(request.POST, allowed=allowed)
    if not form.is_valid():
        return _render_member_page(request, workspaces, form)
    ws = form.cleaned_data["workspace"]
    days = form.cleaned_data.get("expires_days")
    try:
        created = org_services.api_key_create(
            organization=ws.organization,
            workspace=ws,
            kind=ApiKey.Kind.PERSONAL,
            user=request.user,
            name=form.cleaned_data.get("name") or "",
            expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
            actor=request.user,
        )
    except (ValidationError, PermissionDenied) as exc:
        form.add_error(None, one_line(exc))
        return _render_member_page(request, workspaces, form)
    access = next(w for w in workspaces if w.workspace.pk == ws.pk)
    context = _context(
        request,
        "Personal access token created",
        key=created.api_key,
        plaintext=created.plaintext,
        gateway_problem=access.gateway_problem,
        back_url=reverse("accounts:me"),
        back_label="My account",
    )
    response = render(request, "admin/orgs/key_created.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _own_token(request: HttpRequest, token_id: int) -> ApiKey:
    token = (
        member_tokens(user=request.user)
        .select_related("organization", "workspace")
        .filter(pk=token_id)
        .first()
    )
    if token is None:
        raise Http404("No such token.")
    return token


def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """GET: confirm; POST: revoke one of the user's own tokens (another's is a 404)."""
    token = _own_token(request, token_id)
    if request.method == "POST":
        org_services.api_key_revoke(api_key=token, actor=request.user)
        messages.success(request, f"Revoked {token.display_prefix}: the gateway refuses it now.")
        return HttpResponseRedirect(reverse("accounts:me"))
    context = _context(
        request,
        f"Revoke {token.display_prefix}?",
        key=token,
        back_url=reverse("accounts:me"),
        back_label="My account",
    )
    return render(request, "admin/orgs/key_revoke.html", context)


def home(request: HttpRequest) -> HttpResponse:
    """The gateway's root page ("View site"): the base URLs clients use and where to sign in."""
    root = request.build_absolute_uri("/").rstrip("/")
    context = {
        **admin.site.each_context(request),
        "title": "LLM Gateway",
        "base_urls": [
            ("OpenAI SDKs, Codex", f"{root}/openai/v1"),
            ("Anthropic SDKs, Claude Code", f"{root}/anthropic"),
            ("Google GenAI SDKs, Gemini CLI", f"{root}/gemini"),
        ],
        "root": root,
    }
    return render(request, "accounts/home.html", context)
