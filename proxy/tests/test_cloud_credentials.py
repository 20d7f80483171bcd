"""Cloud provider credentials at the process boundary: the Vertex access-token cache against
the fake provider's token endpoint, and the fake's own SigV4 check (a tampered request fails)."""

from __future__ import annotations

import asyncio
import json

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from devtools.fake_formats_cloud import (
    FAKE_AWS_ACCESS_KEY_ID,
    FAKE_AWS_SECRET_ACCESS_KEY,
    fake_service_account,
    sigv4_problem,
)
from devtools.fake_provider import start_fake_provider
from proxy.tokens import REFRESH_AHEAD, AccessTokens


def test_tokens_are_cached_and_refreshed_ahead_of_expiry_in_the_background():
    async def scenario() -> None:
        runner, fake, port = await start_fake_provider()
        try:
            info = json.dumps(fake_service_account(f"http://127.0.0.1:{port}/token"))
            tokens = AccessTokens()
            fake.token_lifetime = 3600
            first = await tokens.token(info)
            assert await tokens.token(info) == first and fake.tokens_minted == 1
            # A token inside the refresh window is still served while a new one is minted.
            tokens._tokens[next(iter(tokens._tokens))] = (first, _now() + REFRESH_AHEAD / 2)
            assert await tokens.token(info) == first
            for _ in range(200):  # bounded wait for the background mint
                if fake.tokens_minted == 2 and not tokens._minting:
                    break
                await asyncio.sleep(0.01)
            second = await tokens.token(info)
            assert second != first and second in fake.access_tokens
            assert fake.tokens_minted == 2
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def _now() -> float:
    import time

    return time.time()


def _signed(body: bytes) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    credentials = Credentials(FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY)
    SigV4Auth(credentials, "bedrock", "us-east-1").add_auth(request)
    return request


def test_the_fake_checks_sigv4_signatures():
    request = _signed(b'{"messages": []}')
    headers = {k.lower(): v for k, v in request.headers.items()}

    def problem(body: bytes, **changes: str) -> str | None:
        return sigv4_problem(
            method="POST",
            url=request.url,
            headers={**headers, **changes},
            body=body,
            session_token=None,
        )

    assert problem(b'{"messages": []}') is None
    assert "does not match" in str(problem(b'{"messages": [1]}'))
    assert "does not match" in str(problem(b'{"messages": []}', **{"content-type": "text/x"}))
    wrong = headers["authorization"].replace(FAKE_AWS_ACCESS_KEY_ID, "AKIAOTHER")
    assert "unknown access key" in str(problem(b'{"messages": []}', authorization=wrong))
