"""Invitations: how a member added by an administrator (admin, CLI or API) first signs in.

A new member has no password. The invitation is a one-time set-password link: Django's
password-reset token for that user (HMAC of the user's id, password hash, last login and a
timestamp, keyed by SECRET_KEY). It is stored nowhere, expires after PASSWORD_RESET_TIMEOUT
(GATEWAY_INVITATION_HOURS), and stops working as soon as it has been used, because setting the
password changes the hash it was made from. Where the organization signs in with single sign-on
or the user already has a password, the invitation says where to sign in instead.

The link is a credential: it goes to the member's e-mail (Django's mail backend) and, for the
CLI, to the operator's terminal, never to the audit log or the application log.

Re-exported by orgs.services, which is where callers import it from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from orgs.audit import audit_record
from orgs.models import OrganizationMember

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import Organization

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invitation:
    """What was sent: `link` is the one-time set-password link (None when the member signs in
    with single sign-on or already has a password) and `sign_in_url` where to sign in."""

    email: str
    link: str | None
    sign_in_url: str
    emailed: bool


def public_url(path: str, base_url: str | None = None) -> str:
    """An absolute URL of the gateway: `base_url` (the admin request's own origin) or
    GATEWAY_PUBLIC_URL for the CLI and tasks."""
    root = (base_url or settings.GATEWAY_PUBLIC_URL).rstrip("/")
    return f"{root}{path}"


def invitation_link(*, user: AbstractBaseUser, base_url: str | None = None) -> str:
    """The one-time set-password link of `user` (valid until used or expired)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return public_url(reverse("accounts:invitation", args=[uid, token]), base_url)


def _sso_enabled(organization: Organization) -> bool:
    provider = getattr(organization, "sso_provider", None)
    return bool(provider is not None and provider.enabled)


def member_invite(
    *,
    organization: Organization,
    user: AbstractBaseUser,
    actor: AbstractBaseUser | None = None,
    base_url: str | None = None,
    send_email: bool = True,
) -> Invitation:
    """Invite a member of `organization` to sign in; audit-logged (without the link).

    Users without a password get a one-time set-password link unless the organization signs in
    with single sign-on; users with a password (or SSO) are told where to sign in. The e-mail
    goes through Django's mail backend; `send_email=False` only builds the invitation (the CLI
    prints it)."""
    if not OrganizationMember.objects.filter(organization=organization, user=user).exists():
        raise ValidationError(f"{user.get_username()} is not a member of {organization.slug}")
    email = getattr(user, "email", "") or ""
    if send_email and "@" not in email:
        raise ValidationError(f"{user.get_username()} has no e-mail address to send it to")
    sign_in_url = public_url(reverse("admin:login"), base_url)
    sso = _sso_enabled(organization)
    link = None
    if not sso and not user.has_usable_password():
        link = invitation_link(user=user, base_url=base_url)
    emailed = False
    if send_email:
        send_mail(
            subject=f"You are invited to the LLM Gateway of {organization.name}",
            message=_invitation_text(
                organization=organization, link=link, sign_in_url=sign_in_url, sso=sso
            ),
            from_email=None,
            recipient_list=[email],
        )
        emailed = True
    audit_record(
        action="member.invite",
        obj=user,
        actor=actor,
        organization=organization,
        after={
            "user": user.get_username(),
            "emailed": emailed,
            "sign_in": "sso" if sso else ("set-password link" if link else "password"),
        },
    )
    logger.info("invited %s to %s", user.get_username(), organization.slug)
    return Invitation(email=email, link=link, sign_in_url=sign_in_url, emailed=emailed)


def _invitation_text(
    *, organization: Organization, link: str | None, sign_in_url: str, sso: bool
) -> str:
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    if link:
        how = (
            f"Choose your password here (the link works once, for {hours} hours):\n\n  {link}\n\n"
            f"Afterwards sign in at {sign_in_url}"
        )
    elif sso:
        how = f"Sign in with your company account (single sign-on) at {sign_in_url}"
    else:
        how = f"Sign in with your existing password at {sign_in_url}"
    return (
        f"You have been given access to the LLM Gateway of {organization.name}.\n\n{how}\n\n"
        "There you find your workspaces and roles, create your personal access tokens and "
        "download ready-made configuration for Claude Code, Codex and Gemini CLI.\n"
    )
