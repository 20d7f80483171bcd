"""Turn the new PII rules (bank account numbers, dates of birth, crypto wallet addresses) on
where a policy had every PII rule of its time that runs without an NER model, so "PII on" keeps
meaning "every PII rule"; a policy whose rules were narrowed keeps exactly its choice."""

from __future__ import annotations

from django.db import migrations

PREVIOUS_DEFAULT = {
    "email",
    "phone",
    "us_ssn",
    "national_id",
    "credit_card",
    "iban",
    "ip_address",
    "person",
    "street_address",
    "location",
}
NEW_RULES = ("bank_account", "date_of_birth", "crypto_wallet")
ORDER = (
    "email",
    "phone",
    "us_ssn",
    "national_id",
    "credit_card",
    "iban",
    "bank_account",
    "date_of_birth",
    "crypto_wallet",
    "ip_address",
    "person",
    "street_address",
    "location",
    "nrp",
)


def forwards(apps, schema_editor):
    RedactionPolicy = apps.get_model("policies", "RedactionPolicy")
    for policy in RedactionPolicy.objects.all():
        rules = set(policy.pii_rules or ())
        if not PREVIOUS_DEFAULT <= rules:
            continue
        rules |= set(NEW_RULES)
        policy.pii_rules = [rule for rule in ORDER if rule in rules]
        policy.save(update_fields=["pii_rules"])


class Migration(migrations.Migration):
    dependencies = [("policies", "0009_model_access_azure_custom")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
