"""Turn the new PII rules on where a policy had every PII pattern rule of its time.

National identifiers, person names, street addresses and locations are now detected offline
and belong to the default rule set. A policy whose PII rules were the whole previous default
(the admin never narrowed them) gets the new rules too, so "PII on" keeps meaning "every PII
rule"; a policy whose rules were narrowed keeps exactly its choice.
"""

from __future__ import annotations

from django.db import migrations

PREVIOUS_DEFAULT = {"email", "phone", "us_ssn", "credit_card", "iban", "ip_address"}
NEW_RULES = ("national_id", "person", "street_address", "location")
ORDER = (
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
    dependencies = [("policies", "0003_policy_subject")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
