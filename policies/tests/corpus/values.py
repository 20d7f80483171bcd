"""Generators of realistic-looking but fake sensitive values (valid checksums where the type has
one) and of values that must stay intact. Seeded, so the corpus is the same on every run.
Never real secrets: every value is random characters in the provider's published shape.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid

import phonenumbers

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64URL = ALNUM + "-_"


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    # ---- PII -------------------------------------------------------------------------------
    def email(self) -> str:
        first = self.r.choice(
            ["maria", "j.smith", "li.wei", "omar", "anna-lena", "k.nakamura", "priya", "tom+ci"]
        )
        domain = self.r.choice(
            ["acme-corp.io", "globex.com", "initech.co.uk", "umbrella.de", "mail.contoso.net"]
        )
        return f"{first}{self.r.randint(1, 999)}@{domain}"

    def phone(self) -> str:
        region = self.r.choice(["US", "GB", "DE", "FR", "IN", "BR", "AU", "JP"])
        for _ in range(200):
            example = phonenumbers.example_number_for_type(
                region, phonenumbers.PhoneNumberType.MOBILE
            )
            national = str(example.national_number)
            digits = national[:3] + self.s(string.digits, len(national) - 3)
            number = phonenumbers.parse(f"+{example.country_code}{digits}")
            if phonenumbers.is_valid_number(number):
                style = self.r.choice(
                    [
                        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                        phonenumbers.PhoneNumberFormat.E164,
                    ]
                )
                if region == "US" and self.r.random() < 0.4:
                    style = phonenumbers.PhoneNumberFormat.NATIONAL
                return phonenumbers.format_number(number, style)
        raise RuntimeError("no valid phone number generated")

    def us_ssn(self) -> str:
        area = self.r.choice([n for n in range(1, 900) if n != 666])
        return f"{area:03d}-{self.r.randint(1, 99):02d}-{self.r.randint(1, 9999):04d}"

    def credit_card(self) -> str:
        prefix, length = self.r.choice(
            [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15), ("6011", 16)]
        )
        body = prefix + self.s(string.digits, length - len(prefix) - 1)
        for check in string.digits:
            candidate = body + check
            total = 0
            for i, c in enumerate(reversed(candidate)):
                d = int(c) * (2 if i % 2 else 1)
                total += d - 9 if d > 9 else d
            if total % 10 == 0:
                break
        if self.r.random() < 0.5 and length == 16:
            return " ".join(candidate[i : i + 4] for i in range(0, 16, 4))
        return candidate

    def iban(self) -> str:
        country, bban_len = self.r.choice(
            [("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14), ("ES", 20)]
        )
        if country == "GB":
            bban = self.s(string.ascii_uppercase, 4) + self.s(string.digits, 14)
        elif country == "NL":
            bban = self.s(string.ascii_uppercase, 4) + self.s(string.digits, 10)
        else:
            bban = self.s(string.digits, bban_len)
        numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
        check = 98 - int(numeric) % 97
        iban = f"{country}{check:02d}{bban}"
        if self.r.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def ip_address(self) -> str:
        if self.r.random() < 0.2:
            return f"2001:db8:{self.r.randint(1, 0xFFFF):x}::{self.r.randint(1, 0xFFFF):x}"
        first = self.r.choice([10, 172, 192, 34, 52, 81, 203])
        return f"{first}.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}"

    # ---- secrets ---------------------------------------------------------------------------
    def aws_key(self) -> str:
        return "AKIA" + self.s(string.ascii_uppercase + "234567", 16)

    def aws_secret(self) -> str:
        return self.s(ALNUM + "/+", 40)

    def github_token(self) -> str:
        if self.r.random() < 0.3:
            return "github_pat_" + self.s(ALNUM, 22) + "_" + self.s(ALNUM, 59)
        return self.r.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + self.s(ALNUM, 36)

    def gitlab_token(self) -> str:
        return "glpat-" + self.s(ALNUM + "-_", 20)

    def openai_key(self) -> str:
        if self.r.random() < 0.5:
            return "sk-proj-" + self.s(B64URL, 74) + "T3BlbkFJ" + self.s(B64URL, 74)
        return "sk-" + self.s(ALNUM, 20) + "T3BlbkFJ" + self.s(ALNUM, 20)

    def anthropic_key(self) -> str:
        return "sk-ant-api03-" + self.s(B64URL, 93) + "AA"

    def google_key(self) -> str:
        return "AIza" + self.s(B64URL, 35)

    def azure_key(self) -> str:
        return self.s(ALNUM + "+/", 86) + "=="

    def slack_token(self) -> str:
        return f"xoxb-{self.r.randint(10**10, 10**11)}-{self.r.randint(10**12, 10**13)}-{self.s(ALNUM, 24)}"

    def slack_webhook(self) -> str:
        return f"https://hooks.slack.com/services/T{self.s(string.ascii_uppercase + string.digits, 8)}/B{self.s(string.ascii_uppercase + string.digits, 10)}/{self.s(ALNUM, 24)}"

    def stripe_key(self) -> str:
        return self.r.choice(["sk_live_", "rk_live_", "sk_test_"]) + self.s(ALNUM, 24)

    def sendgrid_key(self) -> str:
        return "SG." + self.s(B64URL, 22) + "." + self.s(B64URL, 43)

    def datadog_key(self) -> str:
        return self.s(HEX, 32)

    def npm_token(self) -> str:
        return "npm_" + self.s(ALNUM, 36)

    def pypi_token(self) -> str:
        return "pypi-AgEIcHlwaS5vcmc" + self.s(B64URL, 70)

    def jwt(self) -> str:
        def seg(obj: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        header = seg({"alg": "HS256", "typ": "JWT"})
        payload = seg(
            {"sub": str(self.r.randint(1000, 99999)), "iat": 1716239022 + self.r.randint(0, 10**6)}
        )
        return f"{header}.{payload}.{self.s(B64URL, 43)}"

    def private_key(self) -> str:
        kind = self.r.choice(
            ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]
        )
        body = "\n".join(self.s(ALNUM + "+/", 64) for _ in range(self.r.randint(4, 9)))
        return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"

    def password(self) -> str:
        return (
            self.s(ALNUM, self.r.randint(6, 10))
            + self.r.choice("!#%&*?$")
            + self.s(string.digits, 2)
        )

    def gateway_key(self) -> str:
        return (
            f"gw_{self.r.choice(['sk', 'pt'])}_{self.s(LOWER_ALNUM, 12)}_{self.s(LOWER_ALNUM, 40)}"
        )

    def secret(self) -> str:
        return self.s(ALNUM, self.r.randint(24, 40))

    # ---- negatives -------------------------------------------------------------------------
    def uuid(self) -> str:
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def git_sha(self) -> str:
        return self.s(HEX, 40) if self.r.random() < 0.5 else self.s(HEX, 7)

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.s(ALNUM, 16).encode()).hexdigest()

    def version(self) -> str:
        return (
            self.r.choice(["", "v"])
            + f"{self.r.randint(0, 20)}.{self.r.randint(0, 40)}.{self.r.randint(0, 99)}"
        )

    def hex_colour(self) -> str:
        return "#" + self.s("0123456789abcdefABCDEF", self.r.choice([3, 6]))

    def port(self) -> str:
        return str(self.r.choice([80, 443, 3000, 5432, 6379, 8000, 8080, 9200, 27017]))

    def timestamp(self) -> str:
        y, mo, d = self.r.randint(2019, 2026), self.r.randint(1, 12), self.r.randint(1, 28)
        h, mi, s = self.r.randint(0, 23), self.r.randint(0, 59), self.r.randint(0, 59)
        style = self.r.choice(["iso", "log", "epoch", "epoch_ms"])
        if style == "iso":
            return f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{self.r.randint(0, 999):03d}Z"
        if style == "log":
            return f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d},{self.r.randint(0, 999):03d}"
        if style == "epoch":
            return str(self.r.randint(1_500_000_000, 1_800_000_000))
        return str(self.r.randint(1_500_000_000_000, 1_800_000_000_000))

    def doc_url(self) -> str:
        return self.r.choice(
            [
                "https://docs.python.org/3/library/asyncio-task.html#asyncio.wait_for",
                "https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Authorization",
                "https://docs.djangoproject.com/en/5.2/ref/models/querysets/#select-for-update",
                "https://kubernetes.io/docs/concepts/configuration/secret/",
                "https://platform.openai.com/docs/api-reference/chat/create",
                "https://docs.anthropic.com/en/api/messages-streaming",
                "https://github.com/psf/requests/blob/main/src/requests/sessions.py#L500",
            ]
        )

    def ticket_id(self) -> str:
        return (
            self.r.choice(["JIRA", "OPS", "SEC", "PLAT", "INC"]) + f"-{self.r.randint(10, 99999)}"
        )

    def identifier(self) -> str:
        return self.r.choice(
            [
                "max_tokens",
                "token_count",
                "password_hash",
                "secret_name",
                "api_key_id",
                "access_token_url",
                "get_password()",
                "tokenizer",
                "PasswordResetForm",
                "auth_backend",
                "SECRET_KEY_FALLBACKS",
                "credentials_path",
                "primary_key",
                "user_id",
                "request_timeout",
                "is_authenticated",
            ]
        )

    def base64_image(self) -> str:
        return "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA" + self.s(ALNUM + "+/", 120) + "=="

    def long_id(self) -> str:
        return self.r.choice(["req_", "cus_", "evt_", "run-", "job-", "msg_"]) + self.s(
            LOWER_ALNUM, 24
        )

    def numeric_id(self) -> str:
        return str(self.r.randint(10**5, 10**12))

    def k8s_name(self) -> str:
        return f"api-{self.s(LOWER_ALNUM, 10)}-{self.s(LOWER_ALNUM, 5)}"
