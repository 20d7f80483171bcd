"""The corpus sent the way agents send it: each case becomes a request body of one dialect
(OpenAI chat, Anthropic messages, an Anthropic tool result, Gemini generateContent), goes
through the gateway's request walkers and redactor, and is checked: no sensitive value left in
the body the provider would get, every look-alike still there, and the same body redacted twice
gives the same bytes (a resent conversation keeps the provider's prompt cache).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from policies.tests.corpus import Case

DIALECTS = ("openai chat", "anthropic messages", "anthropic tool result", "gemini")


def body_for(case: Case, index: int) -> tuple[dict[str, Any], str, str]:
    """(body, dialect, endpoint) carrying the case's text in one of the four shapes."""
    text = case.text
    kind = DIALECTS[index % len(DIALECTS)]
    if kind == "openai chat":
        body = {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are a coding agent."},
                {"role": "user", "content": text},
            ],
        }
        return body, "openai", "ChatCompletions"
    if kind == "anthropic messages":
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        }
        return body, "anthropic", "Messages"
    if kind == "anthropic tool result":
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "messages": [
                {"role": "user", "content": "Read the file."},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"p": "f"}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": text}],
                },
            ],
        }
        return body, "anthropic", "Messages"
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    return body, "gemini", "GenerateContent"


@dataclass
class WalkerReport:
    requests: int = 0
    positives: int = 0
    leaked: int = 0
    negatives: int = 0
    altered: int = 0
    resends_differing: int = 0
    dialects: tuple[str, ...] = DIALECTS
    leaks: list[tuple[str, str]] = field(default_factory=list)


def through_walkers(cases: list[Case], workspace_id: int = 1) -> WalkerReport:
    from policies.redaction.engine import all_rule_config
    from policies.redaction.placeholders import Redaction, workspace_key
    from policies.redaction.redactor import redact_body

    config = all_rule_config()
    report = WalkerReport()
    for index, case in enumerate(cases):
        body, dialect, endpoint = body_for(case, index)
        outputs = []
        for _ in range(2):
            copy_ = copy.deepcopy(body)
            redact_body(
                copy_,
                dialect=dialect,
                endpoint=endpoint,
                scan_system=True,
                config=config,
                redaction=Redaction(workspace_key(workspace_id)),
            )
            outputs.append(json.dumps(copy_, ensure_ascii=False, sort_keys=True))
        report.requests += 1
        report.resends_differing += outputs[0] != outputs[1]
        sent = json.loads(outputs[0])
        carried = _carried_text(sent, dialect)
        for kind, start, end in case.positives:
            report.positives += 1
            value = case.text[start:end]
            if len(value) >= 4 and value in carried:
                report.leaked += 1
                report.leaks.append((kind, value))
        for _kind, start, end in case.negatives:
            report.negatives += 1
            report.altered += case.text[start:end] not in carried
    return report


def _carried_text(body: dict[str, Any], dialect: str) -> str:
    """The text slot the case was put in, after redaction."""
    if dialect == "openai":
        return str(body["messages"][-1]["content"])
    if dialect == "gemini":
        return str(body["contents"][0]["parts"][0]["text"])
    last = body["messages"][-1]["content"]
    block = last[0]
    return str(block.get("text") if block.get("type") == "text" else block.get("content"))
