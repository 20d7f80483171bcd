"""End to end in headless Chromium (Debian's package, driven by Playwright): a workspace admin
logs in, adds a provider secret, creates a service key, sees it once, and afterwards finds only
its prefix. Skipped when /usr/bin/chromium is missing, except in CI (GATEWAY_REQUIRE_SERVICES)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.db import connections

from orgs import services
from orgs.models import ApiKey
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    # The live server thread must see the test's rows (transaction=True); serialized_rollback
    # restores the built-in roles of the data migration after the flush.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def browser_page(monkeypatch):
    if not CHROMIUM.exists():
        if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "True":
            pytest.fail("/usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("needs /usr/bin/chromium")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
    # body are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()
            # ORM calls made while Playwright's loop runs get their own connection (a separate
            # context); close it here, or PostgreSQL refuses to drop the test database.
            connections.close_all()


def test_workspace_admin_adds_a_secret_and_sees_a_new_key_once(owner, live_server, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", owner.user.username)
    page.fill("#id_password", owner.password)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
    assert "Settings → Integrations" in page.content()

    # Settings → Integrations → Provider secrets: add one; the value never comes back.
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

    # API keys → Service keys: create one; the next page shows it once.
    page.goto(f"{live_server.url}/admin/orgs/servicekey/add/")
    page.fill("#id_name", "browser key")
    page.select_option("#id_workspace", str(owner.workspace.pk))
    page.select_option("#id_role", label="WORKSPACE_ADMIN (built-in)")
    page.click("input[name=_save]")
    plaintext = page.input_value("#gateway-key")
    assert re.fullmatch(r"gw_sk_[a-z0-9]{12}_[a-z0-9]{40}", plaintext)
    assert "shown only once" in page.content()
    key = services.api_key_authenticate(plaintext)
    assert key is not None and key.name == "browser key"

    # Afterwards: the list and the key's page show only the prefix.
    page.goto(f"{live_server.url}/admin/orgs/servicekey/")
    html = page.content()
    assert key.display_prefix in html and plaintext not in html
    page.reload()
    page.goto(f"{live_server.url}/admin/orgs/servicekey/{key.pk}/change/")
    html = page.content()
    assert key.display_prefix in html and plaintext not in html
    assert plaintext.rsplit("_", 1)[1] not in html
    assert ApiKey.objects.filter(name="browser key").count() == 1
