"""The curated presidio recognizers: pattern PII and the secrets with recognisable shapes.

Presidio's predefined recognizers as they come found ~9 % of the secrets in our corpus and
altered ~44 % of the values that must stay intact. These replace them:
- every pattern is anchored on a literal or a narrow class (measured: a literal-led pattern
  costs < 1 µs per KB with the `regex` engine, a `\\b`-led email pattern ~100 µs per KB);
- the redacted span is the `v` group (the value, not the `password=` in front of it);
- a validator (checksum, octet range, entropy, reference filter) decides each match, which is
  what keeps UUIDs, SHAs, versions, timestamps and identifiers intact;
- results carry a `priority` so overlapping matches resolve to the most specific type.

Each recognizer is a presidio `PatternRecognizer` (its `Pattern` list, entity and name are
registered in the AnalyzerEngine), with `analyze` reimplemented to use the value group and to
skip presidio's per-match explanation objects.
"""

from __future__ import annotations

import string
import threading
import time
from collections.abc import Callable
from typing import Any

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from policies.redaction import keywords
from policies.redaction import validators as v

Validator = Callable[[str, Any], bool]
ENTITY_PREFIX = "GW_"
_deadline = threading.local()


class ScanTimeout(Exception):
    """The scan passed its deadline (the policy's time limit)."""


def set_deadline(deadline: float | None) -> None:
    """The monotonic deadline of the scan running in this thread (None: no limit)."""
    _deadline.value = deadline


def deadline_remaining() -> float | None:
    """Seconds left before this thread's scan deadline; ScanTimeout once it has passed, so a
    timed-out scan stops at the next recognizer instead of running on in its thread."""
    deadline = getattr(_deadline, "value", None)
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ScanTimeout("scan time limit reached")
    return remaining


class GatewayRecognizer(PatternRecognizer):
    """A rule's patterns; `analyze` yields the `v` group of each validated match."""

    def __init__(
        self,
        *,
        rule_id: str,
        patterns: list[tuple[str, str]],
        validator: Validator | None = None,
        priority: int = 50,
        flags: int = 0,
        placeholder_type: str = "",
        timeout: float | None = None,
        left_boundary: str = "",
        gates: dict[str, Callable[[str], bool]] | None = None,
        anchors: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        super().__init__(
            supported_entity=ENTITY_PREFIX + rule_id.upper(),
            name=f"gateway_{rule_id}",
            patterns=[Pattern(name=name, regex=rx, score=1.0) for name, rx in patterns],
            global_regex_flags=flags,
        )
        self.rule_id = rule_id
        self.placeholder_type = placeholder_type
        self.priority = priority
        self.validator = validator
        self.timeout = timeout
        # Characters that may not precede a value. Checked here rather than with a look-behind
        # at the start of the pattern: a pattern that starts with a literal is found by the
        # regex engine's fast string search, one that starts with a look-behind is tried at
        # every position (measured 3-10x slower per KB).
        self.left_boundary = frozenset(left_boundary)
        self.compiled = [regex.compile(p.regex, flags) for p in self.patterns]
        # A gate: a cheap test of the whole text that must pass for the pattern to run.
        # An anchor list: lower-case words the pattern's match starts with; the pattern is then
        # only tried where the block's keyword pass found one (a pattern that starts with a word alternation
        # costs 0.1-0.2 ms per KB when tried at every position).
        self.gates = [(gates or {}).get(p.name) for p in self.patterns]
        self.anchors = [_pruned((anchors or {}).get(p.name)) for p in self.patterns]
        keywords.register(w.lstrip("*") for words in self.anchors if words for w in words)
        # The span a match stands for: its `v` group, or the whole match.
        self.value_groups = ["v" if "v" in c.groupindex else 0 for c in self.compiled]

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None
    ) -> list[RecognizerResult]:
        """Presidio's interface: the detections of `find` as RecognizerResults."""
        return as_results(self, self.find(text))

    def find(self, text: str) -> list[tuple[int, int, int, str]]:
        """(priority, start, end, placeholder type) of each validated match: what the scanner
        reads, without presidio's result objects (built per match, they cost more than the
        matching on a small block)."""
        deadline_remaining()
        found: list[tuple[int, int, int, str]] = []
        priority = self.priority
        found_words: keywords.Occurrences | None = None
        for compiled, gate, anchor, value_group in zip(
            self.compiled, self.gates, self.anchors, self.value_groups, strict=True
        ):
            if gate is not None and not gate(text):
                continue
            if anchor is not None:
                if found_words is None:
                    found_words = keywords.occurrences(text)
                matches: Any = _anchored(compiled, text, found_words, anchor)
            else:
                # Releasing the GIL costs more than it gives on a small block.
                concurrent = len(text) > 16384
                matches = compiled.finditer(
                    text, timeout=self.match_timeout(), concurrent=concurrent
                )
            for match in matches:
                start, end = match.span(value_group)
                span = self.refine(text, start, end, match)
                if span is not None:
                    found.append((priority, span[0], span[1], self.type_for(match)))
        return found

    def type_for(self, match: Any) -> str:
        """The placeholder type of one match (one per rule, except assigned secrets)."""
        return self.placeholder_type

    def match_timeout(self) -> float | None:
        """Seconds a pattern may run; None for the built-in (linear-time) patterns."""
        return self.timeout

    def refine(self, text: str, start: int, end: int, match: Any) -> tuple[int, int] | None:
        """The detected span for one match, or None when the validator rejects it."""
        if start == end:
            return None
        if start and text[start - 1] in self.left_boundary:
            return None
        if self.validator is not None and not self.validator(text[start:end], match):
            return None
        return start, end


def _pruned(words: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """`words` without those that start with another of them (`*pass` finds every place
    `*passphrase` would): the same places, fewer searches of the text."""
    if words is None:
        return None

    def covers(shorter: str, longer: str) -> bool:
        anywhere = shorter.startswith("*")
        if not anywhere and longer.startswith("*"):
            return False  # "pass" (at a word start) does not find every "*passphrase"
        a, b = shorter.lstrip("*"), longer.lstrip("*")
        return a != b and b.startswith(a)

    return tuple(w for w in words if not any(covers(other, w) for other in words))


def _anchored(
    compiled: Any, text: str, found_words: keywords.Occurrences, words: tuple[str, ...]
) -> list[Any]:
    """Matches of `compiled` tried only where one of `words` starts: not after a letter, or
    anywhere for words written with a leading "*" (`*password` also finds PGPASSWORD). The
    places come from the block's keyword pass (policies.redaction.keywords)."""
    found = []
    starts = set()
    lowered = found_words.lowered
    for word in words:
        anywhere = word.startswith("*")
        places = found_words.places(word.lstrip("*"))
        if anywhere:
            starts.update(places)
        else:
            starts.update(at for at in places if not (at and lowered[at - 1].isalpha()))
    reach = -1
    for at in sorted(starts):
        if at < reach:
            continue
        match = compiled.match(text, at)
        if match is not None:
            found.append(match)
            reach = match.end()
    return found


class GatewayEmailRecognizer(GatewayRecognizer):
    """Matches from the "@" (a literal anchor: ~1 µs per KB instead of ~100 for a pattern that
    starts with the local part) and extends the span left over the local part. The user part
    of a URL (`ssh://deploy@host`, `https://user@host`) is not an address."""

    def refine(self, text: str, start: int, end: int, match: Any) -> tuple[int, int] | None:
        left = start
        floor = max(0, start - 64)
        while left > floor and (text[left - 1].isalnum() or text[left - 1] in "._%+-"):
            left -= 1
        while left < start and not text[left].isalnum():
            left += 1
        if left == start or text[max(0, left - 3) : left] == "://" or text[left - 1 : left] == ":":
            return None
        return super().refine(text, left, end, match)


class GatewayPhoneRecognizer(GatewayRecognizer):
    """A greedy match may swallow a following number ("+1 415 555 0132 2024"): when the whole
    match is not a valid number, retry without its trailing groups."""

    def refine(self, text: str, start: int, end: int, match: Any) -> tuple[int, int] | None:
        while end - start >= 8:
            value = text[start:end]
            if value.startswith("00"):  # the international dialling prefix: "0044 20 ..."
                value = "+" + value[2:]
            if v.phone_ok(value, None if value[0] == "+" else "US"):
                return start, end
            cut = max(text.rfind(sep, start, end) for sep in " .-")
            if cut <= start:
                return None
            end = cut
        return None


# Tokens of other services, recognisable by their published prefix: (name, pattern, type).
SERVICE_TOKENS: tuple[tuple[str, str, str], ...] = (
    ("huggingface", r"hf_[A-Za-z0-9]{30,40}", "HUGGINGFACE_TOKEN"),
    ("twilio", r"SK[0-9a-f]{32}", "TWILIO_KEY"),
    ("mailgun", r"key-[0-9a-f]{32}", "MAILGUN_KEY"),
    ("shopify", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", "SHOPIFY_TOKEN"),
    ("digitalocean", r"do[opr]_v1_[a-f0-9]{64}", "DIGITALOCEAN_TOKEN"),
    ("vault", r"hv[sbr]\.[A-Za-z0-9_-]{24,}", "VAULT_TOKEN"),
    ("laravel", r"base64:[A-Za-z0-9+/]{43}=", "APP_KEY"),
    ("atlassian", r"ATATT3[A-Za-z0-9_=-]{150,}", "ATLASSIAN_TOKEN"),
    ("linear", r"lin_(?:api|oauth)_[A-Za-z0-9]{40}", "LINEAR_KEY"),
    ("notion", r"(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,50})", "NOTION_TOKEN"),
    ("postman", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", "POSTMAN_KEY"),
    ("doppler", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}", "DOPPLER_TOKEN"),
    (
        "grafana",
        r"(?:glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,2})",
        "GRAFANA_TOKEN",
    ),
    ("newrelic", r"NRAK-[A-Z0-9]{27}", "NEWRELIC_KEY"),
    ("sentry", r"sntr[ysu]_[A-Za-z0-9+/=_]{40,200}", "SENTRY_TOKEN"),
    ("supabase", r"sbp_[a-f0-9]{40}", "SUPABASE_TOKEN"),
    ("databricks", r"dapi[a-f0-9]{32}(?:-\d)?", "DATABRICKS_TOKEN"),
    ("square", r"(?:sq0atp|sq0csp)-[A-Za-z0-9_-]{22,43}|EAAA[A-Za-z0-9_-]{60}", "SQUARE_TOKEN"),
    ("telegram", r"\d{8,10}:AA[A-Za-z0-9_-]{33}", "TELEGRAM_TOKEN"),
    ("planetscale", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}", "PLANETSCALE_TOKEN"),
    ("pulumi", r"pul-[a-f0-9]{40}", "PULUMI_TOKEN"),
    ("terraform", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}", "TERRAFORM_TOKEN"),
    ("age", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", "AGE_KEY"),
    ("mapbox", r"sk\.eyJ[A-Za-z0-9_-]{50,}\.[A-Za-z0-9_-]{20,}", "MAPBOX_TOKEN"),
    ("openrouter", r"sk-or-v1-[a-f0-9]{64}", "OPENROUTER_KEY"),
    ("groq", r"gsk_[A-Za-z0-9]{52}", "GROQ_KEY"),
    ("replicate", r"r8_[A-Za-z0-9]{37}", "REPLICATE_TOKEN"),
    ("resend", r"re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}", "RESEND_KEY"),
)


class ServiceTokenRecognizer(GatewayRecognizer):
    """Each pattern is one service; the placeholder type says which."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._types = {name: type_ for name, _rx, type_ in SERVICE_TOKENS}
        self._pattern_names = {
            id(c): p.name for c, p in zip(self.compiled, self.patterns, strict=True)
        }

    def type_for(self, match: Any) -> str:
        return self._types.get(self._pattern_names.get(id(match.re), ""), self.placeholder_type)


_DIGIT_GROUP_BEFORE = regex.compile(r"(?:\+?\d{1,4}|\(\d{1,4}\))[ .-]$")


def _ssn_validator(value: str, match: Any) -> bool:
    """A valid SSN that is not the tail of a longer number ("+992 372 17 0232")."""
    start = match.start("v")
    if _DIGIT_GROUP_BEFORE.search(match.string, max(0, start - 7), start):
        return False
    return v.ssn_ok(value)


def _email_validator(value: str, match: Any) -> bool:
    local, _, domain = value.rpartition("@")
    tld = domain.rsplit(".", 1)[-1].lower()
    return bool(local) and local.lower() != "git" and tld not in _FILE_EXTENSIONS


_FILE_EXTENSIONS = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "ico",
        "bmp",
        "js",
        "mjs",
        "cjs",
        "ts",
        "tsx",
        "jsx",
        "py",
        "rb",
        "go",
        "rs",
        "java",
        "kt",
        "css",
        "scss",
        "html",
        "json",
        "yaml",
        "yml",
        "toml",
        "md",
        "txt",
        "lock",
        "sh",
        "log",
        "xml",
        "csv",
        "pdf",
        "zip",
        "gz",
        "tar",
        "wasm",
        "map",
        "vue",
    ]
)


def build_recognizers() -> list[GatewayRecognizer]:
    """One recognizer per rule of policies.redaction.rules (except the NER ones)."""
    from policies.redaction.assigned import build_assigned_recognizer

    cs = 0  # case-sensitive
    token_left = string.ascii_letters + string.digits + "_-"
    end = r"(?![A-Za-z0-9_-])"
    return [
        GatewayEmailRecognizer(
            rule_id="email",
            placeholder_type="EMAIL",
            priority=40,
            validator=_email_validator,
            patterns=[
                (
                    "email",
                    r"(?P<v>(?<=[A-Za-z0-9_%+-])@"
                    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})"
                    r"(?![\w-]|\.[A-Za-z0-9])",
                )
            ],
        ),
        GatewayPhoneRecognizer(
            rule_id="phone",
            placeholder_type="PHONE",
            priority=30,
            left_boundary=string.ascii_letters + string.digits + "_+/.=-",
            patterns=[
                (
                    "international",
                    r"(?P<v>\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){2,6})(?![\w/]|[.-]\d)",
                ),
                (
                    "international_00",
                    r"(?P<v>00[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){2,6})(?![\w/]|[.-]\d)",
                ),
                (
                    "north_american",
                    r"(?P<v>(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4})(?![\w/]|[.-]\d)",
                ),
            ],
        ),
        GatewayRecognizer(
            rule_id="us_ssn",
            placeholder_type="US_SSN",
            priority=35,
            validator=_ssn_validator,
            left_boundary=string.ascii_letters + string.digits + "_.-+",
            patterns=[("ssn", r"(?P<v>\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})(?![\w-]|\.\d| \d)")],
        ),
        GatewayRecognizer(
            rule_id="credit_card",
            placeholder_type="CREDIT_CARD",
            priority=45,
            validator=lambda value, m: v.credit_card_ok(value),
            left_boundary=string.ascii_letters + string.digits + "_.+-",
            patterns=[("card", r"(?P<v>\d{4}(?:[ -]?\d){9,15})(?![\w-]|\.\d)")],
        ),
        GatewayRecognizer(
            rule_id="iban",
            placeholder_type="IBAN",
            priority=45,
            validator=lambda value, m: v.iban_ok(value),
            patterns=[
                (
                    "iban",
                    r"(?<![\w])(?P<v>[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)(?![\w])",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="ip_address",
            placeholder_type="IP_ADDRESS",
            priority=30,
            validator=lambda value, m: v.ipv6_ok(value) if ":" in value else v.ipv4_ok(value),
            patterns=[
                ("ipv4", r"(?<![\w.])(?P<v>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\w]|\.\d)"),
                (
                    "ipv6",
                    r"(?<![\w:.])(?P<v>(?:[0-9A-Fa-f]{1,4}:|::)(?:[0-9A-Fa-f]{0,4}:){1,6}"
                    r"[0-9A-Fa-f]{1,4}(?:%\w+)?)(?=:\d{1,5}(?![\w:])|[^\w:]|$)",
                ),
            ],
        ),
        GatewayRecognizer(
            rule_id="aws",
            placeholder_type="AWS_KEY",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                (
                    "access_key_id",
                    rf"(?P<v>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{{16}}){end}",
                ),
                # The secret right after its key id: NewStaticCredentials("AKIA…", "…"), the
                # console's CSV export "AKIA…,…".
                (
                    "positional_secret",
                    r"(?:AKIA|ASIA)[A-Z0-9]{16}[\"']?[ \t]*[,:=][ \t]*[\"']?(?P<v>[A-Za-z0-9/+]{40})"
                    r"(?![A-Za-z0-9/+=])",
                ),
                (
                    "secret_access_key",
                    r"(?i:aws_?secret_?access_?key|aws_?secret(?:_?key)?|secret_?access_?key)"
                    r"[\"']?[ \t]*(?::=|=>|=|:)[ \t]*[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
                ),
            ],
        ),
        GatewayRecognizer(
            rule_id="github",
            placeholder_type="GITHUB_TOKEN",
            priority=90,
            flags=cs,
            patterns=[
                (
                    "github",
                    r"(?<![A-Za-z0-9_])(?P<v>gh[pousr]_[A-Za-z0-9]{36,251}|"
                    r"github_pat_[A-Za-z0-9_]{50,255})(?![A-Za-z0-9_])",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="gitlab",
            placeholder_type="GITLAB_TOKEN",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                (
                    "gitlab",
                    rf"(?P<v>gl(?:pat|ptt|dt|rt|cbt|soat|ft|imt|agent|oas|ffct)-"
                    rf"[A-Za-z0-9_-]{{20,80}}|GR1348941[A-Za-z0-9_-]{{20,}}){end}",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="openai",
            placeholder_type="OPENAI_KEY",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                (
                    "openai",
                    rf"(?P<v>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{{16,}}T3BlbkFJ"
                    rf"[A-Za-z0-9_-]{{16,}}|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{40,}}|"
                    rf"sk-[A-Za-z0-9]{{48}}){end}",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="anthropic",
            placeholder_type="ANTHROPIC_KEY",
            priority=92,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                (
                    "anthropic",
                    rf"(?P<v>sk-ant-(?:api|admin|oat|ort|sid)\d\d-[A-Za-z0-9_-]{{20,}}){end}",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="google",
            placeholder_type="GOOGLE_KEY",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                ("api_key", rf"(?P<v>AIza[0-9A-Za-z_-]{{35}}){end}"),
                ("oauth_secret", rf"(?P<v>GOCSPX-[A-Za-z0-9_-]{{28}}){end}"),
                ("oauth_token", rf"(?P<v>ya29\.[0-9A-Za-z_-]{{20,}}){end}"),
            ],
        ),
        GatewayRecognizer(
            rule_id="azure",
            placeholder_type="AZURE_KEY",
            priority=88,
            flags=cs,
            patterns=[
                (
                    "storage_key",
                    r"(?i:AccountKey|SharedAccessKey)=(?P<v>[A-Za-z0-9+/]{32,88}={0,2})",
                ),
                ("sas_signature", r"[?&]sig=(?P<v>[A-Za-z0-9%+/=]{30,})"),
                # Entra ID client secrets: 3 chars, a digit, "Q~", then 31-34 chars.
                (
                    "client_secret",
                    r"(?<![\w~.-])(?P<v>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![\w~.-])",
                ),
                (
                    "subscription_key",
                    r"(?i:ocp-apim-subscription-key|azure[\w-]{0,30}(?:key|secret))"
                    r"[\"']?[ \t]*(?::=|=>|=|:)[ \t]*[\"']?(?P<v>[a-fA-F0-9]{32})(?![A-Za-z0-9])",
                ),
            ],
        ),
        GatewayRecognizer(
            rule_id="slack",
            placeholder_type="SLACK_TOKEN",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                (
                    "token",
                    rf"(?P<v>xox[abposre]-[A-Za-z0-9-]{{10,250}}|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+){end}",
                ),
                (
                    "webhook",
                    r"(?P<v>https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,})",
                ),
            ],
        ),
        GatewayRecognizer(
            rule_id="stripe",
            placeholder_type="STRIPE_KEY",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                (
                    "stripe",
                    rf"(?P<v>(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{{20,247}}|whsec_[A-Za-z0-9+/=]{{32,}}){end}",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="sendgrid",
            placeholder_type="SENDGRID_KEY",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[("sendgrid", rf"(?P<v>SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}){end}")],
        ),
        GatewayRecognizer(
            rule_id="datadog",
            placeholder_type="DATADOG_KEY",
            priority=88,
            flags=cs,
            patterns=[
                (
                    "datadog",
                    r"(?i:(?:dd|datadog)[_-]?(?:api|app|application)[_-]?key)[\"']?"
                    r"[ \t]*(?::=|=>|=|:)[ \t]*[\"']?(?P<v>[a-f0-9]{40}|[a-f0-9]{32})(?![A-Za-z0-9])",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="npm",
            placeholder_type="NPM_TOKEN",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[("npm", rf"(?P<v>npm_[A-Za-z0-9]{{36}}){end}")],
        ),
        GatewayRecognizer(
            rule_id="pypi",
            placeholder_type="PYPI_TOKEN",
            priority=90,
            flags=cs,
            left_boundary=token_left,
            patterns=[("pypi", rf"(?P<v>pypi-AgE[IN][A-Za-z0-9_-]{{50,}}){end}")],
        ),
        GatewayRecognizer(
            rule_id="jwt",
            placeholder_type="JWT",
            priority=85,
            flags=cs,
            left_boundary=token_left,
            patterns=[
                (
                    "jwt",
                    rf"(?P<v>eyJ[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]*){end}",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="private_key",
            placeholder_type="PRIVATE_KEY",
            priority=100,
            flags=cs,
            patterns=[
                (
                    "pem",
                    r"(?P<v>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                    r"[\s\S]{16,16384}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)",
                ),
                # Truncated (a log line cut, a partial paste): the header and the body that follows.
                (
                    "pem_truncated",
                    r"(?P<v>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                    r"(?:\\[rn]|\s)*[A-Za-z0-9+/=]{16,}(?:(?:\\[rn]|\s)+[A-Za-z0-9+/=]{4,})*)",
                ),
            ],
        ),
        GatewayRecognizer(
            rule_id="connection_password",
            placeholder_type="PASSWORD",
            priority=80,
            flags=cs,
            validator=lambda value, m: v.url_password_ok(value),
            patterns=[
                (
                    "url_credentials",
                    # The password runs to the last "@" that a host name or address follows
                    # (a literal "@" inside the password is common and legal in practice).
                    r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/@'\"`]{0,128}:"
                    r"(?P<v>[^\s'\"`;]{1,256}?)@(?=(?:(?:[\w-]+\.)*[\w-]*[A-Za-z][\w-]*"
                    r"|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,8})"
                    r"(?:[:/?#\s'\"`,;)\]}]|$))",
                )
            ],
        ),
        GatewayRecognizer(
            rule_id="gateway_key",
            placeholder_type="GATEWAY_KEY",
            priority=95,
            flags=cs,
            left_boundary=token_left,
            patterns=[("gateway_key", rf"(?P<v>gw_(?:sk|pt)_[a-z0-9]{{12}}_[a-z0-9]{{20,}}){end}")],
        ),
        build_assigned_recognizer(),
        ServiceTokenRecognizer(
            rule_id="service_tokens",
            placeholder_type="API_TOKEN",
            priority=88,
            flags=cs,
            left_boundary=token_left,
            patterns=[(name, rf"(?P<v>{rx}){end}") for name, rx, _t in SERVICE_TOKENS],
        ),
    ]


def as_results(recognizer: Any, found: list[tuple[int, int, int, str]]) -> list[RecognizerResult]:
    """(priority, start, end, type) detections of one of our recognizers as presidio's
    RecognizerResults (for presidio's own engine; the scanner reads the tuples)."""
    entity = recognizer.supported_entities[0]
    return [
        RecognizerResult(
            entity,
            start,
            end,
            1.0,
            recognition_metadata={
                "recognizer_name": recognizer.name,
                "priority": priority,
                "type": type_,
            },
        )
        for priority, start, end, type_ in found
    ]
