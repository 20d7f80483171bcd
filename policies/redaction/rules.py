"""The catalogue of redaction rules an admin turns on or off, and their placeholder types.

Plain data (no presidio import) so the admin, the CLI and the models can list rules without
loading the scanner. A rule id is what a policy stores; `type` is what the placeholder shows
(`[REDACTED:<type>_<tag>]`, or one per match for rules that find several types, such as
national identifiers); `ner` rules need an NLP model (settings.GATEWAY_PII_NLP_MODEL).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str  # "pii" | "secrets"
    type: str  # placeholder type
    label: str
    ner: bool = False


PII_RULES: tuple[Rule, ...] = (
    Rule("email", "pii", "EMAIL", "Email addresses"),
    Rule(
        "phone",
        "pii",
        "PHONE",
        "Phone numbers of every region (international forms; national forms near a phone word or label)",
    ),
    Rule(
        "us_ssn", "pii", "US_SSN", "US social security numbers (without separators when labelled)"
    ),
    Rule(
        "national_id",
        "pii",
        "NATIONAL_ID",
        "National identifiers: UK NINO and NHS number, Canadian SIN, Indian Aadhaar and PAN, "
        "Spanish DNI/NIE, Italian codice fiscale, Brazilian CPF, US ITIN and routing number, "
        "Australian TFN, German tax id, French NIR, Dutch BSN, Polish PESEL, Nordic personal "
        "numbers, Korean RRN, Mexican CURP, Turkish TCKN, Irish PPS (checksums); passport and "
        "driving licence numbers after their label",
    ),
    Rule("credit_card", "pii", "CREDIT_CARD", "Credit card numbers (Luhn checksum)"),
    Rule("iban", "pii", "IBAN", "IBANs (mod-97 checksum)"),
    Rule(
        "bank_account",
        "pii",
        "BANK_ACCOUNT",
        "Bank account numbers and sort codes after their label",
    ),
    Rule("date_of_birth", "pii", "DATE_OF_BIRTH", "Dates of birth (a date after its label)"),
    Rule(
        "crypto_wallet",
        "pii",
        "CRYPTO_WALLET",
        "Crypto wallet addresses: Bitcoin and Litecoin (checksums), Ethereum after its word",
    ),
    Rule("ip_address", "pii", "IP_ADDRESS", "IP addresses (v4 and v6; not loopback)"),
    Rule("person", "pii", "PERSON", "Person names (offline gazetteers and context)"),
    Rule("street_address", "pii", "ADDRESS", "Street addresses (per-country address grammars)"),
    Rule(
        "location",
        "pii",
        "LOCATION",
        "Places: the city and postcode of an address, labelled cities",
    ),
    Rule("nrp", "pii", "NRP", "Nationality, religion, politics (needs an NER model)", ner=True),
)

SECRET_RULES: tuple[Rule, ...] = (
    Rule("aws", "secrets", "AWS_KEY", "AWS access key ids and secret access keys"),
    Rule("github", "secrets", "GITHUB_TOKEN", "GitHub tokens (ghp_, gho_, ghs_, github_pat_...)"),
    Rule("gitlab", "secrets", "GITLAB_TOKEN", "GitLab tokens (glpat-, runner tokens...)"),
    Rule("openai", "secrets", "OPENAI_KEY", "OpenAI API keys"),
    Rule("anthropic", "secrets", "ANTHROPIC_KEY", "Anthropic API keys"),
    Rule("google", "secrets", "GOOGLE_KEY", "Google API keys, OAuth client secrets and tokens"),
    Rule("azure", "secrets", "AZURE_KEY", "Azure storage keys, SAS signatures, client secrets"),
    Rule("slack", "secrets", "SLACK_TOKEN", "Slack tokens and incoming webhooks"),
    Rule("stripe", "secrets", "STRIPE_KEY", "Stripe secret, restricted and webhook keys"),
    Rule("sendgrid", "secrets", "SENDGRID_KEY", "SendGrid API keys"),
    Rule("datadog", "secrets", "DATADOG_KEY", "Datadog API and application keys"),
    Rule("npm", "secrets", "NPM_TOKEN", "npm access tokens"),
    Rule("pypi", "secrets", "PYPI_TOKEN", "PyPI upload tokens"),
    Rule("jwt", "secrets", "JWT", "JSON web tokens"),
    Rule("private_key", "secrets", "PRIVATE_KEY", "PEM private keys"),
    Rule(
        "connection_password",
        "secrets",
        "PASSWORD",
        "Passwords in connection strings and URLs with embedded credentials",
    ),
    Rule("gateway_key", "secrets", "GATEWAY_KEY", "This gateway's own keys (gw_sk_, gw_pt_)"),
    Rule(
        "service_tokens",
        "secrets",
        "API_TOKEN",
        "Other services' tokens with a published prefix: Hugging Face, Twilio, Mailgun, Shopify, "
        "DigitalOcean, HashiCorp Vault, Laravel app keys, Atlassian, Linear, Notion, Postman, "
        "Doppler, Grafana, New Relic, Sentry, Supabase, Databricks, Square, Telegram bots...",
    ),
    Rule(
        "assigned_secret",
        "secrets",
        "SECRET",
        "Values assigned to password/secret/token/api_key names (code, .env, YAML, JSON, headers)",
    ),
)

ALL_RULES: tuple[Rule, ...] = PII_RULES + SECRET_RULES
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in ALL_RULES}
PII_RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in PII_RULES)
SECRET_RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in SECRET_RULES)
NER_RULE_IDS: frozenset[str] = frozenset(rule.id for rule in ALL_RULES if rule.ner)
MAX_CUSTOM_PATTERNS = 10


def default_rule_ids(category: str) -> list[str]:
    """The rules a policy applies for `category` unless its editor picks others: every rule of
    the category that can run here. Rules needing an NER model join only when one is
    configured (settings.GATEWAY_PII_NLP_MODEL); without it they would detect nothing."""
    from django.conf import settings

    with_ner = bool(getattr(settings, "GATEWAY_PII_NLP_MODEL", ""))
    return [r.id for r in ALL_RULES if r.category == category and (with_ner or not r.ner)]


def rule_choices(category: str) -> list[tuple[str, str]]:
    """(id, label) pairs of one category, for forms and the CLI."""
    return [(rule.id, rule.label) for rule in ALL_RULES if rule.category == category]
