"""Held-out half: shell, httpie/wget, nginx and app logs, CI logs, traces. Never tuned on."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "h_shell",
        "shell",
        (
            """❯ export OPENAI_API_KEY="⟦+openai_key⟧"
❯ heroku config:set STRIPE_SECRET_KEY=⟦+stripe_key⟧ -a shop-prod
Setting STRIPE_SECRET_KEY and restarting ⬢ shop-prod... done, v⟦-numeric_id⟧
❯ mongosh "mongodb://root:⟦+url_password⟧@⟦+ip_address⟧:27017/?authSource=admin"
""",
            """root@web-1:~# mysqldump --user=backup --password='⟦+password⟧' shop > /tmp/shop.sql
root@web-1:~# lftp -u deploy,⟦+password⟧ sftp://files.acme.io
root@web-1:~# md5sum /tmp/shop.sql
⟦-md5⟧  /tmp/shop.sql
""",
            """% git remote -v
origin	https://⟦~username⟧:⟦+github_token⟧@github.com/acme/infra.git (fetch)
% gh auth status
  ✓ Token: ⟦+github_token⟧
% echo $SHELL ⟦-file_path⟧
""",
        ),
    ),
    Family(
        "h_http_clients",
        "curl",
        (
            """http POST https://api.acme.io/v1/tokens Authorization:"Bearer ⟦+bearer_token⟧" name=ci
wget --header="PRIVATE-TOKEN: ⟦+gitlab_token⟧" https://gitlab.acme.io/api/v4/projects
""",
            """curl -sS "https://api.acme.io/v1/search?q=test&api_key=⟦+generic_secret⟧" | jq .
curl --user "svc:⟦+password⟧" -X DELETE ⟦-url⟧
""",
            """curl 'https://app.acme.io/graphql' \\
  -H 'authorization: Bearer ⟦+jwt⟧' \\
  -H 'cookie: _session=⟦+session_id⟧; theme=dark' \\
  --data-raw '{"query":"{ me { id } }","variables":{"name":"⟦+person⟧"}}'
""",
        ),
    ),
    Family(
        "h_nginx_logs",
        "http_log",
        (
            """⟦+ip_address⟧ - ⟦~username⟧ [⟦-date⟧] "GET /reset?password_token=⟦+generic_secret⟧ HTTP/2.0" 200 312 "-" "Mozilla/5.0 (Macintosh)" rt=⟦-duration⟧
⟦+ip_address⟧ - - [⟦-date⟧] "GET /assets/index-⟦-md5⟧.css HTTP/2.0" 304 0 "⟦-url⟧" "Mozilla/5.0"
""",
            """172.18.0.1 - - [⟦-date⟧] "POST /hooks/stripe HTTP/1.1" 400 22 "-" "Stripe/1.0" stripe-signature="t=⟦-numeric_id⟧,v1=⟦+hex_secret⟧"
⟦+ip_address⟧ - - [⟦-date⟧] "GET /api/users?access_token=⟦+generic_secret⟧ HTTP/1.1" 401 0 "-" "python-requests/2.31"
""",
        ),
    ),
    Family(
        "h_app_logs",
        "app_log",
        (
            """time=⟦-timestamp⟧ level=info msg="shipment created" recipient="⟦+person⟧" to="⟦+street_address⟧, ⟦+place⟧" carrier=ups tracking=⟦-digit_id⟧
time=⟦-timestamp⟧ level=warn msg="sms failed" phone="⟦+phone⟧" err="⟦-title_phrase⟧"
""",
            """2024-06-01 12:00:01.123 DEBUG 4242 --- [main] c.a.c.DataSourceConfig : url=jdbc:mysql://⟦-hostname⟧:3306/crm user=crm password=⟦+password⟧
2024-06-01 12:00:01.456 INFO  4242 --- [main] c.a.Application : Started Application in ⟦-duration⟧ (build ⟦-git_sha⟧)
""",
            """[⟦-timestamp⟧] production.ERROR: Guzzle request failed {"headers":{"Authorization":["Bearer ⟦+bearer_token⟧"]},"user":"⟦+person⟧","ip":"⟦+ip_address⟧"}
[⟦-timestamp⟧] production.INFO: ⟦-title_phrase⟧ {"request_id":"⟦-uuid⟧"}
""",
        ),
    ),
    Family(
        "h_ci_logs",
        "ci_log",
        (
            """$ echo "$DOCKER_AUTH_CONFIG" > ~/.docker/config.json
$ docker login -u gitlab-ci-token -p ⟦+gitlab_token⟧ registry.gitlab.com
Login Succeeded
$ twine upload dist/* -u __token__ -p ⟦+pypi_token⟧
Uploading acme-⟦-version⟧.tar.gz 100%
""",
            """##[debug]Evaluating: secrets.SLACK_WEBHOOK
##[debug]Result: '⟦+slack_webhook⟧'
Run npm ci (cache ⟦-sha256_hex⟧)
added ⟦-numeric_id⟧ packages in ⟦-duration⟧
""",
        ),
    ),
    Family(
        "h_traces",
        "stack_trace",
        (
            """goroutine 1 [running]:
main.connect(0xc000012345, {0x⟦-md5⟧, 0x2a})
	/src/main.go:42 +0x1d
panic: dial tcp: lookup redis: no such host (url redis://default:⟦+url_password⟧@redis:6379)
""",
            """  File "/usr/lib/python3/site-packages/smtplib.py", line 750, in login
    raise last_exception
smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted.')
  Local variables: user='alerts@acme.io' password='⟦+password⟧' host='⟦+ip_address⟧'
""",
            """Error: Request failed with status code 403
    at createError (/app/node_modules/axios/lib/core/createError.js:16:15)
  config: { headers: { 'X-Shopify-Access-Token': '⟦+shopify_token⟧' }, url: '⟦-url⟧' }
  customer: { name: '⟦+person⟧', email: '⟦+email⟧' }
""",
        ),
    ),
]
