"""Held-out half: configuration and credential files in other shapes. Never tuned on."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "h_dotenv_frameworks",
        "dotenv",
        (
            """APP_NAME=Shop
APP_KEY=⟦+laravel_key⟧
DB_HOST=⟦+ip_address⟧
DB_PASSWORD=⟦+password⟧
PUSHER_APP_SECRET=⟦+hex_secret⟧
MIX_PUSHER_APP_KEY=⟦-md5⟧
""",
            """NEXTAUTH_SECRET=⟦+generic_secret⟧
NEXTAUTH_URL=⟦-url⟧
GITHUB_CLIENT_SECRET=⟦+hex_secret⟧
POSTGRES_PRISMA_URL="postgres://default:⟦+url_password⟧@ep-cool-sea-123456.us-east-1.postgres.vercel-storage.com:5432/verceldb?pgbouncer=true"
KV_REST_API_TOKEN="⟦+generic_secret⟧"
VERCEL_GIT_COMMIT_SHA=⟦-git_sha⟧
""",
            """RAILS_MASTER_KEY=⟦+hex_secret⟧
SECRET_KEY_BASE=⟦+hex_secret⟧
SIDEKIQ_REDIS_URL=redis://:⟦+url_password⟧@10.0.0.5:6379/1
CLICKHOUSE_URL=clickhouse://analytics:⟦+url_password⟧@ch.internal:9000/events
CDN_ASSET_HASH=⟦-sha256_hex⟧
""",
        ),
    ),
    Family(
        "h_helm_compose",
        "yaml",
        (
            """postgresql:
  auth:
    username: keycloak
    password: "⟦+password⟧"
    postgresPassword: "⟦+password⟧"
keycloak:
  adminUser: admin
  adminPassword: ⟦+password⟧
image:
  tag: "⟦-version⟧"
  digest: sha256:⟦-sha256_hex⟧
""",
            """version: "3.9"
services:
  grafana:
    environment:
      - GF_SECURITY_ADMIN_PASSWORD=⟦+password⟧
      - GF_DATABASE_URL=mysql://grafana:⟦+url_password⟧@mysql:3306/grafana
      - GF_INSTALL_PLUGINS=grafana-piechart-panel
  minio:
    environment:
      MINIO_ROOT_USER: minio
      MINIO_ROOT_PASSWORD: ⟦+password⟧
""",
            """# owners file
owners:
  - name: ⟦+person⟧
    slack: "@⟦~username⟧"
    phone: ⟦+phone⟧
  - name: ⟦+person⟧
    phone: ⟦+phone_uk_de⟧
escalation_policy: ⟦-uuid⟧
""",
        ),
    ),
    Family(
        "h_k8s_manifests",
        "kubernetes",
        (
            """apiVersion: v1
kind: Secret
metadata:
  name: db-creds
  resourceVersion: "⟦-numeric_id⟧"
type: Opaque
data:
  password: ⟦+b64_secret⟧
  api-token: ⟦+b64_secret⟧
""",
            """apiVersion: v1
kind: Secret
metadata:
  name: regcred
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"ghcr.io":{"username":"bot","password":"⟦+github_token⟧","auth":"⟦+basic_auth⟧"}}}'
""",
            """apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  LOG_LEVEL: info
  UPSTREAM_URL: ⟦-url⟧
  SMTP_PASS: ⟦+password⟧
  BUILD_ID: "⟦-container_id⟧"
""",
        ),
    ),
    Family(
        "h_toml_ini",
        "ini",
        (
            """# .streamlit/secrets.toml
[connections.snowflake]
account = "xy12345.eu-central-1"
user = "analyst"
password = "⟦+password⟧"

[openai]
api_key = "⟦+openai_key⟧"
""",
            """[ODBC Data Sources]
warehouse = PostgreSQL Unicode

[warehouse]
Driver = PostgreSQL Unicode
Servername = ⟦-hostname⟧
Port = 5432
UserName = etl
Password = ⟦+password⟧
""",
            """[program:worker]
command=/srv/venv/bin/celery -A app worker
environment=BROKER_URL="amqp://celery:⟦+url_password⟧@rabbit:5672//",SENTRY_DSN="https://⟦-md5⟧@sentry.io/⟦-numeric_id⟧"
""",
        ),
    ),
    Family(
        "h_json_api",
        "json",
        (
            """{"data": [{"id": "⟦-uuid⟧", "attributes": {"name": "⟦+person⟧", "phoneNumber": "⟦+phone⟧",
  "address": {"street": "⟦+street_address⟧", "locality": "⟦+place⟧"}, "updatedAt": "⟦-timestamp⟧"}}],
 "meta": {"page": 1, "etag": "⟦-md5⟧"}}
""",
            """{
  "webhook": {"url": "⟦-url⟧", "signingSecret": "⟦+hex_secret⟧"},
  "oauth": {"clientId": "⟦-uuid⟧", "clientSecret": "⟦+generic_secret⟧", "refreshToken": "⟦+generic_secret⟧"},
  "checksum": "⟦-sha256_hex⟧"
}
""",
            """[{"patient": "⟦+person⟧", "dob": "⟦+date_of_birth⟧", "mrn": "⟦-numeric_id⟧", "tel": "⟦+phone_national⟧"},
 {"patient": "⟦+person⟧", "dob": "⟦+date_of_birth⟧", "mrn": "⟦-numeric_id⟧", "tel": "⟦+phone⟧"}]
""",
        ),
    ),
    Family(
        "h_xml_props",
        "xml",
        (
            """<soapenv:Envelope>
  <soapenv:Body>
    <CreateCustomer>
      <FullName>⟦+person⟧</FullName>
      <Street>⟦+street_address⟧</Street>
      <Phone>⟦+phone⟧</Phone>
      <TaxId>⟦+us_ssn⟧</TaxId>
    </CreateCustomer>
  </soapenv:Body>
</soapenv:Envelope>
""",
            """sasl.mechanism=PLAIN
security.protocol=SASL_SSL
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="svc-orders" password="⟦+password⟧";
schema.registry.basic.auth.user.info=sr-user:⟦+password⟧
client.id=orders-⟦-k8s_name⟧
""",
            """<datasource jndi-name="java:/OrdersDS">
  <connection-url>jdbc:oracle:thin:@//ora.internal:1521/ORCL</connection-url>
  <security><user-name>orders</user-name><password>⟦+password⟧</password></security>
</datasource>
""",
        ),
    ),
    Family(
        "h_credential_files",
        "credentials",
        (
            """machine api.heroku.com
  login ops@acme.io
  password ⟦+generic_secret⟧
machine github.com
  login deploy-bot
  password ⟦+github_token⟧
""",
            """https://deploy-bot:⟦+github_token⟧@github.com
https://oauth2:⟦+gitlab_token⟧@gitlab.acme.io
""",
            """db.internal:5432:orders:orders_app:⟦+password⟧
*:*:*:replicator:⟦+password⟧
""",
            """{
  "client_id": "⟦-numeric_id⟧-⟦-k8s_name⟧.apps.googleusercontent.com",
  "client_secret": "⟦+google_key⟧",
  "refresh_token": "1//⟦+generic_secret⟧",
  "type": "authorized_user"
}
""",
            """github.com:
    user: deploy-bot
    oauth_token: ⟦+github_token⟧
    git_protocol: https
""",
            """aws_region    = "us-east-1"
db_password   = "⟦+password⟧"
datadog_api_key = "⟦+datadog_key⟧"
ami_id        = "ami-⟦-container_id⟧"
""",
            """[client]
user=root
password="⟦+password⟧"
""",
        ),
    ),
]
