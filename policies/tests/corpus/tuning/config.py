"""Tuning half: configuration files, credential files and connection strings."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "t_dotenv",
        "dotenv",
        (
            """# generated ⟦-timestamp⟧
DATABASE_URL=postgresql://app:⟦+url_password⟧@db:5432/app
REDIS_URL=redis://:⟦+url_password⟧@redis:6379/0
SESSION_SECRET=⟦+generic_secret⟧
WEBHOOK_SIGNING_SECRET=⟦+hex_secret⟧
JWT_SECRET=⟦+generic_secret⟧
APP_KEY=⟦+laravel_key⟧
SENTRY_DSN=https://⟦-md5⟧@o12345.ingest.sentry.io/⟦-numeric_id⟧
RELEASE=⟦-git_sha⟧
""",
            """⟦?export |⟧AWS_ACCESS_KEY_ID=⟦+aws_key⟧
⟦?export |⟧AWS_SECRET_ACCESS_KEY=⟦+aws_secret⟧
⟦?export |⟧AWS_SESSION_TOKEN=⟦+aws_session_token⟧
⟦?export |⟧HF_TOKEN=⟦+huggingface_token⟧
⟦?export |⟧SHOPIFY_ACCESS_TOKEN=⟦+shopify_token⟧
⟦?export |⟧DIGITALOCEAN_TOKEN=⟦+digitalocean_token⟧
⟦?export |⟧BUILD_NUMBER=⟦-numeric_id⟧
""",
            """MAIL_PASSWORD="⟦+password⟧"
SMTP_URL=smtp://mailer:⟦+url_password⟧@smtp.mailgun.org:587
RABBITMQ_URL=amqps://worker:⟦+url_password⟧@mq.internal:5671/vhost
CONSUMER_SECRET=⟦+generic_secret⟧
HMAC_KEY=⟦+hex_secret⟧
LICENSE_KEY=⟦+generic_secret⟧
CACHE_PREFIX=⟦-container_id⟧
""",
        ),
    ),
    Family(
        "t_yaml_config",
        "yaml",
        (
            """database:
  host: db.internal
  port: 5432
  user: app
  password: ⟦+password⟧
redis:
  url: rediss://default:⟦+url_password⟧@redis.internal:6380
oauth:
  client_id: ⟦-uuid⟧
  client_secret: ⟦+generic_secret⟧
build: ⟦-git_sha⟧
""",
            """name: deploy
on: [push]
jobs:
  deploy:
    runs-on: ubuntu-latest
    env:
      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
      DEPLOY_KEY: ⟦+generic_secret⟧
    steps:
      - name: Set Up Python
        uses: actions/setup-python@⟦-git_sha⟧
      - run: echo "⟦+slack_webhook⟧" > /dev/null
""",
            """smtp:
  server: smtp.office365.com
  username: alerts@acme.io
  passwd: "⟦+password⟧"
contacts:
  - name: ⟦+person⟧
    phone: "⟦+phone⟧"
    address: ⟦+street_address⟧, ⟦+place⟧
  - name: ⟦+person⟧
    phone: "⟦+phone_national⟧"
""",
        ),
    ),
    Family(
        "t_kubernetes",
        "kubernetes",
        (
            """apiVersion: v1
kind: Secret
metadata:
  name: api-secrets
  namespace: prod
  uid: ⟦-uuid⟧
type: Opaque
stringData:
  DB_PASSWORD: ⟦+password⟧
  STRIPE_SECRET_KEY: ⟦+stripe_key⟧
  CSRF_SECRET: ⟦+csrf_token⟧
  MONGO_URI: mongodb://api:⟦+url_password⟧@mongo-0.mongo:27017,mongo-1.mongo:27017/app?replicaSet=rs0
""",
            """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: ⟦-image_ref⟧
          env:
            - name: SECRET_KEY_BASE
              value: ⟦+hex_secret⟧
            - name: DATABASE_URL
              value: postgres://web:⟦+url_password⟧@pg:5432/web
            - name: GIT_SHA
              value: ⟦-git_sha⟧
""",
        ),
    ),
    Family(
        "t_toml_ini",
        "toml",
        (
            """[database]
url = "postgresql://svc:⟦+url_password⟧@pg.internal/svc"
pool_size = 10

[stripe]
secret_key = "⟦+stripe_key⟧"
webhook_secret = "⟦+generic_secret⟧"

[build]
commit = "⟦-git_sha⟧"
""",
            """[client]
user = backup
password = ⟦+password⟧
host = ⟦+ip_address⟧

[mysqld]
datadir = /var/lib/mysql
server-id = ⟦-numeric_id⟧
""",
            """[model_providers.gateway]
name = "Acme gateway"
base_url = "https://llm.acme.io/openai/v1"
env_key = "GATEWAY_KEY"
api_key = "⟦+gateway_key⟧"
wire_api = "responses"
""",
        ),
    ),
    Family(
        "t_json_config",
        "json",
        (
            """{
  "ConnectionStrings": {
    "Default": "Server=sql01.internal;Database=Crm;User Id=crm_app;Password=⟦+password⟧;TrustServerCertificate=True",
    "Storage": "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=⟦+azure_storage_connection⟧;EndpointSuffix=core.windows.net"
  },
  "Jwt": { "Issuer": "acme", "SigningKey": "⟦+generic_secret⟧" },
  "Build": "⟦-git_sha⟧"
}
""",
            """{"customer": {"id": "⟦-uuid⟧", "full_name": "⟦+person⟧", "email": "⟦+email⟧",
 "phone": "⟦+phone⟧", "ssn": "⟦+us_ssn_plain⟧",
 "billing_address": {"line1": "⟦+street_address⟧", "city": "⟦+city⟧"},
 "card_last4": "4242", "created": "⟦-timestamp⟧"}}
""",
            """{
  "api": {"key": "⟦+generic_secret⟧", "secret": "⟦+generic_secret⟧", "endpoint": "⟦-url⟧"},
  "datadog": {"api_key": "⟦+datadog_key⟧"},
  "integrity": "⟦-integrity⟧",
  "request_id": "⟦-uuid⟧"
}
""",
        ),
    ),
    Family(
        "t_xml_properties",
        "properties",
        (
            """spring.datasource.url=jdbc:mysql://db.internal:3306/shop
spring.datasource.username=shop
spring.datasource.password=⟦+password⟧
spring.mail.password=⟦+password⟧
app.jwt.secret=⟦+generic_secret⟧
app.build.sha=⟦-git_sha⟧
""",
            """<settings>
  <servers>
    <server>
      <id>nexus-releases</id>
      <username>deploy</username>
      <password>⟦+password⟧</password>
    </server>
  </servers>
  <profiles><profile><id>ci</id><properties><build.id>⟦-uuid⟧</build.id></properties></profile></profiles>
</settings>
""",
            """<configuration>
  <connectionStrings>
    <add name="Main" connectionString="Data Source=sql02;Initial Catalog=Orders;User ID=orders;Password=⟦+password⟧;" />
  </connectionStrings>
  <appSettings>
    <add key="ApiSecret" value="⟦+generic_secret⟧" />
    <add key="BuildSha" value="⟦-git_sha⟧" />
  </appSettings>
</configuration>
""",
        ),
    ),
    Family(
        "t_credential_files",
        "credentials",
        (
            """[default]
aws_access_key_id = ⟦+aws_key⟧
aws_secret_access_key = ⟦+aws_secret⟧

[prod]
aws_access_key_id = ⟦+aws_key⟧
aws_secret_access_key = ⟦+aws_secret⟧
aws_session_token = ⟦+aws_session_token⟧
region = eu-west-1
""",
            """{
  "type": "service_account",
  "project_id": "acme-prod-⟦-numeric_id⟧",
  "private_key_id": "⟦+hex_key_id⟧",
  "private_key": "⟦+private_key_escaped⟧\\n",
  "client_email": "deployer@acme-prod.iam.gserviceaccount.com",
  "client_id": "⟦-numeric_id⟧",
  "auth_uri": "https://accounts.google.com/o/oauth2/auth"
}
""",
            """//registry.npmjs.org/:_authToken=⟦+npm_token⟧
@acme:registry=https://npm.pkg.github.com
//npm.pkg.github.com/:_authToken=⟦+github_token⟧
always-auth=true
""",
            """[distutils]
index-servers = pypi

[pypi]
username = __token__
password = ⟦+pypi_token⟧
""",
            """{
  "auths": {
    "registry.acme.io": {"auth": "⟦+basic_auth⟧"},
    "https://index.docker.io/v1/": {"auth": "⟦+basic_auth⟧"}
  },
  "credsStore": "desktop"
}
""",
            """apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://⟦+ip_address⟧:6443
  name: prod
users:
- name: admin
  user:
    token: ⟦+generic_secret⟧
""",
        ),
    ),
]
