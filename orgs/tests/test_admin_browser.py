"""The admin per persona, end to end in headless Chromium (Debian's package, driven by
Playwright): the platform operator, an organization admin who signed in through an invitation,
an organization admin who signed in through single sign-on, a workspace admin and a member.
Each sees only their scope and can do what their role allows. Screenshots of each persona's
pages go to var/screenshots/ (ignored by git). Skipped when /usr/bin/chromium is missing,
except in CI (GATEWAY_REQUIRE_SERVICES)."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections

from accounts import services as sso_services
from devtools.fake_oidc import running_oidc_provider
from orgs import services
from orgs.models import ApiKey, Organization, Role
from policies.redaction.models import RedactionPolicy
from policies.redaction.rules import default_rule_ids
from secrets_vault.models import ProviderSecret

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    # The live server thread must see the test's rows (transaction=True); serialized_rollback
    # restores the built-in roles of the data migration after the flush.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def page(monkeypatch):
    """A fresh Chromium per test. Playwright's sync API runs an event loop in this thread while
    it is open, and Django's connections are then per-context: the test database's own
    connection (the one pytest-django flushes and restores) is back only once it is closed, so
    the browser must not outlive the test."""
    if not CHROMIUM.exists():
        if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "True":
            pytest.fail("/usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("needs /usr/bin/chromium")
    # ORM calls from the test body while Playwright's loop runs are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            tab = browser.new_context(accept_downloads=True).new_page()
            tab.set_default_timeout(20_000)
            yield tab
        finally:
            browser.close()
            # ORM calls made while Playwright's loop runs get their own connection (a separate
            # context); close it here, or PostgreSQL refuses to drop the test database.
            connections.close_all()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form input[type=submit]")
    page.wait_for_selector("#content-main")


def sections(page) -> str:
    return page.text_content("#content-main") or ""


def make_org_admin(persona):
    services.org_member_set(
        organization=persona.organization,
        user=persona.user,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    return persona


def test_the_operator_sees_every_organization_and_turns_the_gateway_on(
    live_server, page, owner, outsider, django_user_model
):
    django_user_model.objects.create_superuser("root", "root@ops.test", "root-pass-1234")
    services.organization_upsert(slug="other", llm_gateway_enabled=False)
    sign_in(page, live_server.url, "root", "root-pass-1234")
    page.goto(f"{live_server.url}/admin/orgs/organization/")
    listing = sections(page)
    assert "acme" in listing and "other" in listing
    shot(page, "operator-organizations")
    other = Organization.objects.get(slug="other")
    page.goto(f"{live_server.url}/admin/orgs/organization/{other.pk}/change/")
    page.check("#id_llm_gateway_enabled")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    assert Organization.objects.get(slug="other").llm_gateway_enabled


def test_an_invited_organization_admin_sets_a_password_and_manages_policies(
    live_server, page, owner, outsider
):
    user = services.user_get_or_create(email="olga@acme.test")
    services.org_member_set(
        organization=owner.organization,
        user=user,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    services.member_invite(organization=owner.organization, user=user, base_url=live_server.url)
    link = re.search(r"http://\S+/accounts/invitation/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    page.fill("#id_new_password1", "olga-chooses-a-long-one")
    page.fill("#id_new_password2", "olga-chooses-a-long-one")
    page.click("#invitation-form input[type=submit]")
    page.wait_for_selector("#content-main")
    index = sections(page)
    assert "Settings → Gateway → LLM Gateway" in index and "Effective policies" in index
    shot(page, "org-admin-invited-index")

    # The redaction form starts with every rule ticked; saving it redacts.
    page.goto(f"{live_server.url}/admin/policies/redactionpolicy/add/")
    for rule_id in default_rule_ids("secrets"):
        assert page.is_checked(f"input[name=secret_rules][value={rule_id}]")
    assert page.is_hidden(".field-api_key") and page.is_hidden(".field-user")
    page.select_option("#id_organization", str(owner.organization.pk))
    page.select_option("#id_scope", "workspace")
    assert page.is_visible(".field-workspace") and page.is_hidden(".field-api_key")
    page.select_option("#id_workspace", str(owner.workspace.pk))
    shot(page, "org-admin-redaction-form")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    saved = RedactionPolicy.objects.get()
    assert "github" in saved.secret_rules and "email" in saved.pii_rules

    # Only acme exists for this admin; the other organization's page is a 404.
    page.goto(f"{live_server.url}/admin/orgs/organization/")
    assert "other" not in sections(page)
    response = page.goto(
        f"{live_server.url}/admin/orgs/organization/{outsider.organization.pk}/change/"
    )
    assert response.status == 404


def test_an_organization_admin_signs_in_through_single_sign_on(live_server, page, owner, outsider):
    with running_oidc_provider(client_id="gw", client_secret="idp-secret-42") as idp:
        provider = sso_services.sso_provider_set(
            organization=owner.organization,
            issuer=idp.issuer,
            client_id="gw",
            client_secret="idp-secret-42",
            email_domains=["acme.test"],
        )
        sso_services.sso_mapping_set(
            provider=provider,
            group="acme-admins",
            org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
        )
        idp.add_user("sam@acme.test", groups=["acme-admins"])
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_sso_email", "sam@acme.test")
        page.click("#sso-submit")
        page.wait_for_selector("#idp-email")  # the identity provider's own sign-in page
        page.fill("#idp-email", "sam@acme.test")
        page.click("#idp-submit")
        page.wait_for_selector("#content-main")
        assert "Settings → Members & roles" in sections(page)
        shot(page, "org-admin-sso-index")
        page.goto(f"{live_server.url}/admin/orgs/servicekey/")
        listing = sections(page)
        assert owner.key.display_prefix in listing and outsider.key.display_prefix not in listing


def test_a_workspace_admin_adds_a_secret_and_sees_a_new_key_once(
    live_server, page, owner, outsider
):
    sign_in(page, live_server.url, owner.user.email, owner.password)
    index = sections(page)
    assert "Settings → Integrations" in index and "LLM Gateway" not in index  # no policies

    value = "sk-proj-BrowserTyped-Value-4242"
    page.goto(f"{live_server.url}/admin/secrets_vault/providersecret/add/")
    page.select_option("#id_workspace", str(owner.workspace.pk))
    page.select_option("#id_name", "OPENAI_API_KEY")
    page.fill("#id_value", value)
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    listing = page.content()
    assert "••••4242" in listing and value not in listing
    assert ProviderSecret.objects.get(workspace=owner.workspace).last4 == "4242"

    page.goto(f"{live_server.url}/admin/orgs/servicekey/add/")
    options = page.inner_text("#id_workspace")
    assert "acme/main" in options and "other/main" not in options
    page.fill("#id_name", "browser key")
    page.select_option("#id_workspace", str(owner.workspace.pk))
    page.select_option("#id_role", label="WORKSPACE_ADMIN (built-in)")
    page.click("input[name=_save]")
    plaintext = page.input_value("#gateway-key")
    assert re.fullmatch(r"gw_sk_[a-z0-9]{12}_[a-z0-9]{40}", plaintext)
    assert "shown only once" in page.content()
    shot(page, "workspace-admin-key-created")
    key = services.api_key_authenticate(plaintext)
    assert key is not None and key.name == "browser key"

    page.goto(f"{live_server.url}/admin/orgs/servicekey/{key.pk}/change/")
    html = page.content()
    assert key.display_prefix in html and plaintext not in html
    page.click("#revoke-key")
    page.click("#confirm-revoke")
    page.wait_for_selector(".messagelist")
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    response = page.goto(f"{live_server.url}/admin/policies/spendpolicy/")
    assert response.status == 403


def test_a_workspace_admin_adds_a_custom_provider(live_server, page, owner, outsider, settings):
    from secrets_vault.models import CustomProvider
    from secrets_vault.services import provider_set

    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["vllm.internal"]
    provider_set(workspace=outsider.workspace, name="theirs", base_url="https://vllm.internal/v1")
    sign_in(page, live_server.url, owner.user.email, owner.password)
    assert "Custom providers" in sections(page)
    secret = "sk-vllm-BrowserTyped-7788"
    page.goto(f"{live_server.url}/admin/secrets_vault/customprovider/add/")
    assert "other/main" not in page.inner_text("#id_workspace")
    page.select_option("#id_workspace", str(owner.workspace.pk))
    page.fill("#id_name", "vllm")
    page.fill("#id_base_url", "http://10.0.0.5:8000/v1")  # not an allowed host: refused
    page.fill("#id_secret", secret)
    page.fill("#id_headers_text", "X-Team: search")
    page.fill("#id_models_text", "llama-3.1-8b, qwen2.5")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "only a superuser" in page.content() and secret not in page.content()
    page.fill("#id_base_url", "https://vllm.internal/v1")
    page.fill("#id_secret", secret)  # a password field comes back empty
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    listing = page.content()
    assert "••••7788" in listing and secret not in listing and "theirs" not in listing
    shot(page, "workspace-admin-custom-providers")
    provider = CustomProvider.objects.get(workspace=owner.workspace)
    assert provider.model_names == ["llama-3.1-8b", "qwen2.5"]
    assert provider.extra_headers == {"X-Team": "search"}
    page.goto(f"{live_server.url}/admin/secrets_vault/customprovider/{provider.pk}/change/")
    assert "/providers/vllm/v1" in page.content()
    shot(page, "workspace-admin-custom-provider-page")


def test_a_member_creates_a_personal_token_and_downloads_agent_files(
    live_server, page, owner, member
):
    # The member persona is WORKSPACE_USER: it reads traces, it cannot call the gateway.
    gateway_role = Role.objects.create(
        organization=None,
        name="GW_TEST_CALLER",
        scope=Role.Scope.WORKSPACE,
        permissions=["gateway:invoke", "workspaces:read"],
    )
    services.member_set(workspace=member.workspace, user=member.user, role=gateway_role)
    member.user.is_staff = False
    member.user.save()
    sign_in(page, live_server.url, member.user.email, member.password)
    assert "My account" in sections(page)
    page.click("#my-account-link")
    page.wait_for_selector("#my-workspaces")
    assert "GW_TEST_CALLER" in page.inner_text("#my-workspaces")
    page.fill("#id_name", "laptop")
    page.click("#create-token")
    page.wait_for_load_state()
    shot(page, "member-token-created")
    plaintext = page.input_value("#gateway-key")
    assert plaintext.startswith("gw_pt_")
    shot(page, "member-token-created")
    with page.expect_download() as download:
        page.click("input[data-agent=claude-code]")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert any(plaintext in archive.read(name).decode() for name in archive.namelist())

    # What the role does not allow is not there.
    response = page.goto(f"{live_server.url}/admin/orgs/servicekey/add/")
    assert response.status == 403
    page.goto(f"{live_server.url}/admin/account/")
    token = ApiKey.objects.get(user=member.user, kind=ApiKey.Kind.PERSONAL, name="laptop")
    page.click(f"a[href='/admin/account/tokens/{token.pk}/revoke/']")
    page.click("#confirm-revoke")
    page.wait_for_selector("#my-tokens")
    assert "revoked" in page.inner_text("#my-tokens")
    shot(page, "member-account")
