"""Secrets found by the name they are given: `password = ...`, `"client_secret": "..."`,
`<password>...</password>`, `-p ...` on a command line, "the password is ...", a key/value pair
of an environment listing, a cookie, an `Authorization` header.

The rule `assigned_secret`: a value whose name ends with a password word is a PASSWORD (any
literal that is not a reference, a placeholder or a variable name); a value named like a token,
key or secret is a SECRET when it looks random (length, character classes, entropy). Long name
words (`password`, `secret`, `token`) may carry any prefix (`PGPASSWORD`, `csrftoken`,
`NEXTAUTH_SECRET`); short ones (`pass`, `pwd`, `key`, `auth`, `sid`) must start the name or
follow a separator (`bypass`, `monkey` are not names of secrets). The name must END with the
word: `max_tokens`, `token_url`, `password_hash`, `api_key_id` do not.
"""

from __future__ import annotations

import re
from typing import Any

import regex

from policies.redaction import validators as v
from policies.redaction.recognizers import GatewayRecognizer

_PASSWORD_WORDS = r"passw(?:or)?d|passwd|passphrase|passcode"
_PASSWORD_SHORT = r"pwd|pass|pw"
_SECRET_WORDS = (
    r"secret|token|credentials?|apikey|api[_-]?key|cookie|sessionid|session[_-]id|"
    r"secret[_-]?key[_-]?base|key[_-]?id"
)
_SECRET_SHORT = (
    r"(?:secret|api|access|private|auth|signing|encryption|master|hmac|license|licence|deploy|"
    r"app|session|client|consumer|shared|webhook|admin|root|service|bot|refresh|jwt|cookie|"
    r"account|storage|subscription|sas|encryption|crypt|cipher|aes|rsa|ssh|gpg|pgp|sign|"
    r"verify|verification|salt|pepper|otp|totp|mfa|recovery|master)[_-]?key|"
    r"auth|sid|csrf|xsrf|_csrf|authenticity[_-]token|key"
)
_NAME_TAIL = r"(?![A-Za-z0-9])(?:[\"'\]]?)"  # end of the identifier, an optional closing quote
_NAME = (
    rf"(?:(?:{_PASSWORD_WORDS}|{_SECRET_WORDS})|(?<![A-Za-z0-9])(?:{_PASSWORD_SHORT}|{_SECRET_SHORT})"
    rf"|(?<=[_.-])(?:{_PASSWORD_SHORT}|{_SECRET_SHORT}))"
)
_ASSIGN = r"[ \t]*(?::=|=>|=|:)[ \t]*"
# A literal: quoted (with a string prefix: b"...", r'...', f"..."), or bare to a delimiter.
_VALUE = (
    r"(?:(?:[bBrRuUfF]{1,2}(?=[\"']))?(?P<q>[\"'`])(?P<v>[^\"'`\r\n]{1,2048})(?P=q)"
    r"|(?P<v>[^\s\"'`,;(){}\[\]<>]{1,2048}+)(?![(\[]))"
)
_NAME_BEFORE = regex.compile(rf"(?i)({_NAME}){_NAME_TAIL}[ \t]*$")
_PASSWORD_NAME = regex.compile(rf"(?i)(?:[\w.-]*(?:{_PASSWORD_WORDS})|{_PASSWORD_SHORT})")
# Names of values that are keys of a cache, a partition, a public key...: never a secret.
_NOT_SECRET_NAMES = regex.compile(
    r"(?i)(?:^|[_.-])(?:public|primary|foreign|cache|idempotency|partition|sort|object|bucket|routing|"
    r"lookup|row|range|hash|group|dedup|dedupe|index|map|dict|sign_in|i18n|translation|"
    r"message|locale|redis|s3|file|path|ssh_public|host|license_plate|max|min)[_-]?key$"
)
_HASH_WORDS = regex.compile(
    r"(?i)sha\d*|md5|hash|digest|checksum|commit|etag|integrity|fingerprint|uuid|\bid\b|"
    r"request|trace|span|build|revision|version|sum\b"
)


# Long name words may end any identifier; short ones start it or follow a separator (the
# pattern's own look-behinds check that).
_ASSIGNMENT_ANCHORS = tuple(
    [
        "*passw",
        "*passphrase",
        "*passcode",
        "*secret",
        "*token",
        "*credential",
        "*apikey",
        "*api_key",
        "*api-key",
        "*cookie",
        "*sessionid",
        "*session_id",
        "*session-id",
        "*key",
        "*pwd",
        "*pass",
        "*pw",
        "*auth",
        "*sid",
        "*csrf",
        "*xsrf",
    ]
)
_PGPASS_GATE = re.compile(r":(?:\d{1,5}|\*):[\w.*-]+:[\w.*@-]+:\S")
_ASSIGNED_AFTER = regex.compile(r"[\"'\]]?[ \t]*(?::=|=>|=|:)")
_SENTENCE_END = regex.compile(r"[.;!?][`'\")\]]*\s")
# Names a front-end build exposes to every browser (Next.js, Vite, Create React App, Laravel
# Mix, Expo, Gatsby): their keys are publishable by design; passwords and secrets still count.
_PUBLIC_PREFIX = regex.compile(
    r"(?i)^(?:next_public|vite|react_app|mix|expo_public|gatsby|public|nuxt_public)_"
)


def name_of(match: Any) -> str:
    """The name a value is assigned to: the `name` group, or (operator-anchored pattern) the
    name word right before the operator."""
    groups = match.groupdict()
    if groups.get("name"):
        left = match.start("name")
        while left > 0 and (match.string[left - 1].isalnum() or match.string[left - 1] in "_"):
            left -= 1
        return match.string[left : match.end("name")].lower()
    if groups.get("op") is None:
        return ""
    start = match.start()
    found = _NAME_BEFORE.search(match.string, max(0, start - 80), start)
    if found is None:
        return ""
    # The whole identifier, for the checks that read more than the name word.
    left = found.start(1)
    while left > 0 and (match.string[left - 1].isalnum() or match.string[left - 1] in "_.-"):
        left -= 1
    return match.string[left : found.end(1)].lower()


_ENV_NAME = regex.compile(r"[A-Z][A-Z0-9_]*")


def _raw_name(match: Any) -> str:
    """The identifier before the operator, as written (case kept)."""
    start = match.start("name") if match.groupdict().get("name") else match.start()
    end = match.end("name") if match.groupdict().get("name") else match.start()
    while start > 0 and (match.string[start - 1].isalnum() or match.string[start - 1] == "_"):
        start -= 1
    return match.string[start:end]


def is_password_name(name: str) -> bool:
    return bool(name) and _PASSWORD_NAME.fullmatch(name) is not None


class AssignedSecretRecognizer(GatewayRecognizer):
    """`password = ...` gives PASSWORD, `api_token: ...` gives SECRET."""

    def refine(self, text: str, start: int, end: int, match: Any) -> tuple[int, int] | None:
        # `Cookie: sessionid=...`: the secret is the cookie's value, not its name.
        if text[start:end].find("=") > 0 and name_of(match).endswith("cookie"):
            start += text[start:end].index("=") + 1
        # A query parameter (`?api_key=...&from=...`) ends at the next "&".
        if "&" in text[start:end]:
            left = match.start()
            while left > 0 and (text[left - 1].isalnum() or text[left - 1] in "_-."):
                left -= 1
            if left > 0 and text[left - 1] in "?&":
                end = text.index("&", start, end)
        return super().refine(text, start, end, match)

    def type_for(self, match: Any) -> str:
        groups = match.groupdict()
        if groups.get("pw") is not None:
            return "PASSWORD"
        if groups.get("ctx") is not None:
            return "PASSWORD" if is_password_name(str(groups.get("word") or "")) else "SECRET"
        return "PASSWORD" if is_password_name(name_of(match)) else "SECRET"


def _validator(value: str, match: Any) -> bool:
    groups = match.groupdict()
    if groups.get("qq") is not None:
        return v.random_token_ok(value)
    quoted = bool(groups.get("q"))
    if groups.get("pw") is not None:
        return v.password_value_ok(value, quoted=quoted) and not v.port_or_number(value)
    if groups.get("ctx") is not None:
        return _context_token_ok(value, match)
    if groups.get("sig") is not None:
        return _entropy(value) >= 3.2 and not v.identifier_like(value)
    name = name_of(match)
    if is_password_name(name):
        # Unquoted after ":" (YAML, properties) or under an UPPER_CASE name (.env): a literal
        # even when it reads like an identifier; in code, `password = userPassword` is not.
        literal = quoted or groups.get("op") == ":" or _ENV_NAME.fullmatch(_raw_name(match))
        return v.password_value_ok(value, quoted=bool(literal))
    if _NOT_SECRET_NAMES.search(name):
        return False
    if _PUBLIC_PREFIX.match(name) and not regex.search(r"(?i)secret|token|passw", name):
        return False
    if groups.get("name") and match.re.pattern.startswith("[?&]"):
        return v.secret_value_ok(value.replace("%2B", "+").replace("%2F", "/"), quoted=True) or (
            len(value) >= 16 and v.random_token_ok(value)
        )
    if name.endswith("auth") and v.basic_credentials(value):
        return True  # Docker's config.json "auth": base64 of "user:password"
    if name in ("key", "sid", "auth"):  # a bare generic name: only a clearly random value
        return v.random_token_ok(value) or (
            len(value) >= 24 and v.secret_value_ok(value, quoted=quoted) and _entropy(value) >= 4.0
        )
    return v.secret_value_ok(value, quoted=quoted)


def _entropy(value: str) -> float:
    return v.shannon_entropy(value) if value else 0.0


def _context_token_ok(value: str, match: Any) -> bool:
    """A long random token a few words after "key", "token", "secret", "password": random
    enough, and no hash word ("sha256", "commit", "etag", "request id") nearer than the
    secret word."""
    if len(value) < 20 or value.startswith("[REDACTED:") or "://" in value:
        return False
    text = match.string
    start = match.start("v")
    between = text[match.end("word") : start]
    # The word must be about this value: same sentence, at most three words between.
    if _HASH_WORDS.search(between) or _SENTENCE_END.search(between) or len(between.split()) > 3:
        return False
    left, right = match.start("word"), match.end("word")
    while left > 0 and (text[left - 1].isalnum() or text[left - 1] in "_-"):
        left -= 1
    while right < len(text) and (text[right].isalnum() or text[right] in "_-"):
        right += 1
    if _NOT_SECRET_NAMES.search(text[left:right]):
        return False
    if _ASSIGNED_AFTER.match(text, right):
        return False  # `NAME=value`: the assignment pattern decides, with the name's rules
    hexadecimal = all(c in "0123456789abcdefABCDEF" for c in value)
    if hexadecimal:
        return len(value) in (32, 40, 48, 64) and _entropy(value) >= 3.2
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    if classes < 3 or _entropy(value) < 3.8:
        return False
    return not v.identifier_like(value.replace("-", "_"))


def build_assigned_recognizer() -> AssignedSecretRecognizer:
    return AssignedSecretRecognizer(
        rule_id="assigned_secret",
        placeholder_type="SECRET",
        priority=70,
        flags=regex.IGNORECASE,
        validator=_validator,
        gates={
            "name_value": lambda text: "value" in text or "Value" in text,
            "pgpass": lambda text: _PGPASS_GATE.search(text) is not None,
            "query": lambda text: "?" in text or "&" in text,
        },
        anchors={
            "assignment": _ASSIGNMENT_ANCHORS,
            "camel_assignment": tuple(
                "*" + w
                for w in "password passwd pwd passphrase secret token apikey accesskey privatekey "
                "clientsecret credential secretkey signingkey authtoken accesstoken refreshtoken "
                "key".split()
            ),
            "prose_password": ("passw", "pwd", "passphrase", "passcode"),
            "signature": ("*signature",),
            "user_info": (
                "*user.info",
                "*user_info",
                "*userinfo",
                "*user-info",
                "*basic.auth",
                "*basic_auth",
            ),
            "prose_secret": (
                "token",
                "secret",
                "api key",
                "apikey",
                "access key",
                "key id",
                "key_id",
                "keyid",
                "client secret",
            ),
            "netrc": ("password", "passwd"),
            "context": (
                "key",
                "token",
                "secret",
                "password",
                "credential",
                "apikey",
                "api key",
                "passphrase",
            ),
        },
        patterns=[
            # Anchored on the operator, the name checked by a look-behind: 3-4x faster than a
            # pattern that starts with the case-insensitive name alternation (measured).
            # Tried where a name word starts (found with str.find): the word, the end of the
            # identifier, the operator, the value.
            ("assignment", rf"(?P<name>{_NAME}){_NAME_TAIL}[ \t]*(?P<op>:=|=>|=|:)[ \t]*{_VALUE}"),
            (
                "camel_assignment",
                rf"(?P<name>(?-i:Password|Passwd|Pwd|Passphrase|Secret|"
                rf"Token|ApiKey|AccessKey|PrivateKey|ClientSecret|Credentials?|SecretKey|"
                rf"SigningKey|AuthToken|AccessToken|RefreshToken|Key|KeyId|Signature)){_NAME_TAIL}{_ASSIGN}{_VALUE}",
            ),
            # <password>...</password>, <ApiSecret>...</ApiSecret>
            (
                "xml_element",
                rf"<(?P<name>[\w:.-]*?(?:{_PASSWORD_WORDS}|{_PASSWORD_SHORT}|{_SECRET_WORDS}|"
                rf"[\w-]*key))>(?P<q>)(?P<v>[^<\s][^<\r\n]{{0,2047}}?)</",
            ),
            # <add key="ApiSecret" value="..." />, {"name": "DB_PASSWORD", "value": "..."},
            # Kubernetes env `- name: X` / `value: ...`
            (
                "name_value",
                rf"(?:key|name)[\"']?[ \t]*[=:][ \t]*[\"']?(?P<name>[\w.-]*(?:{_PASSWORD_WORDS}|"
                rf"{_SECRET_WORDS}|pwd|pass|key))[\"']?[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?"
                rf"[\"']?value[\"']?[ \t]*[=:][ \t]*{_VALUE}",
            ),
            (
                "authorization",
                r"(?i:\bauthorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?i:bearer|basic|token|apikey)[ \t]+"
                r"(?P<q>)(?P<v>[A-Za-z0-9._~+/-]{12,}=*)",
            ),
            # Command lines: mysql -pSECRET, docker login -p SECRET, redis-cli -a SECRET,
            # --password=SECRET, curl -u user:SECRET, lftp -u user,SECRET
            (
                "cli_password",
                r"(?<![\w-])(?P<pw>)(?-i:-p|-a|--password|--passwd|--pass)(?:=|[ \t]+|(?<=-p))"
                r"(?P<q>[\"']?)(?P<v>[^\s\"'-][^\s\"']{3,200})(?P=q)(?=[\s;|&)]|$)",
            ),
            (
                "cli_user",
                r"(?<![\w-])(?-i:-u|--user)(?:=|[ \t]+)(?P<q>[\"']?)[^\s:,\"'$]{1,64}[:,]"
                r"(?P<pw>)(?P<v>[^\s\"']{1,200})(?P=q)(?=[\s;|&)]|$)",
            ),
            # Prose: "the password for the staging db is hunter2x", "my token is ..."
            (
                "prose_password",
                rf"(?P<word>{_PASSWORD_WORDS}|password|pwd)(?:[ \t]+(?:for|of|on|to)\s+"
                rf"[^.:=]{{1,40}}?)?[ \t]*(?:[ \t](?:is|was)|=|:|\()[ \t]*(?P<q>[\"'`]?)(?P<pw>)"
                rf"(?P<v>[^\s\"'`]{{6,100}}?)(?P=q)(?=[,;:)!?.]*(?:\s|$)|;[A-Za-z][\w ]{{0,40}}=)",
            ),
            (
                "prose_secret",
                r"(?P<word>token|secret|api key|apikey|access key|key id|key_id|keyid|"
                r"client secret)[ \t]+(?:is|was|=|:)[ \t]+(?P<q>[\"'`]?)(?P<ctx>)"
                r"(?P<v>[A-Za-z0-9+/_~.-]{16,2048}={0,2})(?P=q)(?=[\s,;)!?]|\.(?:\s|$)|$)",
            ),
            # Webhook signatures: Stripe-Signature t=...,v1=<hex>, X-Hub-Signature-256: sha256=<hex>,
            # X-Slack-Signature: v0=<hex>
            (
                "signature",
                r"(?i:signature)[\w-]*[\"']?[ \t]*[:=][ \t]*[\"']?(?:t=\d+,)?(?:v\d=|sha\d+=)?"
                r"(?P<q>)(?P<sig>)(?P<v>[A-Fa-f0-9]{32,128}|[A-Za-z0-9+/]{27,}={0,2})(?![\w+/=])",
            ),
            # "user:password" under a user-info name: schema.registry.basic.auth.user.info=u:p
            (
                "user_info",
                r"(?i:user[._-]?info|basic[._-]?auth[._-]?(?:credentials|user)?)[\"']?[ \t]*[:=][ \t]*"
                r"[\"']?[^\s:\"']{1,64}:(?P<pw>)(?P<q>)(?P<v>[^\s\"';]{1,200})",
            ),
            # Credentials in a query string: ?code=..., &access_token=..., &sig=...
            (
                "query",
                r"[?&](?P<name>code|access_token|id_token|refresh_token|auth_token|token|sig|"
                r"signature|api_key|apikey|key|auth|session|sid|password|pass|pwd|secret|"
                r"client_secret)=(?P<q>)(?P<v>[^&\s\"'#]{8,2048})",
            ),
            # .netrc: "machine h login u password p"; .pgpass: "host:port:db:user:password"
            (
                "netrc",
                r"(?P<pw>)(?-i:password|passwd)[ \t]+(?P<q>)(?P<v>[^\s\"'=:]{4,200})(?=\s|$)",
            ),
            (
                "pgpass",
                r"(?m)^(?P<pw>)[\w.*-]+:(?:\d{1,5}|\*):[\w.*-]+:[\w.*@-]+:(?P<q>)(?P<v>[^\s]{1,200})$",
            ),
            # A long random token a few words after a secret word: "invalid key bs-WOHg...",
            # "the webhook signing secret 53a5...", "HF token hf_..."
            (
                "context",
                r"(?P<word>key|token|secret|password|credential|apikey|api key|"
                r"passphrase)s?\b[^\n]{0,30}?(?<=[\s:=(\"'`])(?P<ctx>)"
                r"(?P<v>[A-Za-z0-9+/_~.-]{20,2048}={0,2})(?![A-Za-z0-9+/_~.=-])",
            ),
            # A quoted random token with no name around it (a positional SQL value, a dict
            # literal): only mixed-case alphanumerics of high entropy, which identifiers, hex
            # ids and UUIDs are not.
            ("quoted_random", r"(?P<qq>[\"'`])(?P<q>)(?P<v>[A-Za-z0-9]{20,64})(?P=qq)"),
            ("bearer", r"(?<![A-Za-z])Bearer[ \t]+(?P<q>)(?P<v>[A-Za-z0-9._~+/-]{20,}=*)"),
        ],
    )
