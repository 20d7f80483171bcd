"""Tuning half: the first corpus (code, .env, CI logs, stack traces, SQL dumps, support
transcripts, configs, shell sessions), written together with the first rules.
"""

from __future__ import annotations

from policies.tests.corpus import Family

TEMPLATES: dict[str, str] = {
    "python_settings": """import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "⟦+secret⟧"
DEBUG = os.environ.get("DEBUG", "False") == "True"
ALLOWED_HOSTS = ["api.internal", "⟦+ip_address⟧"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "orders",
        "USER": "orders_app",
        "PASSWORD": "⟦+password⟧",
        "HOST": "db.internal",
        "PORT": "⟦-port⟧",
    }
}
STRIPE_API_KEY = "⟦+stripe_key⟧"
SENDGRID_API_KEY = os.environ["SENDGRID_API_KEY"]  # fallback for local: ⟦+sendgrid_key⟧
OPENAI_API_KEY = os.getenv("OPENAI_API_KEY")
MAX_TOKENS = 4096  # ⟦-identifier⟧ must stay
REQUEST_ID = "⟦-uuid⟧"
# see ⟦-doc_url⟧ and ⟦-ticket_id⟧
""",
    "dotenv": """# .env for local development (copied from 1Password, ⟦-timestamp⟧)
DATABASE_URL=postgres://app:⟦+password⟧@localhost:⟦-port⟧/app_dev
REDIS_URL=redis://localhost:6379/0
AWS_ACCESS_KEY_ID=⟦+aws_key⟧
AWS_SECRET_ACCESS_KEY=⟦+aws_secret⟧
GITHUB_TOKEN=⟦+github_token⟧
ANTHROPIC_API_KEY=⟦+anthropic_key⟧
OPENAI_API_KEY=⟦+openai_key⟧
SLACK_BOT_TOKEN=⟦+slack_token⟧
NPM_TOKEN=⟦+npm_token⟧
DD_API_KEY=⟦+datadog_key⟧
APP_VERSION=⟦-version⟧
BUILD_SHA=⟦-git_sha⟧
THEME_PRIMARY=⟦-hex_colour⟧
SESSION_TTL_SECONDS=3600
""",
    "ci_log": """2024-03-11T09:14:02.113Z ##[group]Run actions/checkout@v4
⟦-timestamp⟧ Syncing repository: acme/payments (⟦-git_sha⟧)
⟦-timestamp⟧ ##[command]git remote add origin https://x-access-token:⟦+github_token⟧@github.com/acme/payments
⟦-timestamp⟧ Resolved image ghcr.io/acme/payments@⟦-digest⟧
⟦-timestamp⟧ npm notice using token npm_authToken=⟦+npm_token⟧
⟦-timestamp⟧ Publishing to https://upload.pypi.org/legacy/ with password ⟦+pypi_token⟧
⟦-timestamp⟧ pytest -q --maxfail=1 (run ⟦-long_id⟧, job ⟦-numeric_id⟧)
⟦-timestamp⟧ FAILED tests/test_refunds.py::test_partial_refund - AssertionError: 402 != 200
⟦-timestamp⟧ Posting summary to ⟦+slack_webhook⟧
⟦-timestamp⟧ Deployed ⟦-version⟧ to pod ⟦-k8s_name⟧ on 10.0.3.17:⟦-port⟧ (ticket ⟦-ticket_id⟧)
""",
    "stack_trace": """Traceback (most recent call last):
  File "/srv/app/billing/charge.py", line 88, in charge
    resp = stripe.Charge.create(amount=amount, currency="eur", api_key="⟦+stripe_key⟧")
  File "/srv/app/.venv/lib/python3.11/site-packages/stripe/_api_requestor.py", line 197, in request
    raise error.AuthenticationError(msg)
stripe._error.AuthenticationError: Invalid API Key provided for customer ⟦+email⟧ (card ⟦+credit_card⟧)
request_id=⟦-long_id⟧ trace=⟦-uuid⟧ at ⟦-timestamp⟧
During handling of the above exception, another exception occurred:
  File "/srv/app/notify.py", line 12, in alert
    requests.post(url, headers={"Authorization": "Bearer ⟦+jwt⟧"}, timeout=5)
requests.exceptions.ConnectionError: HTTPSConnectionPool(host='⟦+ip_address⟧', port=⟦-port⟧): Max retries exceeded
See ⟦-doc_url⟧
""",
    "sql_dump": """-- PostgreSQL database dump, pg_dump 16.2, ⟦-timestamp⟧
COPY public.customers (id, external_id, email, phone, ssn, iban, created_at) FROM stdin;
⟦-numeric_id⟧	⟦-uuid⟧	⟦+email⟧	⟦+phone⟧	⟦+us_ssn⟧	⟦+iban⟧	⟦-timestamp⟧
⟦-numeric_id⟧	⟦-uuid⟧	⟦+email⟧	⟦+phone⟧	⟦+us_ssn⟧	⟦+iban⟧	⟦-timestamp⟧
\\.
INSERT INTO api_clients (name, client_secret, webhook) VALUES ('ledger', '⟦+secret⟧', '⟦+slack_webhook⟧');
INSERT INTO payment_methods (customer_id, pan, brand) VALUES (⟦-numeric_id⟧, '⟦+credit_card⟧', 'visa');
UPDATE builds SET commit = '⟦-git_sha⟧', image = 'registry.acme.io/web@⟦-digest⟧' WHERE id = ⟦-numeric_id⟧;
""",
    "support_transcript": """[⟦-timestamp⟧] Customer: Hi, I can't log in. My email is ⟦+email⟧ and my number is ⟦+phone⟧.
[⟦-timestamp⟧] Agent (Sam): Thanks! I see ticket ⟦-ticket_id⟧. Can you confirm the last card you used?
[⟦-timestamp⟧] Customer: It's ⟦+credit_card⟧. Also my SSN for the tax form is ⟦+us_ssn⟧.
[⟦-timestamp⟧] Customer: Refunds go to ⟦+iban⟧ please. I'm connecting from ⟦+ip_address⟧.
[⟦-timestamp⟧] Agent (Sam): Done, reference ⟦-long_id⟧. Our app version is ⟦-version⟧, see ⟦-doc_url⟧.
""",
    "k8s_yaml": """apiVersion: v1
kind: Secret
metadata:
  name: payments-credentials
  annotations:
    deployed-at: "⟦-timestamp⟧"
    revision: "⟦-git_sha⟧"
stringData:
  DATABASE_PASSWORD: "⟦+password⟧"
  api_key: ⟦+secret⟧
  AZURE_STORAGE_CONNECTION_STRING: "DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey=⟦+azure_key⟧;EndpointSuffix=core.windows.net"
  GOOGLE_API_KEY: ⟦+google_key⟧
---
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web@⟦-digest⟧
          ports:
            - containerPort: ⟦-port⟧
          env:
            - name: OPENAI_API_KEY
              valueFrom: {secretKeyRef: {name: payments-credentials, key: openai}}
""",
    "json_config": """{
  "service": "notifier",
  "version": "⟦-version⟧",
  "instance_id": "⟦-uuid⟧",
  "theme": {"primary": "⟦-hex_colour⟧", "accent": "⟦-hex_colour⟧"},
  "slack": {"bot_token": "⟦+slack_token⟧", "webhook_url": "⟦+slack_webhook⟧"},
  "gitlab": {"url": "https://gitlab.acme.io", "token": "⟦+gitlab_token⟧"},
  "gateway": {"base_url": "https://llm.acme.io/anthropic", "api_key": "⟦+gateway_key⟧"},
  "logo": "⟦-base64_image⟧",
  "max_tokens": 1024,
  "created": "⟦-timestamp⟧"
}
""",
    "shell_session": """$ export ANTHROPIC_API_KEY=⟦+anthropic_key⟧
$ curl -s https://api.openai.com/v1/models -H "Authorization: Bearer ⟦+openai_key⟧" | jq '.data[0].id'
"gpt-4o-mini"
$ psql "postgresql://reporting:⟦+password⟧@warehouse.internal:⟦-port⟧/warehouse" -h ⟦+ip_address⟧ -c "select count(*) from events"
 count
-------
 ⟦-numeric_id⟧
$ git log -1 --format=%H
⟦-git_sha⟧
$ docker run --rm -e DD_API_KEY=⟦+datadog_key⟧ datadog/agent:⟦-version⟧
$ ssh -i ~/.ssh/id_ed25519 deploy@bastion.acme.io
""",
    "pem_in_code": """const jwt = require("jsonwebtoken");
// Signing key for local tests only (⟦-ticket_id⟧)
const PRIVATE_KEY = `⟦+private_key⟧`;
const token = jwt.sign({ sub: "⟦-uuid⟧" }, PRIVATE_KEY, { algorithm: "RS256", expiresIn: "1h" });
const session = "⟦+jwt⟧";
module.exports = { token, session, version: "⟦-version⟧", color: "⟦-hex_colour⟧" };
""",
    "terraform": """provider "aws" {
  region     = "eu-west-1"
  access_key = "⟦+aws_key⟧"
  secret_key = "⟦+aws_secret⟧"
}

resource "aws_db_instance" "orders" {
  identifier        = "orders-⟦-git_sha⟧"
  engine_version    = "⟦-version⟧"
  username          = "orders"
  password          = "⟦+password⟧"
  port              = ⟦-port⟧
  tags = { Ticket = "⟦-ticket_id⟧", Owner = "⟦+email⟧" }
}
""",
    "go_client": """package client

// Retry policy documented at ⟦-doc_url⟧
const apiVersion = "⟦-version⟧"

func New() *Client {
	return &Client{
		BaseURL:   "https://api.sendgrid.com/v3",
		APIKey:    "⟦+sendgrid_key⟧",
		UserAgent: "acme-mailer/⟦-version⟧",
		RequestID: "⟦-uuid⟧",
		Timeout:   30 * time.Second,
	}
}

var webhookSecret = "⟦+stripe_key⟧"
var buildSHA = "⟦-git_sha⟧"
""",
    "agent_prose": """I looked at the failing job (⟦-long_id⟧). The deploy at ⟦-timestamp⟧ used commit ⟦-git_sha⟧ and
image digest ⟦-digest⟧. The error says the Google key ⟦+google_key⟧ is restricted to ⟦+ip_address⟧,
and the PyPI token ⟦+pypi_token⟧ expired. I'll rotate both and open ⟦-ticket_id⟧. The user
⟦+email⟧ also pasted their gateway key ⟦+gateway_key⟧ in the thread; I'd revoke it. Version
⟦-version⟧ of the client pins `max_tokens`, see ⟦-doc_url⟧. Call them at ⟦+phone⟧ if needed.
""",
    "docker_compose": """services:
  db:
    image: postgres:⟦-version⟧
    environment:
      POSTGRES_PASSWORD: ⟦+password⟧
    ports: ["⟦-port⟧:5432"]
  worker:
    image: registry.acme.io/worker@⟦-digest⟧
    environment:
      CELERY_BROKER_URL: amqp://worker:⟦+password⟧@rabbitmq:5672//
      AZURE_CLIENT_ID: ⟦-uuid⟧
      GITLAB_TOKEN: ${GITLAB_TOKEN}
      SENTRY_RELEASE: ⟦-git_sha⟧
""",
}


_CONTEXTS = {
    "python_settings": "code",
    "dotenv": "dotenv",
    "ci_log": "ci_log",
    "stack_trace": "stack_trace",
    "sql_dump": "sql",
    "support_transcript": "prose",
    "k8s_yaml": "kubernetes",
    "json_config": "json",
    "shell_session": "shell",
    "pem_in_code": "code",
    "terraform": "code",
    "go_client": "code",
    "agent_prose": "prose",
    "docker_compose": "yaml",
}
FAMILIES = [Family("legacy_" + name, _CONTEXTS[name], (text,)) for name, text in TEMPLATES.items()]
