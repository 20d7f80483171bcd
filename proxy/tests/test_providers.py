"""The pure wire-format functions of proxy.providers."""

from __future__ import annotations

import orjson

from proxy.providers import anthropic, error_body, gemini, openai


def test_openai_chat_input_tokens_include_the_cached_ones() -> None:
    body = {
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 30},
            "completion_tokens_details": {"reasoning_tokens": 5},
        }
    }
    usage = openai.usage_from_body("ChatCompletions", body)
    assert (
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
    ) == (100, 30, 20, 5)


def test_openai_responses_usage_comes_from_response_completed() -> None:
    event = {
        "type": "response.completed",
        "response": {
            "usage": {
                "input_tokens": 50,
                "output_tokens": 9,
                "input_tokens_details": {"cached_tokens": 10},
                "output_tokens_details": {"reasoning_tokens": 4},
            }
        },
    }
    usage = openai.usage_from_event(
        "Responses", {"type": "response.output_text.delta", "delta": "x"}, None
    )
    assert usage is None
    usage = openai.usage_from_event("Responses", event, usage)
    assert (
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
    ) == (50, 10, 9, 4)


def test_openai_chat_stream_gets_include_usage_and_keeps_other_options() -> None:
    body = {"model": "m", "stream": True, "stream_options": {"foo": 1}}
    assert openai.prepare_body("ChatCompletions", body, stream=True) is True
    assert body["stream_options"] == {"foo": 1, "include_usage": True}
    assert openai.prepare_body("ChatCompletions", body, stream=True) is False
    assert openai.prepare_body("ChatCompletions", {"model": "m"}, stream=False) is False
    assert openai.prepare_body("Responses", {"model": "m"}, stream=True) is False


def test_anthropic_stream_usage_merges_message_start_and_delta() -> None:
    start = {
        "type": "message_start",
        "message": {
            "usage": {
                "input_tokens": 12,
                "output_tokens": 1,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 7,
            }
        },
    }
    usage = anthropic.usage_from_event("Messages", start, None)
    usage = anthropic.usage_from_event("Messages", {"type": "content_block_delta"}, usage)
    usage = anthropic.usage_from_event(
        "Messages", {"type": "message_delta", "usage": {"output_tokens": 42}}, usage
    )
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    ) == (119, 42, 100, 7)  # input = uncached 12 + cache read 100 + cache write 7


def test_gemini_usage_counts_thoughts_as_output_and_cache_within_input() -> None:
    meta = {
        "usageMetadata": {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 40,
            "candidatesTokenCount": 10,
            "thoughtsTokenCount": 6,
        }
    }
    usage = gemini.usage_from_body("GenerateContent", meta)
    assert (
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
    ) == (100, 40, 16, 6)
    assert gemini.usage_from_body("StreamGenerateContent", [{"x": 1}, meta]).output_tokens == 16


def test_error_envelopes_match_each_sdk() -> None:
    assert orjson.loads(error_body("openai", 401, "no"))["error"]["type"] == "authentication_error"
    anth = orjson.loads(error_body("anthropic", 403, "no"))
    assert anth["type"] == "error" and anth["error"] == {
        "type": "permission_error",
        "message": "no",
    }
    gem = orjson.loads(error_body("gemini", 424, "missing"))
    assert gem["error"] == {"code": 424, "message": "missing", "status": "FAILED_PRECONDITION"}


def test_auth_headers_are_each_providers_own() -> None:
    assert openai.auth_header("s") == ("Authorization", "Bearer s")
    assert anthropic.auth_header("s") == ("x-api-key", "s")
    assert gemini.auth_header("s") == ("x-goog-api-key", "s")
