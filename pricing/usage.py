"""Usage the gateway can charge: provider counts validated, and counts estimated when a call
that reached the provider never got them (pure functions, no Django).

A provider bills a call as soon as it has read the request: a client that hangs up, a stream
that breaks, or an upstream that never reports usage must not make the call free, or closing
streams early would be a way around every spend cap. So:

- `validated` clamps what an upstream reports (negative counts, counts beyond any model,
  breakdowns larger than their totals) and names each correction;
- `input_tokens_bound` counts a request's input tokens before it is sent, erring high the way
  the spend reservation does (a BPE token covers at least one byte of the request JSON);
- `settled` merges the two: the provider's counts where it gave them, the bound for input it
  never reported, and at least one token per streamed event for output it never finished
  reporting.
"""

from __future__ import annotations

from dataclasses import fields, replace

from pricing.table import Usage

# No model reads or writes this many tokens in one call (the largest context windows are a few
# million tokens): a larger count is an upstream fault, never a bill. It also keeps every count
# inside the database's integer columns, so one bad answer cannot make a record unstorable.
MAX_TOKENS = 10_000_000
INPUT_OVERHEAD_TOKENS = 1_000  # chat formatting and tool-use system prompts added by providers
MEDIA_PART_TOKENS = 2_000  # an image or audio part, whatever its bytes
_MEDIA_MARKERS = (
    b'"image_url"',
    b'"input_image"',
    b'"image"',
    b'"inline_data"',
    b'"inlineData"',
    b'"input_audio"',
)
_FILE_MARKERS = (b'"file_data"', b'"fileData"', b'"document"', b'"input_file"', b'"file"')
_COUNTS = tuple(f.name for f in fields(Usage))


def token_count(value: object) -> int | None:
    """A token count as an upstream sent it (an int, or a float with no fraction), or None when
    the field is absent or not a number. Sign and size are checked later, by `validated`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def input_tokens_bound(raw: bytes, context_window: int | None) -> int:
    """An upper bound on the input tokens of a request whose JSON body is `raw`: its bytes, plus
    the provider's overhead, plus a fixed allowance per media part and the context window per
    file part, capped by the context window when it is known."""
    tokens = len(raw) + INPUT_OVERHEAD_TOKENS
    tokens += MEDIA_PART_TOKENS * sum(raw.count(m) for m in _MEDIA_MARKERS)
    files = sum(raw.count(m) for m in _FILE_MARKERS)
    if files:
        tokens += files * (context_window or 1_000_000)
    if context_window:
        tokens = min(tokens, context_window)
    return min(tokens, MAX_TOKENS)


def validated(usage: Usage) -> tuple[Usage, list[str]]:
    """`usage` with every count in [0, MAX_TOKENS] and every breakdown within its total, and a
    note per correction (empty when the upstream's counts were sane). Totals are raised to
    their breakdowns rather than breakdowns lowered: a correction never lowers the charge."""
    if (
        0 <= usage.input_tokens <= MAX_TOKENS
        and 0 <= usage.output_tokens <= MAX_TOKENS
        and usage.cache_read_tokens >= 0
        and usage.cache_write_tokens >= 0
        and usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
        and 0 <= usage.audio_input_tokens <= usage.input_tokens
        and 0 <= usage.reasoning_tokens <= usage.output_tokens
        and 0 <= usage.audio_output_tokens <= usage.output_tokens
    ):
        return usage, []  # sane counts, the common case: nothing to correct
    notes: list[str] = []
    values = {}
    for name in _COUNTS:
        value = getattr(usage, name)
        if value < 0:
            notes.append(f"negative {name} ({value}) counted as 0")
            value = 0
        elif value > MAX_TOKENS:
            notes.append(f"implausible {name} ({value}) clamped to {MAX_TOKENS}")
            value = MAX_TOKENS
        values[name] = value
    result = Usage(**values)
    cached = result.cache_read_tokens + result.cache_write_tokens
    floor_in = max(cached, result.audio_input_tokens)
    if result.input_tokens < floor_in:
        notes.append(f"input_tokens ({result.input_tokens}) below its breakdowns: {floor_in}")
        result.input_tokens = floor_in
    floor_out = max(result.reasoning_tokens, result.audio_output_tokens)
    if result.output_tokens < floor_out:
        notes.append(f"output_tokens ({result.output_tokens}) below its breakdowns: {floor_out}")
        result.output_tokens = floor_out
    return result, notes


def settled(
    reported: Usage | None, *, input_bound: int, streamed_events: int, complete: bool
) -> tuple[Usage, str | None]:
    """What a call that reached the provider is charged, and why when it is not simply what the
    provider reported.

    `reported`: the (validated) usage the provider sent, if any; `input_bound`: the request's
    input_tokens_bound; `streamed_events`: events relayed to the client; `complete`: the
    answer arrived whole (no disconnect, timeout or broken stream).
    """
    if (
        reported is not None
        and reported.input_tokens > 0
        and (complete or reported.output_tokens >= streamed_events)
    ):
        return reported, None  # the provider's counts stand, the common case
    usage = replace(reported) if reported is not None else Usage()
    reasons = []
    if usage.input_tokens <= 0:
        # Every billed request has input: zero means the count never came (an OpenAI stream
        # reports usage only in its last chunk) or was unreadable.
        usage.input_tokens = input_bound
        reasons.append("input counted before sending")
    if not complete and usage.output_tokens < streamed_events:
        # Each streamed event carries at least one token (OpenAI streams one token per event;
        # Gemini's running totals usually arrive with each event and exceed this).
        usage.output_tokens = streamed_events
        reasons.append("output counted from the streamed events")
    if not reasons:
        return usage, None
    return usage, "usage estimated: " + ", ".join(reasons)
