"""The most a call can cost, computed before it is forwarded (pure functions).

The reservation must never be below the actual cost, or concurrent calls could together
overshoot a cap. So every bound here errs high:
- input tokens ≤ bytes of the request JSON: a BPE token covers at least one byte of UTF-8
  text, and the JSON (keys, quotes, escapes) is longer than the text the model reads. Provider
  side overhead (tool-use system prompts, chat formatting) is covered by a fixed allowance,
  each image-like part by another (pricing.usage.input_tokens_bound), each file part by the model's context window; the
  total is capped by the context window when the price table knows it. Every input token is
  priced at the dearest input rate (input or cache write).
- output tokens = the request's own bound (max_tokens, max_completion_tokens,
  max_output_tokens, generationConfig.maxOutputTokens, plus a Gemini thinking budget) times the
  number of choices asked for (n, candidateCount); without a bound, the model's maximum from the
  price table, else settings.GATEWAY_SPEND_DEFAULT_MAX_OUTPUT_TOKENS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pricing.usage import input_tokens_bound

# The proxy's unbilled endpoints (proxy.routing.UNBILLED), and those that answer no tokens.
_FREE_ENDPOINTS = frozenset(
    {
        "CountTokens",
        "Models",
        "ListModels",
        "GetModel",
        "ResponsesRetrieve",
        "ResponsesDelete",
        "ResponsesCancel",
        "ResponsesInputItems",
        "ResponsesInputTokens",
    }
)
_EMBEDDINGS = frozenset({"Embeddings", "EmbedContent", "BatchEmbedContents"})


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per 1M tokens: the dearest input-side rate and the output rate."""

    input: float
    output: float


def is_chargeable(endpoint: str, body: dict[str, Any] | None) -> bool:
    """Listing models and counting tokens cost nothing; everything with a body may."""
    return body is not None and endpoint not in _FREE_ENDPOINTS


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(int(value), 0)


def output_bound(body: dict[str, Any]) -> int | None:
    """The output tokens the request itself allows, or None when it sets no bound."""
    bound = None
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = _int(body.get(name))
        if value is not None:
            bound = value if bound is None else max(bound, value)
    inference = body.get("inferenceConfig")  # Bedrock Converse
    if isinstance(inference, dict):
        value = _int(inference.get("maxTokens"))
        if value is not None:
            bound = value if bound is None else max(bound, value)
    config = body.get("generationConfig") or body.get("generation_config")
    if isinstance(config, dict):
        value = _int(config.get("maxOutputTokens", config.get("max_output_tokens")))
        if value is not None:
            bound = value if bound is None else max(bound, value)
            thinking = config.get("thinkingConfig") or config.get("thinking_config")
            if isinstance(thinking, dict):
                budget = _int(thinking.get("thinkingBudget", thinking.get("thinking_budget")))
                bound += budget or 0
    return bound


def choices(body: dict[str, Any]) -> int:
    n = _int(body.get("n")) or 1
    config = body.get("generationConfig") or body.get("generation_config")
    if isinstance(config, dict):
        n = max(n, _int(config.get("candidateCount", config.get("candidate_count"))) or 1)
    return n


def input_bound(body: dict[str, Any], context_window: int | None) -> int:
    """An upper bound on the input tokens of `body` (see the module docstring); the same bound
    the proxy charges when a call's input count never arrives (pricing.usage)."""
    return input_tokens_bound(orjson.dumps(body), context_window)


def token_bounds(
    *,
    endpoint: str,
    body: dict[str, Any],
    model_max_output: int | None,
    context_window: int | None,
    default_max_output: int,
) -> tuple[int, int]:
    """(input tokens, output tokens) the call can use at most; computed once per call."""
    tokens_in = input_bound(body, context_window)
    if endpoint in _EMBEDDINGS:
        return tokens_in, 0
    bound = output_bound(body)
    if bound is None:
        bound = model_max_output or default_max_output
    return tokens_in, bound * choices(body)


def cost_of(tokens: tuple[int, int], rates: Rates) -> float:
    """USD of (input, output) tokens at `rates`."""
    return (tokens[0] * rates.input + tokens[1] * rates.output) / 1_000_000


def max_cost_usd(
    *,
    endpoint: str,
    body: dict[str, Any],
    rates: Rates,
    model_max_output: int | None,
    context_window: int | None,
    default_max_output: int,
) -> float:
    """The most the call can cost at `rates`, in USD."""
    tokens = token_bounds(
        endpoint=endpoint,
        body=body,
        model_max_output=model_max_output,
        context_window=context_window,
        default_max_output=default_max_output,
    )
    return cost_of(tokens, rates)
