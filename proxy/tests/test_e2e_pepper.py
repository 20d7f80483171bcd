"""A key used only through the proxy is re-hashed under the newest pepper, so it keeps working
when the old pepper is removed (as the REST API's own use of a key does)."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from devtools.testing import running_gateway

pytestmark = [pytest.mark.e2e]
OLD = "1:the-old-pepper"
NEW = "2:the-new-pepper"


def _call(gw: Any, key: str) -> str:
    client = openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0, timeout=10)
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "pepper"}]
    )
    return answer.choices[0].message.content


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_key_used_only_through_the_proxy_survives_the_removal_of_its_old_pepper(
    settings: Any,
) -> None:
    from orgs import services
    from orgs.models import ApiKey, Role

    settings.GATEWAY_KEY_PEPPERS = [OLD]
    org = services.organization_upsert(slug="pepper", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="main")
    created = services.api_key_create(
        organization=org, workspace=ws, role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    )
    assert ApiKey.objects.get(pk=created.api_key.pk).pepper_id == "1"

    settings.GATEWAY_KEY_PEPPERS = [NEW, OLD]  # a new pepper in front: rotation begins
    with running_gateway() as gw:
        gw.give_secrets(ws)
        assert _call(gw, created.plaintext) == "Echo: pepper"
        deadline = time.monotonic() + 5
        while ApiKey.objects.get(pk=created.api_key.pk).pepper_id != "2":
            assert time.monotonic() < deadline, "the proxy did not re-hash the key"
            time.sleep(0.05)
        assert _call(gw, created.plaintext) == "Echo: pepper"  # served with the new digest

    settings.GATEWAY_KEY_PEPPERS = [NEW]  # the old pepper is removed
    with running_gateway() as gw:
        gw.give_secrets(ws)  # this gateway's fake provider
        assert _call(gw, created.plaintext) == "Echo: pepper"
        with pytest.raises(openai.AuthenticationError):
            _call(gw, created.plaintext[:-1] + ("a" if created.plaintext[-1] != "a" else "b"))
