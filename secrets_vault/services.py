"""Writes and the one read of provider secrets. Values are write-only everywhere but here."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from orgs.services import audit_record
from secrets_vault import crypto, formats
from secrets_vault.models import CustomProvider, ProviderSecret

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import Model

    from orgs.models import Workspace

logger = logging.getLogger(__name__)


def base_url_check(*, base_url: str, actor: AbstractBaseUser | None) -> str:
    """Validate a base URL override: http(s) origin, no credentials. Only a superuser (or the
    CLI, actor=None, which runs as the operator) may point at an arbitrary host; others only at
    hosts in GATEWAY_UPSTREAM_ALLOWED_HOSTS, so a workspace setting cannot make the gateway
    request internal addresses (SSRF)."""
    base_url = base_url.strip().rstrip("/")
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError("base URL must be an http(s) URL with a host")
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise ValidationError("base URL must not carry credentials, a query or a fragment")
    is_operator = actor is None or getattr(actor, "is_superuser", False)
    if not is_operator and parsed.hostname.lower() not in {
        h.lower() for h in settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS
    }:
        raise PermissionDenied(
            f"only a superuser may set a base URL on host {parsed.hostname}; "
            "ask the operator to add it to GATEWAY_UPSTREAM_ALLOWED_HOSTS"
        )
    return base_url


SERVICE_ACCOUNT_NAME = "VERTEX_SERVICE_ACCOUNT_JSON"
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_VERTEX_LOCATION_RE = re.compile(r"^(global|us|eu|[a-z]+-[a-z]+\d{1,2})$")
_AZURE_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$|^(latest|preview)$")
_SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")


def secret_value_check(*, value: str, name: str = "") -> str:
    """The value to store (stripped; a service account key file re-serialised compactly), or
    ValidationError when it cannot be a value of `name` (the message never quotes the value)."""
    value = value.strip()
    if not value:
        raise ValidationError("the secret value is empty")
    if name == SERVICE_ACCOUNT_NAME:
        return _service_account_check(value)
    if any(ch.isspace() for ch in value):
        raise ValidationError("the secret value contains whitespace")
    if name == "AWS_REGION" and not _REGION_RE.match(value):
        raise ValidationError("AWS_REGION must be an AWS region name such as us-east-1")
    if name == "VERTEX_LOCATION" and not _VERTEX_LOCATION_RE.match(value):
        raise ValidationError(
            "VERTEX_LOCATION must be a Vertex AI location such as global, us-east5 or europe-west1"
        )
    if name == "AZURE_OPENAI_API_VERSION" and not _AZURE_VERSION_RE.match(value):
        raise ValidationError(
            "AZURE_OPENAI_API_VERSION must be an Azure OpenAI api-version such as 2024-10-21"
        )
    if name == "AZURE_OPENAI_DEPLOYMENTS":
        try:
            if not formats.azure_deployments(value):
                raise ValueError("no model=deployment pair")
        except ValueError as exc:
            raise ValidationError(f"AZURE_OPENAI_DEPLOYMENTS: {exc}") from None
    return value


def _service_account_check(value: str) -> str:
    """A Google service account key file (JSON, type service_account, with the fields the token
    exchange needs), compacted."""
    try:
        info = json.loads(value)
    except ValueError:
        raise ValidationError(
            "VERTEX_SERVICE_ACCOUNT_JSON must be the service account's JSON key file"
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValidationError('VERTEX_SERVICE_ACCOUNT_JSON must have "type": "service_account"')
    missing = [
        f for f in _SERVICE_ACCOUNT_FIELDS if not isinstance(info.get(f), str) or not info[f]
    ]
    if missing:
        raise ValidationError(f"VERTEX_SERVICE_ACCOUNT_JSON lacks {', '.join(missing)}")
    if not str(info["token_uri"]).startswith(("https://", "http://")):
        raise ValidationError("VERTEX_SERVICE_ACCOUNT_JSON's token_uri must be an http(s) URL")
    return json.dumps(info, separators=(",", ":"))


def display_last4(name: str, value: str) -> str:
    """What interfaces show of a value: its last 4 characters (a whole setting such as the
    region is not secret, but the column holds 4; the service account key shows its key id's)."""
    if name == SERVICE_ACCOUNT_NAME:
        return str(json.loads(value).get("private_key_id") or "")[-4:]
    return value[-4:]


@transaction.atomic
def secret_set(
    *,
    workspace: Workspace,
    name: str,
    value: str | None,
    base_url: str | None = None,
    actor: AbstractBaseUser | None = None,
) -> ProviderSecret:
    """Set (or replace) a provider secret. value=None keeps the stored value and changes only the
    base URL. The audit entry records the last 4 characters and the base URL, never the value."""
    if name not in ProviderSecret.Name.values:
        raise ValidationError(
            f"unknown provider secret {name!r} ({', '.join(ProviderSecret.Name.values)})"
        )
    secret = (
        ProviderSecret.objects.select_for_update().filter(workspace=workspace, name=name).first()
    )
    if value is not None:
        value = secret_value_check(value=value, name=name)
    elif secret is None:
        raise ValidationError("a new provider secret needs a value")
    if base_url and (secret is None or base_url.strip().rstrip("/") != secret.base_url):
        # An unchanged override is kept as it is: a workspace admin replacing the value of a
        # secret whose base URL the operator set must not be refused by the host guard.
        base_url = base_url_check(base_url=base_url, actor=actor)
    before = None if secret is None else {"last4": secret.last4, "base_url": secret.base_url}
    if secret is None:
        secret = ProviderSecret(workspace=workspace, name=name)
    if value is not None:
        secret.ciphertext = crypto.encrypt(value)
        secret.last4 = display_last4(name, value)
        secret.set_at = timezone.now()
    if base_url is not None:
        secret.base_url = base_url
    secret.set_by = (
        actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    )
    secret.save()
    audit_record(
        action="provider_secret.set" if before is None else "provider_secret.update",
        obj=secret,
        actor=actor,
        organization=workspace.organization,
        workspace=workspace,
        before=before,
        after={
            "last4": secret.last4,
            "base_url": secret.base_url,
            "value_changed": value is not None,
        },
    )
    return secret


@transaction.atomic
def secret_delete(*, secret: ProviderSecret, actor: AbstractBaseUser | None = None) -> None:
    audit_record(
        action="provider_secret.delete",
        obj=secret,
        actor=actor,
        organization=secret.workspace.organization,
        workspace=secret.workspace,
        before={"last4": secret.last4, "base_url": secret.base_url},
    )
    secret.delete()


def secret_decrypt(*, secret: ProviderSecret) -> str:
    """The plaintext value, for the proxy's upstream call only. Never log or return it."""
    return crypto.decrypt(secret.ciphertext)


def ciphertexts_rotate(*, model: type[Model], field: str) -> int:
    """Re-encrypt `field` of every `model` row under the newest GATEWAY_SECRETS_KEYS key.

    Each row is updated in its own short transaction, so rotating many rows never holds a long
    lock; running it twice is harmless. Returns the number of rows re-encrypted."""
    count = 0
    for pk in model._default_manager.values_list("pk", flat=True):
        with transaction.atomic():
            row = model._default_manager.select_for_update().filter(pk=pk).first()
            if row is None:
                continue
            if not getattr(row, field):
                continue  # no secret stored (a custom provider without one)
            setattr(row, field, crypto.rotate(getattr(row, field)))
            row.save(update_fields=[field])
            count += 1
    return count


def secrets_rotate() -> int:
    """Re-encrypt every provider secret (custom providers' included) under the newest
    GATEWAY_SECRETS_KEYS key."""
    count = ciphertexts_rotate(model=ProviderSecret, field="ciphertext")
    count += ciphertexts_rotate(model=CustomProvider, field="ciphertext")
    logger.info("re-encrypted %d provider secrets under the newest key", count)
    return count


# --- Custom providers ---------------------------------------------------------------------------

# Headers a custom provider may not set: the gateway's own (hop-by-hop, the body's framing, the
# upstream credentials it manages, its x-gateway-* options).
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "host",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9._:/@-]{1,200}$")


def provider_name_check(*, name: str) -> str:
    name = name.strip()
    if not re.match(CustomProvider.NAME_PATTERN, name):
        raise ValidationError(
            "a custom provider name is 1-40 lowercase letters, digits and '-' (not at either end)"
        )
    return name


def provider_headers_check(*, headers: dict[str, str]) -> dict[str, str]:
    """Header names and values a provider may send upstream (no reserved or gateway names, no
    line breaks)."""
    if len(headers) > 20:
        raise ValidationError("at most 20 extra headers")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        name, value = str(name).strip(), str(value).strip()
        lower = name.lower()
        if not _HEADER_NAME.match(name) or lower in _RESERVED_HEADERS:
            raise ValidationError(f"header {name!r} cannot be set on a custom provider")
        if lower.startswith("x-gateway-"):
            raise ValidationError("x-gateway-* headers are the gateway's own")
        if any(ch in value for ch in "\r\n\x00") or len(value) > 2000:
            raise ValidationError(f"the value of header {name} has a line break or is too long")
        checked[name] = value
    return checked


def provider_models_check(*, models: list[str]) -> list[str]:
    names = [m.strip() for m in models if m.strip()]
    if len(names) > 500:
        raise ValidationError("at most 500 models")
    for model in names:
        if not _MODEL_NAME.match(model):
            raise ValidationError(f"{model!r} is not a model name")
    return list(dict.fromkeys(names))


def _provider_audit(provider: CustomProvider) -> dict[str, Any]:
    """What the audit log keeps: never the secret, nor header values (they may be credentials)."""
    return {
        "api": provider.api,
        "base_url": provider.base_url,
        "last4": provider.last4,
        "header_names": sorted(provider.extra_headers),
        "models": provider.model_names,
    }


@transaction.atomic
def provider_set(
    *,
    workspace: Workspace,
    name: str,
    api: str = CustomProvider.Api.OPENAI,
    base_url: str | None = None,
    secret: str | None = None,
    clear_secret: bool = False,
    extra_headers: dict[str, str] | None = None,
    models: list[str] | None = None,
    actor: AbstractBaseUser | None = None,
) -> CustomProvider:
    """Create or update a custom provider; None leaves a field as it is (a new provider needs a
    base URL). The base URL goes through the same host guard as every base URL override."""
    name = provider_name_check(name=name)
    if api not in CustomProvider.Api.values:
        raise ValidationError(
            f"unknown API {api!r} (supported: {', '.join(CustomProvider.Api.values)})"
        )
    provider = (
        CustomProvider.objects.select_for_update().filter(workspace=workspace, name=name).first()
    )
    before = None if provider is None else _provider_audit(provider)
    if provider is None:
        if not base_url:
            raise ValidationError("a new custom provider needs a base URL")
        provider = CustomProvider(workspace=workspace, name=name)
    if base_url is not None and base_url.strip().rstrip("/") != provider.base_url:
        provider.base_url = base_url_check(base_url=base_url, actor=actor)
    provider.api = api
    if secret is not None:
        value = secret_value_check(value=secret)
        provider.ciphertext = crypto.encrypt(value)
        provider.last4 = value[-4:]
    elif clear_secret:
        provider.ciphertext, provider.last4 = "", ""
    if extra_headers is not None:
        provider.extra_headers = provider_headers_check(headers=extra_headers)
    if models is not None:
        provider.model_names = provider_models_check(models=models)
    provider.set_at = timezone.now()
    provider.set_by = (
        actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    )
    provider.save()
    audit_record(
        action="custom_provider.set" if before is None else "custom_provider.update",
        obj=provider,
        actor=actor,
        organization=workspace.organization,
        workspace=workspace,
        before=before,
        after={**_provider_audit(provider), "secret_changed": secret is not None or clear_secret},
    )
    return provider


@transaction.atomic
def provider_delete(*, provider: CustomProvider, actor: AbstractBaseUser | None = None) -> None:
    audit_record(
        action="custom_provider.delete",
        obj=provider,
        actor=actor,
        organization=provider.workspace.organization,
        workspace=provider.workspace,
        before=_provider_audit(provider),
    )
    provider.delete()


def provider_secret_decrypt(*, provider: CustomProvider) -> str:
    """The plaintext secret ('' when none), for the proxy's upstream call only."""
    return crypto.decrypt(provider.ciphertext) if provider.ciphertext else ""
