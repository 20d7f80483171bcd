"""Tuning half, second batch: contexts the first batch lacked (mysqldump without column lists,
logfmt and Java application logs, access logs with credentials in query strings, Kafka/JAAS
and Spring properties, more credential files, `.env` diffs, HR and CRM prose).

Added after the first held-out run, from its per-context figures only (which contexts were
weak), not from its texts.
"""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "t_mysqldump",
        "sql",
        (
            """LOCK TABLES `customers` WRITE;
INSERT INTO `customers` VALUES (⟦-numeric_id⟧,'⟦+person⟧','⟦+email⟧','⟦+phone⟧','⟦+us_address⟧','⟦+us_ssn⟧',⟦-numeric_id⟧),(⟦-numeric_id⟧,'⟦+person⟧','⟦+email⟧','⟦+phone⟧','⟦+street_address⟧','⟦+us_ssn⟧',⟦-numeric_id⟧);
UNLOCK TABLES;
""",
            """mysql> SELECT id, full_name, ssn, mobile FROM staff LIMIT 2;
+------+------------------+-----------+-----------------+
| id   | full_name        | ssn       | mobile          |
+------+------------------+-----------+-----------------+
| ⟦-numeric_id⟧ | ⟦+person⟧ | ⟦+us_ssn_plain⟧ | ⟦+phone⟧ |
| ⟦-numeric_id⟧ | ⟦+person⟧ | ⟦+us_ssn_plain⟧ | ⟦+phone⟧ |
+------+------------------+-----------+-----------------+
""",
            """$ sqlite3 crm.db "select id, firstname, lastname, tax_ssn, town from contacts limit 2"
⟦-numeric_id⟧|⟦+first_name⟧|⟦+last_name⟧|⟦+us_ssn_plain⟧|⟦+city⟧
⟦-numeric_id⟧|⟦+first_name⟧|⟦+last_name⟧|⟦+us_ssn_plain⟧|⟦+city⟧
""",
        ),
    ),
    Family(
        "t_logfmt",
        "app_log",
        (
            """ts=⟦-timestamp⟧ lvl=info svc=shipping msg="label printed" name="⟦+person⟧" street="⟦+street_address⟧" city="⟦+city⟧" weight_g=⟦-numeric_id⟧
ts=⟦-timestamp⟧ lvl=error svc=shipping msg="carrier rejected address" addr="⟦+street_address⟧, ⟦+place⟧" req=⟦-uuid⟧
""",
            """⟦-timestamp⟧ [http-nio-8080-exec-3] INFO  c.a.b.OrderService - order ⟦-order_number⟧ placed by ⟦+person⟧ <⟦+email⟧> ship_to=⟦+street_address⟧, ⟦+place⟧
⟦-timestamp⟧ [http-nio-8080-exec-3] DEBUG c.a.b.SmsClient - POST /sms to=⟦+phone⟧ apiKey=⟦+generic_secret⟧ took ⟦-duration⟧
""",
        ),
    ),
    Family(
        "t_access_log_params",
        "http_log",
        (
            """⟦+ip_address⟧ - - [⟦-date⟧] "GET /oauth/callback?code=⟦+generic_secret⟧&state=⟦-md5⟧ HTTP/1.1" 302 0 "-" "Mozilla/5.0"
⟦+ip_address⟧ - - [⟦-date⟧] "GET /v2/report?api_key=⟦+hex_secret⟧&from=⟦-date⟧ HTTP/1.1" 200 48213 "-" "Go-http-client/1.1"
⟦+ip_address⟧ - - [⟦-date⟧] "POST /session?auth_token=⟦+generic_secret⟧ HTTP/1.1" 201 88 "-" "okhttp/4.12.0"
""",
            """{"time":"⟦-timestamp⟧","remote":"⟦+ip_address⟧","req":"GET /download?sig=⟦+generic_secret⟧&expires=⟦-numeric_id⟧","status":200,"bytes":⟦-numeric_id⟧}
{"time":"⟦-timestamp⟧","remote":"⟦+ip_address⟧","req":"GET /assets/app.⟦-md5⟧.js","status":304}
""",
        ),
    ),
    Family(
        "t_jvm_properties",
        "properties",
        (
            """bootstrap.servers=kafka-0.internal:9093
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="orders" password="⟦+password⟧";
ssl.truststore.password=⟦+password⟧
group.id=orders-⟦-k8s_name⟧
""",
            """# application-prod.properties
spring.rabbitmq.password=⟦+password⟧
spring.security.oauth2.client.registration.github.client-secret=⟦+hex_secret⟧
management.metrics.export.datadog.api-key=⟦+datadog_key⟧
server.ssl.key-store-password=⟦+password⟧
info.build.commit=⟦-git_sha⟧
""",
        ),
    ),
    Family(
        "t_more_credentials",
        "credentials",
        (
            """# ~/.netrc
machine registry.acme.io login ci-bot password ⟦+password⟧
machine api.github.com login octo password ⟦+github_token⟧
""",
            """# ~/.pgpass
*:5432:*:analytics:⟦+password⟧
replica.internal:5433:warehouse:etl:⟦+password⟧
""",
            """# ~/.config/gh/hosts.yml
github.acme.io:
    oauth_token: ⟦+github_token⟧
    user: ⟦~username⟧
""",
            """# terraform.tfvars
admin_password    = "⟦+password⟧"
cloudflare_api_token = "⟦+generic_secret⟧"
region            = "eu-central-1"
image_digest      = "sha256:⟦-sha256_hex⟧"
""",
            """# ~/.aws/credentials (exported from the console as CSV)
User name,Password,Access key ID,Secret access key,Console login link
ci-deployer,⟦+password⟧,⟦+aws_key⟧,⟦+aws_secret⟧,https://acme.signin.aws.amazon.com/console
""",
        ),
    ),
    Family(
        "t_env_diff",
        "diff",
        (
            """diff --git a/deploy/.env.staging b/deploy/.env.staging
@@ -3,4 +3,6 @@ APP_ENV=staging
-MAILER_DSN=smtp://localhost:1025
+MAILER_DSN=smtp://mailer:⟦+url_password⟧@smtp.eu.mailgun.org:587
+ENCRYPTION_KEY=⟦+hex_secret⟧
+SESSION_COOKIE_SECRET=⟦+generic_secret⟧
 LOG_LEVEL=debug
 IMAGE=⟦-image_ref⟧
""",
            """--- a/src/config.ts
+++ b/src/config.ts
@@ -1,5 +1,5 @@
 export default {
-  stripeKey: process.env.STRIPE_KEY,
+  stripeKey: "⟦+stripe_key⟧",
+  signingKey: "⟦+hex_secret⟧",
   release: "⟦-git_sha⟧",
 };
""",
        ),
    ),
    Family(
        "t_crm_notes",
        "prose",
        (
            """Met ⟦+person⟧ and ⟦+person⟧ at the conference. ⟦+first_name⟧ runs platform at a logistics firm; they want SSO
and audit logs. Follow-up call booked with ⟦+person⟧ for ⟦-date⟧ — her number is ⟦+phone_national⟧.""",
            """Lead: ⟦+person⟧ (procurement)
Office: ⟦+street_address⟧, ⟦+place⟧
Direct: ⟦+phone⟧
Notes: prefers email (⟦+email⟧); budget approved by ⟦+person⟧.""",
            """Please courier the signed contract to ⟦+person⟧, ⟦+street_address⟧, ⟦+place⟧. If nobody answers, ring ⟦+phone_uk_de⟧.""",
        ),
    ),
]
