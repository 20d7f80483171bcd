"""Pure parsers of provider settings stored as secrets (no Django): shared by the services that
validate them and the proxy that reads them."""

from __future__ import annotations

import re

AZURE_DEPLOYMENT_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
AZURE_MODEL_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def azure_deployments(value: str) -> dict[str, str]:
    """AZURE_OPENAI_DEPLOYMENTS, `model=deployment,model=deployment` → {model: deployment};
    ValueError naming the first bad pair."""
    mapping: dict[str, str] = {}
    for pair in value.split(","):
        if not pair.strip():
            continue
        model, sep, deployment = pair.partition("=")
        model, deployment = model.strip(), deployment.strip()
        if not sep or not AZURE_MODEL_RE.match(model) or not AZURE_DEPLOYMENT_RE.match(deployment):
            raise ValueError(
                f"{pair.strip()!r} is not model=deployment (letters, digits, '.', '_', '-')"
            )
        mapping[model] = deployment
    return mapping
