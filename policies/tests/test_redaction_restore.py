"""The restore filter: whole JSON bodies, SSE streams (split placeholders), raw JSON streams."""

from __future__ import annotations

import json

import orjson

from policies.redaction.restore import RestoreFilter

EMAIL = "[REDACTED:EMAIL_0a1b2c3d]"
KEY = "[REDACTED:PRIVATE_KEY_99887766]"
MAPPING = {
    EMAIL: "maria@acme.io",
    KEY: '-----BEGIN PRIVATE KEY-----\nMIIE"x\\\n-----END PRIVATE KEY-----',
}


def _sse(obj: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


def _chat_chunk(text: str) -> bytes:
    return _sse(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}}],
        }
    )


def _texts(stream: bytes) -> str:
    out = []
    for block in stream.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data: ") and line[6:] != b"[DONE]":
                for choice in json.loads(line[6:]).get("choices", []):
                    out.append(choice["delta"].get("content") or "")
    return "".join(out)


def test_a_json_body_gets_values_back_and_tool_arguments_stay_valid_json():
    body = orjson.dumps(
        {
            "choices": [
                {
                    "message": {
                        "content": f"write to {EMAIL}",
                        "tool_calls": [
                            {
                                "function": {
                                    "name": "f",
                                    "arguments": json.dumps({"key": KEY, "to": EMAIL}),
                                }
                            }
                        ],
                    }
                }
            ]
        }
    )
    out = json.loads(RestoreFilter(MAPPING).filter_body(body))
    message = out["choices"][0]["message"]
    assert message["content"] == "write to maria@acme.io"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {
        "key": MAPPING[KEY],
        "to": "maria@acme.io",
    }


def test_a_body_without_placeholders_is_returned_as_the_same_bytes():
    body = b'{"a":  "b [not a placeholder]"}'
    assert RestoreFilter(MAPPING).filter_body(body) is body


def test_an_unknown_placeholder_is_left_alone():
    body = orjson.dumps({"text": "[REDACTED:EMAIL_ffffffff]"})
    assert (
        json.loads(RestoreFilter(MAPPING).filter_body(body))["text"] == "[REDACTED:EMAIL_ffffffff]"
    )


def test_a_placeholder_split_across_events_is_reassembled():
    f = RestoreFilter(MAPPING)
    stream = [
        _chat_chunk("mail [REDAC"),
        _chat_chunk("TED:EMAIL_0a1b"),
        _chat_chunk("2c3d] now"),
        b"data: [DONE]\n\n",
    ]
    out = b"".join(f.feed(chunk) for chunk in stream) + f.flush()
    assert _texts(out) == "mail maria@acme.io now"
    assert b"[DONE]" in out


def test_events_are_passed_through_even_when_chunks_cut_them_anywhere():
    f = RestoreFilter(MAPPING)
    raw = _chat_chunk(f"a {EMAIL} b") + _chat_chunk("c") + b"data: [DONE]\n\n"
    out = b"".join(f.feed(raw[i : i + 7]) for i in range(0, len(raw), 7)) + f.flush()
    assert _texts(out) == "a maria@acme.io bc"


def test_held_text_that_is_not_a_placeholder_is_released_before_the_next_event():
    f = RestoreFilter(MAPPING)
    out = f.feed(_chat_chunk("array[R")) + f.feed(
        _sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    )
    out += f.feed(b"data: [DONE]\n\n") + f.flush()
    assert _texts(out) == "array[R"
    assert out.index(b'"[R"') < out.index(b"finish_reason")


def test_hold_back_never_exceeds_the_longest_placeholder():
    f = RestoreFilter(MAPPING)
    out = f.feed(_chat_chunk("x" * 50 + "[REDACTED:PRIVATE_KEY_9988"))
    assert b"x" * 50 in out and f.max_hold == len(KEY) - 1


def test_anthropic_partial_json_gets_escaped_values():
    f = RestoreFilter(MAPPING)
    events = [
        _sse(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"k": "[REDACTED:PRIV'},
            },
            "content_block_delta",
        ),
        _sse(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": 'ATE_KEY_99887766]"}'},
            },
            "content_block_delta",
        ),
        _sse({"type": "content_block_stop", "index": 1}, "content_block_stop"),
    ]
    out = b"".join(f.feed(e) for e in events) + f.flush()
    parts = [
        json.loads(line[6:])["delta"]["partial_json"]
        for line in out.split(b"\n")
        if b"partial_json" in line
    ]
    assert json.loads("".join(parts)) == {"k": MAPPING[KEY]}
    assert out.count(b"event: content_block_delta") == len(parts)


def _gemini(text: str) -> dict:
    return {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": text}]}}]}


def test_a_gemini_json_array_stream_is_restored_across_elements():
    f = RestoreFilter(MAPPING)
    raw = (
        b"["
        + b",\r\n".join(
            json.dumps(_gemini(t), indent=2).encode()
            for t in ("hi [REDACTED:EM", "AIL_0a1b2c3d] ok", "!")
        )
        + b"]"
    )
    out = b"".join(f.feed(raw[i : i + 9]) for i in range(0, len(raw), 9)) + f.flush()
    texts = [e["candidates"][0]["content"]["parts"][0]["text"] for e in json.loads(out)]
    assert "".join(texts) == "hi maria@acme.io ok!"


def test_a_gemini_json_array_without_placeholders_passes_as_the_same_bytes():
    f = RestoreFilter(MAPPING)
    raw = b"[" + json.dumps(_gemini("plain [x]"), indent=2).encode() + b"]"
    assert f.feed(raw) + f.flush() == raw


def test_held_text_at_the_end_of_a_json_array_is_released_as_an_element():
    f = RestoreFilter(MAPPING)
    raw = b"[" + json.dumps(_gemini("tail [RED")).encode() + b"]"
    out = f.feed(raw) + f.flush()
    assert (
        "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in json.loads(out))
        == "tail [RED"
    )


def test_signed_thinking_keeps_its_placeholders():
    f = RestoreFilter(MAPPING)
    event = _sse(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": f"check {EMAIL}"},
        }
    )
    assert f.feed(event) == event
    body = orjson.dumps(
        {
            "content": [
                {"type": "thinking", "thinking": EMAIL, "signature": "sig"},
                {"type": "text", "text": EMAIL},
            ]
        }
    )
    out = json.loads(f.filter_body(body))
    assert out["content"][0]["thinking"] == EMAIL and out["content"][1]["text"] == "maria@acme.io"
