"""Sign-in of members with a password: access derived from roles (no staff flag), e-mail as
the login, invitations with a one-time set-password link (admin and CLI), password reset."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from orgs import services
from orgs.models import AuditLogEntry, Role

pytestmark = pytest.mark.django_db

LINK_RE = re.compile(r"http://\S+/accounts/invitation/\S+/")


def test_an_organization_admin_without_staff_flag_signs_in_with_email(client, owner):
    services.org_member_set(
        organization=owner.organization,
        user=owner.user,
        role=Role.objects.get(name="ORGANIZATION_ADMIN"),
    )
    owner.user.is_staff = False
    owner.user.save()
    response = client.post(
        reverse("admin:login"),
        {"username": "ALICE@acme.test", "password": owner.password, "next": "/admin/"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(reverse("admin:index")).content.decode()
    assert "Settings → Members &amp; roles" in page and "My account" in page


def test_a_user_without_any_membership_is_told_why(client, django_user_model):
    django_user_model.objects.create_user("lonely", "lonely@x.test", "pw-lonely-123")
    response = client.post(
        reverse("admin:login"), {"username": "lonely@x.test", "password": "pw-lonely-123"}
    )
    assert response.status_code == 200
    assert "no role in any organization" in response.content.decode()


def test_the_invitation_link_works_once_and_signs_the_member_in(client, owner):
    out = io.StringIO()
    call_command(
        "gateway_member",
        "new@acme.test",
        "--workspace",
        "acme/main",
        "--role",
        "WORKSPACE_USER",
        "--invite",
        stdout=out,
        stderr=io.StringIO(),
    )
    printed = LINK_RE.search(out.getvalue()).group(0)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@acme.test"]
    assert printed in mail.outbox[0].body  # the same link, e-mailed and printed
    entry = AuditLogEntry.objects.get(action="member.invite")
    assert printed.split("/")[-2] not in str(entry.after)  # the token is never logged

    assert printed.startswith("http://127.0.0.1:8000/")  # GATEWAY_PUBLIC_URL, for the CLI
    path = urlsplit(printed).path
    page = client.get(path, follow=True)  # Django moves the token out of the URL first
    assert "Choose a password to finish" in page.content.decode()
    set_url = page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "a-long-new-pass-42", "new_password2": "a-long-new-pass-42"}
    )
    assert done.status_code == 302 and done["Location"] == reverse("admin:index")
    assert client.get(reverse("accounts:me")).status_code == 200  # signed in
    client.logout()
    again = client.get(path, follow=True)
    assert "expired or has already been used" in again.content.decode()
    assert client.login(username="new@acme.test", password="a-long-new-pass-42")


def test_the_cli_can_print_an_invitation_without_email(owner):
    out = io.StringIO()
    call_command(
        "gateway_member",
        "quiet@acme.test",
        "--workspace",
        "acme/main",
        "--role",
        "WORKSPACE_USER",
        "--invite",
        "--no-email",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert LINK_RE.search(out.getvalue()) and not mail.outbox


def test_a_member_with_a_password_is_told_where_to_sign_in(owner):
    invitation = services.member_invite(organization=owner.organization, user=owner.user)
    assert invitation.link is None and invitation.sign_in_url.endswith("/admin/login/")
    assert "existing password" in mail.outbox[0].body


def test_the_admin_add_form_sends_the_invitation(client, owner):
    client.force_login(owner.user)
    response = client.post(
        reverse("admin:orgs_workspacemember_add"),
        {
            "email": "invitee@acme.test",
            "workspace": owner.workspace.pk,
            "role": Role.objects.get(name="WORKSPACE_USER").pk,
            "invite": "on",
        },
    )
    assert response.status_code == 302
    assert mail.outbox and LINK_RE.search(mail.outbox[0].body)
    assert mail.outbox[0].body.count("http://testserver/accounts/invitation/") == 1


def test_the_invite_action_resends_only_within_scope(client, owner, outsider):
    client.force_login(owner.user)
    theirs = outsider.user.workspace_memberships.get()
    response = client.post(
        reverse("admin:orgs_workspacemember_changelist"),
        {"action": "send_invitations", "_selected_action": [theirs.pk]},
    )
    assert response.status_code == 302 and not mail.outbox


def test_password_reset_is_offered_on_the_sign_in_page(client, owner):
    page = client.get(reverse("admin:login")).content.decode()
    assert reverse("admin_password_reset") in page and 'id="sso-form"' in page
    client.post(reverse("admin_password_reset"), {"email": owner.user.email})
    assert len(mail.outbox) == 1 and "/admin/reset/" in mail.outbox[0].body


def test_view_site_leads_to_the_gateways_home(client, owner):
    client.force_login(owner.user)
    index = client.get(reverse("admin:index")).content.decode()
    assert 'href="/"' in index
    home = client.get("/").content.decode()
    assert "/openai/v1" in home and "/anthropic" in home and "/gemini" in home


def test_a_user_gets_no_unusable_staff_flag_requirement_anywhere(owner):
    user = get_user_model().objects.get(pk=owner.user.pk)
    user.is_staff = False
    user.save()
    from orgs.permissions import may_sign_in

    assert may_sign_in(user)
    user.is_active = False
    assert not may_sign_in(user)
