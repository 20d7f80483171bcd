"""Tuning half: SQL dumps, CSV exports and tool results."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "t_sql_dump",
        "sql",
        (
            """INSERT INTO customers (id, first_name, last_name, email, phone, ssn, street, city, zip) VALUES
  (⟦-numeric_id⟧, '⟦+first_name⟧', '⟦+last_name⟧', '⟦+email⟧', '⟦+phone⟧', '⟦+us_ssn_plain⟧', '⟦+us_address⟧', 'Springfield', '62704'),
  (⟦-numeric_id⟧, '⟦+first_name⟧', '⟦+last_name⟧', '⟦+email⟧', '⟦+phone⟧', '⟦+us_ssn_plain⟧', '⟦+us_address⟧', 'Portland', '97201');
""",
            """INSERT INTO `users` (`id`, `name`, `password_hash`, `api_token`, `created_at`) VALUES
(⟦-numeric_id⟧, '⟦+person⟧', '$2b$12$⟦-md5⟧', '⟦+generic_secret⟧', '⟦-timestamp⟧');
UPDATE settings SET value = '⟦+generic_secret⟧' WHERE key = 'smtp_password';
""",
        ),
    ),
    Family(
        "t_csv_export",
        "csv",
        (
            """id,full_name,email,phone,ssn,signup_date
⟦-numeric_id⟧,⟦+person⟧,⟦+email⟧,⟦+phone⟧,⟦+us_ssn_plain⟧,⟦-date⟧
⟦-numeric_id⟧,⟦+person⟧,⟦+email⟧,⟦+phone⟧,⟦+us_ssn_plain⟧,⟦-date⟧
⟦-numeric_id⟧,⟦+person⟧,⟦+email⟧,⟦+phone⟧,⟦+us_ssn_plain⟧,⟦-date⟧
""",
            """first_name;last_name;street;postcode_city;iban
⟦+first_name⟧;⟦+last_name⟧;⟦+street_address⟧;⟦+place⟧;⟦+iban⟧
⟦+first_name⟧;⟦+last_name⟧;⟦+street_address⟧;⟦+place⟧;⟦+iban⟧
""",
            """order_id,sku,qty,amount,tracking
⟦-order_number⟧,SKU-⟦-numeric_id⟧,2,⟦-amount⟧,⟦-digit_id⟧
⟦-order_number⟧,SKU-⟦-numeric_id⟧,1,⟦-amount⟧,⟦-digit_id⟧
""",
        ),
    ),
    Family(
        "t_tool_result",
        "tool_result",
        (
            """$ env | sort
HOME=/home/dev
HOSTNAME=⟦-container_id⟧
OPENAI_API_KEY=⟦+openai_key⟧
PGPASSWORD=⟦+password⟧
SLACK_SIGNING_SECRET=⟦+hex_secret⟧
TERM=xterm-256color
""",
            """$ kubectl get secret api -o jsonpath='{.data}'
{"password":"⟦+basic_auth⟧","username":"YXBp"}
$ git rev-parse HEAD
⟦-git_sha⟧
""",
            """$ grep -rn "token" src/
src/client.py:12:    token = "⟦+generic_secret⟧"
src/client.py:30:    max_tokens = 4096
src/auth.py:8:    TOKEN_URL = "⟦-url⟧"
""",
        ),
    ),
    Family(
        "t_intl_ids_json",
        "json",
        (
            """{"employee": {"name": "⟦+person⟧", "itin": "⟦+us_itin⟧", "passport_number": "⟦+passport_number⟧",
 "nhs_number": "⟦+uk_nhs⟧", "tfn": "⟦+au_tfn⟧", "pesel": "⟦+pl_pesel⟧", "bsn": "⟦+nl_bsn⟧",
 "id": ⟦-numeric_id⟧, "updated": "⟦-timestamp⟧"}}""",
        ),
    ),
]
