"""Tuning half: shell history, curl commands, HTTP and application logs, stack traces."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "t_shell_history",
        "shell",
        (
            """  501  export GITHUB_TOKEN=⟦+github_token⟧
  502  mysql -u root -p⟦+password⟧ -h ⟦+ip_address⟧ shop
  503  docker login -u deploy -p ⟦+password⟧ registry.acme.io
  504  git push https://deploy:⟦+url_password⟧@git.acme.io/acme/api.git ⟦-git_ref⟧
  505  kubectl logs ⟦-k8s_name⟧ --since=1h
""",
            """$ psql "host=⟦-hostname⟧ user=report password=⟦+password⟧ dbname=dw"
$ redis-cli -h cache.internal -a ⟦+password⟧ ping
PONG
$ PGPASSWORD=⟦+password⟧ pg_dump -h db -U app app > dump.sql
$ sha256sum dump.sql
⟦-sha256_hex⟧  dump.sql
""",
        ),
    ),
    Family(
        "t_curl",
        "curl",
        (
            """curl -X POST https://api.acme.io/v1/charges \\
  -H "Authorization: Bearer ⟦+bearer_token⟧" \\
  -H "Content-Type: application/json" \\
  -d '{"amount": 1200, "customer": "⟦-long_id⟧"}'
""",
            """curl -u admin:⟦+password⟧ https://jenkins.acme.io/job/deploy/build
curl -H 'X-Api-Key: ⟦+generic_secret⟧' -H 'X-Request-Id: ⟦-uuid⟧' ⟦-url⟧
""",
            """curl 'https://shop.acme.io/api/cart' -H 'Cookie: sessionid=⟦+session_id⟧; csrftoken=⟦+csrf_token⟧' -H 'X-CSRFToken: ⟦+csrf_token⟧' --data-raw 'qty=2'
""",
            """curl https://api.acme.io/v2/customers -H "Authorization: Basic ⟦+basic_auth⟧" \\
  -d name="⟦+person⟧" -d phone="⟦+phone⟧" -d email=⟦+email⟧
""",
        ),
    ),
    Family(
        "t_http_log",
        "http_log",
        (
            """⟦+ip_address⟧ - - [12/Mar/2024:10:04:11 +0000] "GET /api/v1/export?token=⟦+generic_secret⟧&format=csv HTTP/1.1" 200 5123 "-" "curl/8.4.0"
⟦+ip_address⟧ - - [12/Mar/2024:10:04:12 +0000] "GET /static/app.⟦-md5⟧.js HTTP/1.1" 200 81234 "-" "Mozilla/5.0"
⟦+ip_address⟧ - - [12/Mar/2024:10:04:13 +0000] "POST /login HTTP/1.1" 302 0 "⟦-url⟧" "Mozilla/5.0"
""",
            """DEBUG http.client send: b'POST /v1/messages HTTP/1.1\\r\\nHost: api.anthropic.com\\r\\nx-api-key: ⟦+anthropic_key⟧\\r\\n'
DEBUG http.client reply: 'HTTP/1.1 200 OK' request-id=⟦-long_id⟧
DEBUG urllib3 GET https://api.github.com/user Authorization: token ⟦+github_token⟧
""",
        ),
    ),
    Family(
        "t_app_log",
        "app_log",
        (
            """⟦-timestamp⟧ INFO  [orders] created order ⟦-order_number⟧ for customer="⟦+person⟧" email=⟦+email⟧ ip=⟦+ip_address⟧
⟦-timestamp⟧ WARN  [orders] address validation failed: "⟦+street_address⟧, ⟦+place⟧" (trace ⟦-trace_id⟧)
⟦-timestamp⟧ ERROR [payments] card ⟦+credit_card⟧ declined after ⟦-duration⟧ (⟦-title_phrase⟧)
""",
            """{"level":"info","ts":"⟦-timestamp⟧","msg":"user signed up","user":{"name":"⟦+person⟧","phone":"⟦+phone⟧"},"request_id":"⟦-uuid⟧"}
{"level":"debug","ts":"⟦-timestamp⟧","msg":"db connect","dsn":"postgres://app:⟦+url_password⟧@10.1.2.3:5432/app","took":"⟦-duration⟧"}
{"level":"error","ts":"⟦-timestamp⟧","msg":"⟦-title_phrase⟧","class":"⟦-class_name⟧","span":"⟦-trace_id⟧"}
""",
        ),
    ),
    Family(
        "t_java_trace",
        "stack_trace",
        (
            """Exception in thread "main" org.postgresql.util.PSQLException: FATAL: password authentication failed for user "app"
	at org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)
	at com.acme.db.Pool.open(Pool.java:41) [url=jdbc:postgresql://db:5432/app?user=app&password=⟦+url_password⟧]
	at com.acme.Main.main(Main.java:12)
Caused by: java.net.ConnectException: Connection refused (host ⟦+ip_address⟧, build ⟦-git_sha⟧)
""",
            """Traceback (most recent call last):
  File "/app/sync.py", line 41, in run
    client = Client(api_key=api_key, secret="⟦+generic_secret⟧")
  File "/app/client.py", line 9, in __init__
    raise AuthError(f"invalid key {api_key}")
client.AuthError: invalid key ⟦+generic_secret⟧
  locals: customer='⟦+person⟧' phone='⟦+phone⟧' order=⟦-order_number⟧
""",
        ),
    ),
]
