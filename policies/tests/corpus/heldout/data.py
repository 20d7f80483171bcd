"""Held-out half: MySQL and SQLite dumps, TSV and markdown tables, tool results. Never tuned on."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "h_sql",
        "sql",
        (
            """-- Dumping data for table `patients`
INSERT INTO `patients` VALUES (⟦-numeric_id⟧,'⟦+person⟧','⟦+phone⟧','⟦+street_address⟧','⟦+us_ssn⟧','⟦-timestamp⟧');
INSERT INTO `patients` VALUES (⟦-numeric_id⟧,'⟦+person⟧','⟦+phone⟧','⟦+street_address⟧','⟦+us_ssn⟧','⟦-timestamp⟧');
""",
            """sqlite> select id, given_name, surname, social_security_number from employees limit 2;
⟦-numeric_id⟧|⟦+first_name⟧|⟦+last_name⟧|⟦+us_ssn_plain⟧
⟦-numeric_id⟧|⟦+first_name⟧|⟦+last_name⟧|⟦+us_ssn_plain⟧
""",
            """UPDATE integrations SET secret = '⟦+generic_secret⟧', updated_at = NOW() WHERE id = ⟦-numeric_id⟧;
INSERT INTO oauth_tokens (user_id, access_token, refresh_token) VALUES (⟦-numeric_id⟧, '⟦+generic_secret⟧', '⟦+generic_secret⟧');
""",
        ),
    ),
    Family(
        "h_tables",
        "csv",
        (
            """Name\tSSN\tPhone\tCity
⟦+person⟧\t⟦+us_ssn_plain⟧\t⟦+phone⟧\t⟦+city⟧
⟦+person⟧\t⟦+us_ssn_plain⟧\t⟦+phone⟧\t⟦+city⟧
""",
            """| Customer | Address | Phone |
|---|---|---|
| ⟦+person⟧ | ⟦+street_address⟧, ⟦+place⟧ | ⟦+phone⟧ |
| ⟦+person⟧ | ⟦+street_address⟧, ⟦+place⟧ | ⟦+phone_national⟧ |
""",
            """"Employee","Employee SSN","Start date","Cost center"
"⟦+person⟧","⟦+us_ssn_plain⟧","⟦-date⟧","CC-⟦-numeric_id⟧"
"⟦+person⟧","⟦+us_ssn_plain⟧","⟦-date⟧","CC-⟦-numeric_id⟧"
""",
            """sku,description,price,ean
⟦-numeric_id⟧,⟦-title_phrase⟧,⟦-amount⟧,⟦-digit_id⟧
⟦-numeric_id⟧,⟦-title_phrase⟧,⟦-amount⟧,⟦-digit_id⟧
""",
        ),
    ),
    Family(
        "h_tool_results",
        "tool_result",
        (
            """$ docker inspect api --format '{{json .Config.Env}}'
["PATH=/usr/local/bin","DATABASE_URL=postgres://api:⟦+url_password⟧@db:5432/api","SENTRY_RELEASE=⟦-git_sha⟧","API_SIGNING_KEY=⟦+generic_secret⟧"]
""",
            """$ vercel env pull && cat .env.local
# Created by Vercel CLI
VERCEL_OIDC_TOKEN="⟦+jwt⟧"
RESEND_API_KEY="re_⟦+generic_secret⟧"
""",
            """Read file: src/fixtures/orders.yaml
- order: ⟦-order_number⟧
  ship_to: ⟦+person⟧
  address: ⟦+street_address⟧, ⟦+place⟧
  phone: ⟦+phone_national⟧
  sha: ⟦-git_sha⟧
""",
            """$ cat ~/.config/hub
github.com:
- user: ⟦~username⟧
  oauth_token: ⟦+github_token⟧
$ ls -la ⟦-file_path⟧
""",
        ),
    ),
    Family(
        "h_intl_ids_csv",
        "csv",
        (
            """employee_id,full_name,country,national_id_type,national_id
⟦-numeric_id⟧,⟦+person⟧,US,ITIN,⟦+us_itin⟧
⟦-numeric_id⟧,⟦+person⟧,GB,NHS number,⟦+uk_nhs⟧
⟦-numeric_id⟧,⟦+person⟧,PL,PESEL,⟦+pl_pesel⟧
⟦-numeric_id⟧,⟦+person⟧,KR,RRN,⟦+kr_rrn⟧""",
        ),
    ),
]
