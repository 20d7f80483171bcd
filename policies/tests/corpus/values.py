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


# ---- the evaluation corpus's generators (tuning and held-out families share them) -------------

_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_PAN_FOURTH = "PCHFATBLJG"
_CF_MONTHS = "ABCDEHLMPRST"
_US_STATES = ("CA", "NY", "TX", "WA", "IL", "MA", "FL", "OR", "CO", "GA")


def _luhn_complete(body: str) -> str:
    for check in string.digits:
        candidate = body + check
        total = 0
        for i, c in enumerate(reversed(candidate)):
            d = int(c) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


class EvalGen(Gen):
    """Every kind the evaluation corpus names: `⟦+kind⟧` positives, `⟦-kind⟧` look-alikes."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        from policies.tests.corpus.people import People

        self.people = People(self.r)
        self._address: tuple[str, str, str] | None = None

    def pick(self, *options: str) -> str:
        return self.r.choice(options)

    # ---- phone numbers: every region phonenumbers knows, national and international ----------
    def _number(self, region: str | None = None) -> phonenumbers.PhoneNumber:
        regions = sorted(phonenumbers.SUPPORTED_REGIONS)
        for _ in range(400):
            reg = region or self.r.choice(regions)
            kind = self.r.choice(
                [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
            )
            example = phonenumbers.example_number_for_type(reg, kind)
            if example is None:
                continue
            national = str(example.national_number)
            keep = max(2, len(national) // 2)
            digits = national[:keep] + self.s(string.digits, len(national) - keep)
            number = phonenumbers.parse(f"+{example.country_code}{digits}")
            if phonenumbers.is_valid_number(number) and (
                phonenumbers.region_code_for_number(number) == reg
            ):
                return number
        raise RuntimeError("no valid phone number generated")

    def phone(self) -> str:
        """International forms, any region."""
        number = self._number(self.r.choice([None, None, "US", "GB", "DE", "FR", "IN", "BR"]))
        fmt = self.r.choice(
            [phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164]
        )
        text = phonenumbers.format_number(number, fmt)
        roll = self.r.random()
        if roll < 0.1 and fmt == phonenumbers.PhoneNumberFormat.INTERNATIONAL:
            text = "00" + text[1:]
        elif roll < 0.2 and fmt == phonenumbers.PhoneNumberFormat.INTERNATIONAL:
            text = text.replace(" ", "-")
        elif roll < 0.25 and fmt == phonenumbers.PhoneNumberFormat.INTERNATIONAL:
            text = text.replace(" ", ".")
        return text

    def phone_national(self) -> str:
        """National forms (as printed in that country), any region; UK and DE often."""
        region = self.r.choice([None, None, None, "GB", "DE", "GB", "DE", "FR", "US", "IN", "AU"])
        number = self._number(region)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    def phone_uk_de(self) -> str:
        number = self._number(self.r.choice(["GB", "DE"]))
        if self.r.random() < 0.3:
            text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            cc, _, rest = text.partition(" ")
            return f"{cc} (0){rest}"
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    # ---- national identifiers ----------------------------------------------------------------
    def _ssn_digits(self) -> str:
        area = self.r.choice([n for n in range(1, 900) if n != 666])
        return f"{area:03d}{self.r.randint(1, 99):02d}{self.r.randint(1, 9999):04d}"

    def us_ssn(self) -> str:
        d = self._ssn_digits()
        sep = self.r.choice(["-", "-", "-", " "])
        return f"{d[:3]}{sep}{d[3:5]}{sep}{d[5:]}"

    def us_ssn_plain(self) -> str:
        return self._ssn_digits()

    def uk_nino(self) -> str:
        while True:
            prefix = self.r.choice(_NINO_FIRST) + self.r.choice(_NINO_SECOND)
            if prefix not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
                break
        digits = self.s(string.digits, 6)
        suffix = self.r.choice("ABCD")
        if self.r.random() < 0.5:
            return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
        return f"{prefix}{digits}{suffix}"

    def ca_sin(self) -> str:
        number = _luhn_complete(self.r.choice("1234567") + self.s(string.digits, 7))
        sep = self.r.choice([" ", "-", ""])
        return f"{number[:3]}{sep}{number[3:6]}{sep}{number[6:]}"

    def in_aadhaar(self) -> str:
        from stdnum import verhoeff

        body = self.r.choice("23456789") + self.s(string.digits, 10)
        number = body + verhoeff.calc_check_digit(body)
        if self.r.random() < 0.7:
            return f"{number[:4]} {number[4:8]} {number[8:]}"
        return number

    def in_pan(self) -> str:
        return (
            self.s(string.ascii_uppercase, 3)
            + self.r.choice(_PAN_FOURTH)
            + self.s(string.ascii_uppercase, 1)
            + self.s(string.digits, 4)
            + self.s(string.ascii_uppercase, 1)
        )

    def es_dni(self) -> str:
        number = self.r.randint(1_000_000, 99_999_999)
        letter = _DNI_LETTERS[number % 23]
        return f"{number:08d}{self.r.choice(['', '-'])}{letter}"

    def es_nie(self) -> str:
        lead = self.r.choice("XYZ")
        body = self.r.randint(0, 9_999_999)
        letter = _DNI_LETTERS[int(f"{'XYZ'.index(lead)}{body:07d}") % 23]
        return f"{lead}{body:07d}{letter}"

    def it_fiscal_code(self) -> str:
        from stdnum.it import codicefiscale

        body = (
            self.s("BCDFGHLMNPRSTVZ", 3)
            + self.s("BCDFGHLMNPRSTVZAEIOU", 3)
            + f"{self.r.randint(40, 99):02d}"
            + self.r.choice(_CF_MONTHS)
            + f"{self.r.randint(1, 31) + self.r.choice([0, 40]):02d}"  # +40: born female
            + self.r.choice("ABCDEFGHLM")
            + f"{self.r.randint(1, 999):03d}"
        )
        return body + codicefiscale.calc_check_digit(body)

    # More countries' identifiers: random parts completed to a valid number by python-stdnum
    # (the check digits or letter tried in turn), in the forms people write them.
    def _completed(self, module: str, body: str, tails: str = string.digits, width: int = 1) -> str:
        import importlib
        import itertools

        check = importlib.import_module(f"stdnum.{module}").is_valid
        for tail in itertools.product(tails, repeat=width):
            candidate = body + "".join(tail)
            if check(candidate):
                return candidate
        return ""

    def _valid(self, module: str, make, tails: str = string.digits, width: int = 1) -> str:
        for _ in range(500):
            found = self._completed(module, make(), tails, width)
            if found:
                return found
        raise RuntimeError(f"no valid {module} generated")

    def _birth(self, century: bool = False) -> tuple[str, str, str]:
        year = self.r.randint(1940, 2004)
        month, day = self.r.randint(1, 12), self.r.randint(1, 28)
        return (f"{year:04d}" if century else f"{year % 100:02d}"), f"{month:02d}", f"{day:02d}"

    def us_itin(self) -> str:
        group = self.r.choice([*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100)])
        number = f"9{self.s(string.digits, 2)}{group:02d}{self.s(string.digits, 4)}"
        return self.r.choice([f"{number[:3]}-{number[3:5]}-{number[5:]}", number])

    def uk_nhs(self) -> str:
        number = self._valid("gb.nhs", lambda: self.s(string.digits, 9))
        return self.r.choice([f"{number[:3]} {number[3:6]} {number[6:]}", number])

    def au_tfn(self) -> str:
        number = self._valid("au.tfn", lambda: self.s(string.digits, 8))
        return self.r.choice([f"{number[:3]} {number[3:6]} {number[6:]}", number])

    def de_tax_id(self) -> str:
        number = self._valid(
            "de.idnr", lambda: self.r.choice("123456789") + self.s(string.digits, 9)
        )
        return self.r.choice([f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:]}", number])

    def fr_nir(self) -> str:
        def body() -> str:
            yy, mm, _ = self._birth()
            return f"{self.r.choice('12')}{yy}{mm}{self.r.randint(1, 95):02d}{self.s(string.digits, 6)}"

        number = self._valid("fr.nir", body, width=2)
        parts = (
            number[0],
            number[1:3],
            number[3:5],
            number[5:7],
            number[7:10],
            number[10:13],
            number[13:],
        )
        return self.r.choice([" ".join(parts), number])

    def nl_bsn(self) -> str:
        number = self._valid(
            "nl.bsn", lambda: self.r.choice("123456789") + self.s(string.digits, 7)
        )
        return self.r.choice([f"{number[:4]}.{number[4:6]}.{number[6:]}", number])

    def pl_pesel(self) -> str:
        def body() -> str:
            yy, mm, dd = self._birth()
            return f"{yy}{mm}{dd}{self.s(string.digits, 4)}"

        return self._valid("pl.pesel", body)

    def se_personnummer(self) -> str:
        def body() -> str:
            yy, mm, dd = self._birth()
            return f"{yy}{mm}{dd}-{self.s(string.digits, 3)}"

        return self._valid("se.personnummer", body)

    def dk_cpr(self) -> str:
        def body() -> str:
            yy, mm, dd = self._birth()
            return f"{dd}{mm}{yy}-{self.s(string.digits, 3)}"

        return self._valid("dk.cpr", body)

    def no_fodselsnummer(self) -> str:
        def body() -> str:
            yy, mm, dd = self._birth()
            return f"{dd}{mm}{yy}{self.s(string.digits, 3)}"

        return self._valid("no.fodselsnummer", body, width=2)

    def fi_hetu(self) -> str:
        def body() -> str:
            yy, mm, dd = self._birth()
            return f"{dd}{mm}{yy}-{self.r.randint(2, 899):03d}"

        return self._valid("fi.hetu", body, tails="0123456789ABCDEFHJKLMNPRSTUVWXY")

    def kr_rrn(self) -> str:
        def body() -> str:
            yy, mm, dd = self._birth()
            return f"{yy}{mm}{dd}-{self.r.choice('12')}{self.r.randint(0, 95):02d}{self.s(string.digits, 3)}"

        return self._valid("kr.rrn", body)

    def mx_curp(self) -> str:
        def body() -> str:
            yy, mm, dd = self._birth()
            letters = string.ascii_uppercase
            return (
                self.s(letters, 1)
                + self.r.choice("AEIOU")
                + self.s(letters, 2)
                + f"{yy}{mm}{dd}"
                + self.r.choice("HM")
                + self.r.choice(["DF", "JC", "NL", "MC", "NE", "YN", "GT"])
                + self.s("BCDFGHJKLMNPQRSTVWXZ", 3)
                + "0"
            )

        return self._valid("mx.curp", body)

    def tr_tckn(self) -> str:
        return self._valid(
            "tr.tckimlik", lambda: self.r.choice("123456789") + self.s(string.digits, 8), width=2
        )

    def ie_pps(self) -> str:
        return self._valid(
            "ie.pps", lambda: self.s(string.digits, 7), tails="ABCDEFGHIJKLMNOPQRSTUVW"
        )

    def us_routing(self) -> str:
        return self._valid("us.rtn", lambda: self.r.choice("0123") + self.s(string.digits, 7))

    def passport_number(self) -> str:
        return self.r.choice(
            [
                self.s(string.digits, 9),
                self.s("ABCDEFGHJKLMNPRSTUVWXYZ", 1) + self.s(string.digits, 8),
                self.s("CFGHJKLMNPRTVWXYZ", 2) + self.s(string.digits, 7),
            ]
        )

    def driver_license(self) -> str:
        return self.r.choice(
            [
                self.s(string.ascii_uppercase, 1) + self.s(string.digits, 7),
                f"{self.s(string.digits, 3)} {self.s(string.digits, 3)} {self.s(string.digits, 3)}",
                self.s(string.ascii_uppercase, 1) + self.s(string.digits, 12),
            ]
        )

    def date_of_birth(self) -> str:
        year, month, day = self.r.randint(1940, 2006), self.r.randint(1, 12), self.r.randint(1, 28)
        months = (
            "January February March April May June July August September October November December"
        )
        name = months.split()[month - 1]
        return self.r.choice(
            [
                f"{year}-{month:02d}-{day:02d}",
                f"{day:02d}/{month:02d}/{year}",
                f"{month}/{day}/{year}",
                f"{day:02d}.{month:02d}.{year}",
                f"{day} {name} {year}",
                f"{name[:3]} {day}, {year}",
            ]
        )

    def bank_account(self) -> str:
        return self.r.choice("123456789") + self.s(string.digits, self.r.randint(7, 11))

    def crypto_wallet(self) -> str:
        """A Bitcoin address (base58check, P2PKH or P2SH) or an Ethereum one."""
        if self.r.random() < 0.3:
            return "0x" + self.s(HEX, 40)
        payload = bytes([self.r.choice([0x00, 0x05])]) + bytes(
            self.r.randrange(256) for _ in range(20)
        )
        raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
        number = int.from_bytes(raw, "big")
        alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        out = ""
        while number:
            number, rest = divmod(number, 58)
            out = alphabet[rest] + out
        return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out

    def br_cpf(self) -> str:
        from stdnum.br import cpf

        body = self.s(string.digits, 9)
        number = body + cpf._calc_check_digits(body)
        if self.r.random() < 0.7:
            return f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
        return number

    def credit_card(self) -> str:
        prefix, length = self.r.choice(
            [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15), ("6011", 16), ("4", 13)]
        )
        number = _luhn_complete(prefix + self.s(string.digits, length - len(prefix) - 1))
        roll = self.r.random()
        if length == 16 and roll < 0.4:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        if length == 16 and roll < 0.55:
            return "-".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(self) -> str:
        country, letters, digits = self.r.choice(
            [
                ("DE", 0, 18),
                ("GB", 4, 14),
                ("FR", 0, 23),
                ("NL", 4, 10),
                ("ES", 0, 20),
                ("IT", 1, 22),
                ("BE", 0, 12),
                ("CH", 0, 17),
                ("PL", 0, 24),
                ("AT", 0, 16),
            ]
        )
        bban = self.s(string.ascii_uppercase, letters) + self.s(string.digits, digits)
        numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
        iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
        if self.r.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def ip_address(self) -> str:
        roll = self.r.random()
        if roll < 0.15:
            return f"2001:db8:{self.r.randint(1, 0xFFFF):x}::{self.r.randint(1, 0xFFFF):x}"
        if roll < 0.2:
            return f"fe80::{self.s(HEX, 4)}:{self.s(HEX, 4)}:{self.s(HEX, 4)}:{self.s(HEX, 4)}"
        first = self.r.choice([10, 172, 192, 34, 52, 81, 203, 100, 64, 18])
        return f"{first}.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}"

    # ---- names, addresses, places ------------------------------------------------------------
    def person(self) -> str:
        return self.people.person()

    def first_name(self) -> str:
        return self.people.first_name()

    def last_name(self) -> str:
        return self.people.last_name()

    def street_address(self) -> str:
        """The street line of a fresh address; `place` then gives the same address's city line."""
        self._address = self.people.address()
        return self._address[0]

    def place(self) -> str:
        if self._address is None:
            self._address = self.people.address()
        place = self._address[1]
        self._address = None
        return place

    def city(self) -> str:
        return self.people.city()

    def us_address(self) -> str:
        number = self.r.randint(1, 9999)
        street = self.people.last_name()
        suffix = self.pick("St", "Street", "Ave", "Avenue", "Rd", "Blvd", "Dr", "Lane", "Way")
        return f"{number} {street} {suffix}"

    # ---- secrets -----------------------------------------------------------------------------
    def aws_key(self) -> str:
        return self.pick("AKIA", "AKIA", "ASIA") + self.s(string.ascii_uppercase + "234567", 16)

    def aws_session_token(self) -> str:
        return "IQoJb3JpZ2luX2Vj" + self.s(ALNUM + "/+", self.r.randint(200, 360)) + "="

    def github_token(self) -> str:
        if self.r.random() < 0.3:
            return "github_pat_" + self.s(ALNUM, 22) + "_" + self.s(ALNUM, 59)
        return self.r.choice(["ghp_", "gho_", "ghs_", "ghu_", "ghr_"]) + self.s(ALNUM, 36)

    def gitlab_token(self) -> str:
        return self.pick("glpat-", "glpat-", "gldt-", "glrt-") + self.s(ALNUM + "-_", 20)

    def google_key(self) -> str:
        roll = self.r.random()
        if roll < 0.6:
            return "AIza" + self.s(B64URL, 35)
        if roll < 0.8:
            return "GOCSPX-" + self.s(B64URL, 28)
        return "ya29." + self.s(B64URL, 120)

    def azure_key(self) -> str:
        roll = self.r.random()
        if roll < 0.4:
            return self.s(ALNUM + "+/", 86) + "=="
        if roll < 0.7:
            return self.s(ALNUM, 3) + str(self.r.randint(0, 9)) + "Q~" + self.s(ALNUM + "_~.-", 34)
        return self.s(HEX, 32)

    def azure_storage_connection(self) -> str:
        return self.s(ALNUM + "+/", 86) + "=="

    def twilio_key(self) -> str:
        return "SK" + self.s(HEX, 32)

    def mailgun_key(self) -> str:
        return "key-" + self.s(HEX, 32)

    def vault_token(self) -> str:
        return self.pick("hvs.", "hvb.", "s.") + self.s(ALNUM, self.r.choice([24, 90]))

    def huggingface_token(self) -> str:
        return "hf_" + self.s(ALNUM, 34)

    def shopify_token(self) -> str:
        return self.pick("shpat_", "shpss_", "shpca_") + self.s(HEX, 32)

    def digitalocean_token(self) -> str:
        return self.pick("dop_v1_", "doo_v1_") + self.s(HEX, 64)

    def password(self) -> str:
        roll = self.r.random()
        if roll < 0.4:
            return (
                self.s(ALNUM, self.r.randint(6, 10))
                + self.r.choice("!#%&*?$@^")
                + self.s(string.digits, 2)
            )
        if roll < 0.6:
            words = ["correct", "horse", "battery", "staple", "purple", "monkey", "river", "cloud"]
            return "-".join(self.r.sample(words, 3)) + str(self.r.randint(1, 99))
        if roll < 0.8:
            return self.s(ALNUM, self.r.randint(12, 24))
        return self.s(ALNUM + "!#%*+=_", self.r.randint(10, 20))

    def url_password(self) -> str:
        """A password as it appears inside a URL (percent-encoding when needed)."""
        roll = self.r.random()
        if roll < 0.5:
            return self.s(ALNUM, self.r.randint(8, 24))
        if roll < 0.8:
            return (
                self.s(ALNUM, 6)
                + self.r.choice(["%40", "%23", "%21", "%2F", "!", "~", "*"])
                + self.s(ALNUM, 6)
            )
        return self.s(ALNUM + "-_.~", self.r.randint(10, 20))

    def hex_secret(self) -> str:
        return self.s(HEX, self.r.choice([32, 40, 64]))

    def hex_key_id(self) -> str:
        return self.s(HEX, 40)

    def csrf_token(self) -> str:
        roll = self.r.random()
        if roll < 0.5:
            return self.s(ALNUM, 64)
        if roll < 0.75:
            return self.s(ALNUM, 32)
        return self.s(B64URL, 43)

    def session_id(self) -> str:
        return self.r.choice(
            [
                self.s(LOWER_ALNUM, 32),
                "s%3A" + self.s(B64URL, 32) + "." + self.s(ALNUM + "%", 43),
                self.s(ALNUM, 40),
                self.s(HEX, 64),
            ]
        )

    def generic_secret(self) -> str:
        roll = self.r.random()
        if roll < 0.35:
            return self.s(ALNUM, self.r.randint(24, 48))
        if roll < 0.6:
            return base64.b64encode(self.r.randbytes(self.r.choice([24, 32, 48]))).decode()
        if roll < 0.8:
            return self.s(HEX, self.r.choice([32, 48, 64]))
        return self.s(B64URL, self.r.randint(30, 50))

    def basic_auth(self) -> str:
        user = self.pick("admin", "deploy", "ci-bot", "svc_reporting", "jenkins")
        return base64.b64encode(f"{user}:{self.password()}".encode()).decode()

    def bearer_token(self) -> str:
        return self.r.choice([self.jwt(), self.s(ALNUM + "-._~", 40), self.github_token()])

    def b64_secret(self) -> str:
        """A password or token base64-encoded (Kubernetes Secret `data:` values)."""
        inner = self.password() if self.r.random() < 0.5 else self.generic_secret()
        return base64.b64encode(inner.encode()).decode()

    def laravel_key(self) -> str:
        return "base64:" + base64.b64encode(self.r.randbytes(32)).decode()

    def private_key(self) -> str:
        kind = self.r.choice(
            ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"]
        )
        body = "\n".join(self.s(ALNUM + "+/", 64) for _ in range(self.r.randint(4, 9)))
        return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"

    def private_key_escaped(self) -> str:
        """A PEM key inside a JSON string (a cloud service account file): newlines as \\n."""
        body = "\\n".join(self.s(ALNUM + "+/", 64) for _ in range(self.r.randint(6, 12)))
        return f"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----"

    # ---- look-alikes that must pass ----------------------------------------------------------
    def md5(self) -> str:
        return self.s(HEX, 32)

    def sha256_hex(self) -> str:
        return hashlib.sha256(self.s(ALNUM, 16).encode()).hexdigest()

    def integrity(self) -> str:
        algo, size = self.r.choice([("sha512", 64), ("sha384", 48), ("sha256", 32)])
        return f"{algo}-" + base64.b64encode(self.r.randbytes(size)).decode()

    def url(self) -> str:
        host = self.pick(
            "api.github.com",
            "registry.npmjs.org",
            "example.com",
            "grafana.internal",
            "s3.eu-west-1.amazonaws.com",
            "localhost:8080",
            "ci.acme.dev",
        )
        path = "/".join(self.s(string.ascii_lowercase, self.r.randint(3, 8)) for _ in range(2))
        query = self.r.choice(
            [
                "",
                f"?page={self.r.randint(1, 9)}&per_page=50",
                f"?ref={self.s(HEX, 7)}",
                f"?utm_source=newsletter&id={self.uuid()}",
                "#section-2",
            ]
        )
        user = self.r.choice(["", "", "", "git@", "deploy@"]) if "localhost" not in host else ""
        scheme = "ssh://" if user else "https://"
        return f"{scheme}{user}{host}/{path}{query}"

    def container_id(self) -> str:
        return self.s(HEX, self.r.choice([12, 64]))

    def trace_id(self) -> str:
        return self.r.choice(
            [self.s(HEX, 32), f"00-{self.s(HEX, 32)}-{self.s(HEX, 16)}-01", self.s(HEX, 16)]
        )

    def public_key(self) -> str:
        return (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"
            + self.s(ALNUM + "+/", 43)
            + " "
            + self.pick("ci@build", "deploy@host", "laptop")
        )

    def certificate(self) -> str:
        body = "\n".join(self.s(ALNUM + "+/", 64) for _ in range(self.r.randint(4, 8)))
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"

    def order_number(self) -> str:
        return self.r.choice(
            [
                f"ORD-{self.r.randint(2019, 2026)}-{self.r.randint(1, 999999):06d}",
                f"INV-{self.r.randint(10000, 99999)}",
                f"{self.r.randint(100, 999)}-{self.r.randint(1000000, 9999999)}-{self.r.randint(1000000, 9999999)}",
                f"#{self.r.randint(1000, 99999)}",
            ]
        )

    def digit_id(self) -> str:
        """Long digit ids that fail every checksum or region check (Luhn, SSN ranges)."""
        while True:
            value = str(self.r.randint(10**8, 10**16))
            if not _luhn_ok_str(value):
                return value

    def date(self) -> str:
        y, m, d = self.r.randint(2000, 2026), self.r.randint(1, 12), self.r.randint(1, 28)
        return self.r.choice(
            [
                f"{y}-{m:02d}-{d:02d}",
                f"{d:02d}/{m:02d}/{y}",
                f"{y}{m:02d}{d:02d}",
                f"{d:02d}.{m:02d}.{y}",
            ]
        )

    def duration(self) -> str:
        return self.r.choice(
            [
                f"{self.r.randint(1, 999)}ms",
                f"{self.r.random() * 10:.3f}s",
                f"{self.r.randint(1, 59)}m{self.r.randint(1, 59)}s",
            ]
        )

    def amount(self) -> str:
        return self.r.choice(
            [
                f"${self.r.randint(1, 99999):,}.{self.r.randint(0, 99):02d}",
                f"{self.r.randint(1, 9999)} EUR",
                f"{self.r.randint(1000, 999999):,} units",
            ]
        )

    def file_path(self) -> str:
        parts = [
            self.pick("src", "app", "lib", "pkg", "internal"),
            self.pick("billing", "auth", "users", "api"),
            self.pick("service", "handlers", "models", "views")
            + self.pick(".py", ".go", ".ts", ".rb", ".java"),
        ]
        return self.pick("/", "./", "", "/home/dev/repo/") + "/".join(parts)

    def title_phrase(self) -> str:
        """Capitalised phrases of code, logs and UIs that are not names."""
        return self.r.choice(
            [
                "Internal Server Error",
                "Bad Request",
                "Service Unavailable",
                "Not Found",
                "Hello World",
                "Max Retries Exceeded",
                "Grace Period",
                "Pull Request",
                "Merge Request",
                "Visual Studio Code",
                "Google Cloud Storage",
                "Amazon Web Services",
                "Spring Boot",
                "Apache Kafka",
                "Jenkins Pipeline",
                "Release Notes",
                "Getting Started",
                "Will Retry",
                "Mark As Read",
                "Rich Text Editor",
                "Chase Payment",
                "Grant Access",
                "Frank Discussion",
                "Major Version",
                "Dependency Graph",
                "Basic Auth",
                "Power User",
                "Sandy Bridge",
                "Dawn Patrol",
                "Victoria Metrics",
                "Jordan Curve",
                "Austin Power Supply",
                "Rusty Bucket",
                "Summer Sale",
                "Page Down",
                "Ruby Gems",
            ]
        )

    def class_name(self) -> str:
        return self.r.choice(
            [
                "UserService",
                "Main",
                "AccountController",
                "PaymentGateway",
                "HttpClient",
                "OrderRepository",
                "JsonParser",
                "MarkdownRenderer",
                "TaskRunner",
                "RetryPolicy",
                "WilliamsPercentR",
                "KarenAlgorithm",
                "DijkstraShortestPath",
                "BloomFilter",
                "Levenshtein",
            ]
        )

    def git_ref(self) -> str:
        return self.r.choice(
            [
                "main",
                "origin/main",
                f"feature/{self.s(string.ascii_lowercase, 6)}",
                f"v{self.version().lstrip('v')}",
                f"release/{self.r.randint(2019, 2026)}.{self.r.randint(1, 12)}",
                "HEAD~3",
            ]
        )

    def image_ref(self) -> str:
        return (
            self.pick("nginx", "postgres", "ghcr.io/acme/api", "redis")
            + ":"
            + self.version().lstrip("v")
            + "@sha256:"
            + self.s(HEX, 64)
        )

    def pip_hash(self) -> str:
        return "--hash=sha256:" + self.s(HEX, 64)

    def us_like_number(self) -> str:
        """Digit groups shaped like phone or SSN numbers that are neither (versions, builds, ids)."""
        return self.r.choice(
            [
                f"{self.r.randint(1, 9)}.{self.r.randint(0, 99)}.{self.r.randint(0, 9999)}.{self.r.randint(0, 99999)}",
                f"build {self.r.randint(2019, 2026)}{self.r.randint(1, 12):02d}{self.r.randint(1, 28):02d}.{self.r.randint(1, 99)}",
                f"{self.r.randint(1000, 9999)}-{self.r.randint(10, 99)}-{self.r.randint(10, 99)}",
                f"{self.r.randint(10000, 99999)}",
                f"{self.r.randint(1, 999):03d}-{self.r.randint(0, 99):02d}",
            ]
        )

    def street_word_phrase(self) -> str:
        """Numbers followed by street-type words that are not addresses."""
        return self.r.choice(
            [
                "404 Not Found",
                "200 OK",
                "3 Way Merge",
                "2 Factor Auth",
                "10 Main functions",
                "5 Court rulings",
                "Step 4 Drive",
                "v2 Road Map",
                "12 Place holders",
                "1 Square Meter",
            ]
        )

    def username(self) -> str:
        return self.pick(
            "octocat", "dev-bot", "jdoe42", "ci_runner", "root", "ubuntu", "postgres", "app"
        )

    def hostname(self) -> str:
        return self.pick(
            "db-primary.internal",
            "cache-01.prod.acme.net",
            "10-0-3-7.svc.cluster.local",
            "ip-172-31-0-12.ec2.internal",
            "api.staging.acme.io",
        )


def _luhn_ok_str(value: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(value)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0
