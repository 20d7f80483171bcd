"""manage.py gateway_demo [--fake-provider-url URL]: the demo set-up behind `make run`.

Idempotent: organization `demo` (gateway enabled), workspace `demo/default`, superuser
`admin` (a new generated password on every run, printed), a new WORKSPACE_ADMIN service key on
every run (printed), and with --fake-provider-url the workspace's three provider secrets set to
dummy values that point at the fake provider.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser
from django.db import transaction

from orgs import services
from orgs.cli import GatewayCommand
from orgs.models import Role
from secrets_vault import services as secret_services
from secrets_vault.models import ProviderSecret

ADMIN_USERNAME = "admin"


class Command(GatewayCommand):
    help = "Create (or refresh) the demo organization, admin user and key, and print them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fake-provider-url",
            help="point the demo workspace's provider secrets at this fake provider origin",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            org = services.organization_upsert(slug="demo", name="Demo", llm_gateway_enabled=True)
            ws = services.workspace_upsert(organization=org, slug="default", name="Default")
            password = self._admin_user()
            created = services.api_key_create(
                organization=org,
                workspace=ws,
                role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"),
                name="demo key",
            )
            if options["fake_provider_url"]:
                values = _fake_values(options["fake_provider_url"])
                for name in ProviderSecret.Name.values:
                    secret_services.secret_set(
                        workspace=ws,
                        name=name,
                        value=values.get(name, f"demo-fake-{name.lower()}"),
                        base_url=options["fake_provider_url"],
                    )
        base = f"http://{settings.GATEWAY_BIND}"
        if options["fake_provider_url"]:
            provider = f"fake provider at {options['fake_provider_url']}"
        elif ws.provider_secrets.exists():
            provider = ", ".join(str(s) for s in ws.provider_secrets.all())
        else:
            provider = "none set: add one with gateway_secret demo/default OPENAI_API_KEY < key.txt"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "LLM Gateway demo is ready",
                    f"  admin:     {base}/admin/",
                    f"  user:      {ADMIN_USERNAME}",
                    f"  password:  {password}",
                    f"  key:       {created.plaintext}   (WORKSPACE_ADMIN in demo/default)",
                    f"  providers: {provider}",
                    "",
                    "Try it:",
                    f"  KEY={created.plaintext}",
                    f'  curl {base}/openai/v1/chat/completions -H "Authorization: Bearer $KEY" '
                    "-H 'content-type: application/json' "
                    '-d \'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}\'',
                    "",
                ]
            )
        )

    def _admin_user(self) -> str:
        """Create the demo superuser, or reset its password; return the new password."""
        password = secrets.token_urlsafe(12)
        User = get_user_model()
        user = User.objects.filter(username=ADMIN_USERNAME).first()
        if user is None:
            user = User(username=ADMIN_USERNAME, email="admin@demo.invalid")
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(password)
        user.save()
        return password


def _fake_values(fake_url: str) -> dict[str, str]:
    """Values the fake provider accepts where any string will not: a region, its access key
    pair (it checks SigV4), its service account (its token endpoint checks the grant), the
    Vertex AI location, and Azure's api-version and deployment map."""
    import json

    from devtools.fake_formats_cloud import (
        FAKE_AWS_ACCESS_KEY_ID,
        FAKE_AWS_SECRET_ACCESS_KEY,
        fake_service_account,
    )

    return {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": FAKE_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_AWS_SECRET_ACCESS_KEY,
        "VERTEX_SERVICE_ACCOUNT_JSON": json.dumps(fake_service_account(f"{fake_url}/token")),
        "VERTEX_LOCATION": "global",
        "AZURE_OPENAI_API_VERSION": "2024-10-21",
        "AZURE_OPENAI_DEPLOYMENTS": "gpt-4o-mini=chat-prod,text-embedding-3-small=embed-prod",
    }
