"""Single sign-on per organization, end to end against the fake OpenID Connect provider on
loopback: the browser's redirects are followed by hand (Django test client for the gateway,
`requests` for the provider), the gateway's own calls to the provider are real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts import services
from orgs.models import AuditLogEntry, OrganizationMember, Role, WorkspaceMember
from orgs.services import member_set, user_get_or_create

pytestmark = pytest.mark.django_db


def sign_in(client, idp, email, *, via_email=True):
    """Drive the code flow like a browser; returns the gateway's final response."""
    if via_email:
        start = client.post(reverse("accounts:sso"), {"email": email})
        assert start.status_code == 302, start
        start_url = start["Location"]
    else:
        start_url = reverse("accounts:sso-start", args=["acme"])
    to_idp = client.get(start_url)
    assert to_idp.status_code == 302 and to_idp["Location"].startswith(idp.issuer)
    params = parse_qs(urlsplit(to_idp["Location"]).query)
    assert params["code_challenge_method"] == ["S256"] and params["nonce"][0]
    back = requests.post(
        f"{idp.issuer}/authorize",
        data={**{k: v[0] for k, v in params.items()}, "email": email},
        allow_redirects=False,
        timeout=10,
    )
    assert back.status_code == 302
    callback = urlsplit(back.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def test_a_new_user_in_a_mapped_group_is_created_with_the_mapped_roles(client, idp, sso):
    idp.add_user("ann@acme.test", groups=["gateway-admins", "platform"])
    response = sign_in(client, idp, "ann@acme.test")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    user = get_user_model().objects.get(email="ann@acme.test")
    assert not user.has_usable_password()
    org_member = OrganizationMember.objects.get(user=user)
    assert org_member.role.name == "ORGANIZATION_ADMIN"
    assert WorkspaceMember.objects.get(user=user).role.name == "WORKSPACE_ADMIN"
    assert client.get(reverse("admin:index")).status_code == 200
    entry = AuditLogEntry.objects.filter(action="org_member.create").latest("id")
    assert entry.actor_label == "single sign-on of acme"


def test_an_existing_user_is_matched_by_email_whatever_its_case(client, idp, sso, owner):
    existing = user_get_or_create(email="Bea@Acme.test")
    idp.add_user("bea@acme.test", groups=["platform"])
    sign_in(client, idp, "bea@acme.test")
    assert get_user_model().objects.filter(email__iexact="bea@acme.test").count() == 1
    assert WorkspaceMember.objects.get(user=existing).role.name == "WORKSPACE_ADMIN"


def test_groups_decide_the_roles_at_each_sign_in(client, idp, sso, owner):
    idp.add_user("cy@acme.test", groups=["platform"])
    sign_in(client, idp, "cy@acme.test")
    user = get_user_model().objects.get(email="cy@acme.test")
    assert WorkspaceMember.objects.filter(user=user).exists()
    client.logout()
    # Left "platform" in the identity provider: the workspace role managed by it goes away,
    # and with no mapped group left, the sign-in is refused.
    idp.users["cy@acme.test"]["groups"] = ["something-else"]
    response = sign_in(client, idp, "cy@acme.test")
    assert response["Location"] == reverse("admin:login")
    assert not WorkspaceMember.objects.filter(user=user).exists()
    page = client.get(reverse("admin:login"))
    assert "None of your groups gives access to" in page.content.decode()


def test_hand_made_roles_in_unmapped_workspaces_are_left_alone(client, idp, sso, owner):
    from orgs import services as org_services

    other_ws = org_services.workspace_upsert(organization=owner.organization, slug="side")
    user = user_get_or_create(email="dee@acme.test")
    member_set(
        workspace=other_ws, user=user, role=Role.objects.get(builtin=True, name="WORKSPACE_USER")
    )
    idp.add_user("dee@acme.test", groups=["platform"])
    sign_in(client, idp, "dee@acme.test", via_email=False)
    assert WorkspaceMember.objects.get(user=user, workspace=other_ws).role.name == "WORKSPACE_USER"


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("unverified", "has not verified"),
        ("other_domain", "does not sign in addresses at"),
        ("other_key", "could not be verified"),
        ("other_audience", "could not be verified"),
    ],
)
def test_unverifiable_or_foreign_identities_are_refused(client, idp, sso, tamper, message):
    email = "eve@evil.test" if tamper == "other_domain" else "eve@acme.test"
    idp.add_user(email, groups=["gateway-admins"], verified=tamper != "unverified")
    idp.sign_with_other_key = tamper == "other_key"
    idp.audience = "someone-else" if tamper == "other_audience" else None
    response = sign_in(client, idp, email, via_email=False)
    assert response["Location"] == reverse("admin:login")
    assert message in client.get(reverse("admin:login")).content.decode()
    assert not get_user_model().objects.filter(email=email).exists()
    assert "_auth_user_id" not in client.session


def test_a_superuser_never_signs_in_through_an_organizations_provider(client, idp, sso):
    get_user_model().objects.create_superuser("root", "root@acme.test", "pw")
    idp.add_user("root@acme.test", groups=["gateway-admins"])
    sign_in(client, idp, "root@acme.test", via_email=False)
    assert "_auth_user_id" not in client.session


def test_a_replayed_code_is_refused(client, idp, sso):
    idp.add_user("fay@acme.test", groups=["platform"])
    start = client.get(reverse("accounts:sso-start", args=["acme"]))
    params = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    back = requests.post(
        f"{idp.issuer}/authorize",
        data={**params, "email": "fay@acme.test"},
        allow_redirects=False,
        timeout=10,
    )
    callback = urlsplit(back.headers["Location"])
    assert client.get(f"{callback.path}?{callback.query}")["Location"] == "/admin/"
    client.logout()
    again = client.get(f"{callback.path}?{callback.query}")
    assert again.status_code in (302, 400) and "_auth_user_id" not in client.session


def test_an_unknown_email_domain_is_told_to_use_a_password(client, sso):
    response = client.post(reverse("accounts:sso"), {"email": "x@nowhere.test"}, follow=True)
    assert "No organization signs in addresses like this one" in response.content.decode()


def test_a_disabled_provider_is_not_offered(client, sso):
    services.sso_provider_set(organization=sso.organization, enabled=False)
    assert client.get(reverse("accounts:sso-start", args=["acme"])).status_code == 404


def test_an_unreachable_provider_is_a_message_not_an_error_page(client, sso, idp):
    from django.core.cache import cache

    from accounts.oidc import discovery_cache_key

    services.sso_provider_set(
        organization=sso.organization,
        issuer="http://127.0.0.1:9",
        client_id="x",
        client_secret="y",
        email_domains=["acme.test"],
    )
    cache.delete(discovery_cache_key("http://127.0.0.1:9"))
    response = client.get(reverse("accounts:sso-start", args=["acme"]), follow=True)
    assert "cannot be reached" in response.content.decode()


def test_only_the_operator_sets_issuer_client_and_domains(owner):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.sso_provider_set(
            organization=owner.organization,
            actor=owner.user,
            issuer="https://idp.acme.test",
            client_id="c",
            client_secret="s",
            email_domains=["acme.test"],
        )


def test_the_issuer_must_be_https_except_on_loopback(owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="https"):
        services.sso_issuer_check("http://idp.acme.test")
    assert services.sso_issuer_check("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


def test_the_page_asked_for_is_where_single_sign_on_lands(client, idp, sso):
    idp.add_user("gil@acme.test", groups=["platform"])
    start = client.post(
        reverse("accounts:sso"), {"email": "gil@acme.test", "next": "/admin/account/"}
    )
    to_idp = client.get(start["Location"])
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_idp["Location"]).query).items()}
    back = requests.post(
        f"{idp.issuer}/authorize",
        data={**params, "email": "gil@acme.test"},
        allow_redirects=False,
        timeout=10,
    )
    callback = urlsplit(back.headers["Location"])
    assert client.get(f"{callback.path}?{callback.query}")["Location"] == "/admin/account/"
