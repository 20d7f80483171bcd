"""Tuning half: source code in several languages, and diffs."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "t_python_code",
        "code",
        (
            """import stripe
from dataclasses import dataclass

stripe.api_key = "⟦+stripe_key⟧"
SENDGRID_KEY = "⟦+sendgrid_key⟧"
webhook_secret = "⟦+hex_secret⟧"


@dataclass
class Customer:
    name: str
    email: str


def test_customer_roundtrip(db):
    customer = Customer(name="⟦+person⟧", email="⟦+email⟧")
    assert customer.name.startswith("⟦-title_phrase⟧") is False
    assert db.save(customer).id == "⟦-uuid⟧"
""",
            """class Main:
    \"\"\"Entry point; see ⟦-url⟧.\"\"\"

    def __init__(self) -> None:
        self.client = OpenAI(api_key="⟦+openai_key⟧")
        self.redis = Redis.from_url("redis://:⟦+url_password⟧@cache.internal:6379/0")
        self.cache_key = "⟦-sha256_hex⟧"

    def run(self) -> None:
        logger.info("⟦-title_phrase⟧ for %s", "⟦-class_name⟧")
""",
            """FIXTURE_USERS = [
    {"first_name": "⟦+first_name⟧", "last_name": "⟦+last_name⟧", "phone": "⟦+phone⟧", "ssn": "⟦+us_ssn⟧"},
    {"first_name": "⟦+first_name⟧", "last_name": "⟦+last_name⟧", "phone": "⟦+phone⟧", "ssn": "⟦+us_ssn⟧"},
]
ADDRESS = {"street": "⟦+street_address⟧", "city_line": "⟦+place⟧"}
REQUEST_ID = "⟦-uuid⟧"  # ⟦-git_sha⟧
""",
            """def connect():
    conn = psycopg.connect("host=db.internal port=5432 dbname=orders user=orders password=⟦+password⟧ sslmode=require")
    engine = create_engine("mysql+pymysql://app:⟦+url_password⟧@mysql.internal/app?charset=utf8mb4")
    mongo = MongoClient("mongodb+srv://svc:⟦+url_password⟧@cluster0.abcde.mongodb.net/?retryWrites=true")
    return conn, engine, mongo  # checksum ⟦-md5⟧
""",
        ),
    ),
    Family(
        "t_js_code",
        "code",
        (
            """const client = new Twilio(process.env.TWILIO_SID, "⟦+twilio_key⟧");
const mailgun = mg({ username: "api", key: "⟦+mailgun_key⟧" });
export const config = {
  sessionSecret: "⟦+generic_secret⟧",
  csrfSecret: "⟦+csrf_token⟧",
  buildId: "⟦-container_id⟧",
  integrity: "⟦-integrity⟧",
};
""",
            """await fetch("https://api.acme.io/v2/users", {
  method: "POST",
  headers: { "X-API-Key": "⟦+generic_secret⟧", "Content-Type": "application/json" },
  body: JSON.stringify({ fullName: "⟦+person⟧", phone: "⟦+phone⟧", address: "⟦+street_address⟧" }),
});
// trace ⟦-trace_id⟧, see ⟦-url⟧
""",
            """describe("⟦-title_phrase⟧", () => {
  it("formats the customer", () => {
    const c = { name: "⟦+person⟧", city: "⟦+city⟧", email: "⟦+email⟧" };
    expect(format(c)).toMatchSnapshot();
    expect(hash(c)).toBe("⟦-sha256_hex⟧");
  });
});
""",
        ),
    ),
    Family(
        "t_go_java_code",
        "code",
        (
            """package db

const dsn = "postgres://billing:⟦+url_password⟧@10.0.4.2:5432/billing?sslmode=disable"

func Open() (*sql.DB, error) {
	// build ⟦-git_sha⟧, image ⟦-image_ref⟧
	return sql.Open("pgx", dsn)
}
""",
            """public class Main {
    private static final String DB_URL = "jdbc:postgresql://db.internal:5432/orders?user=orders&password=⟦+url_password⟧";
    private static final String API_TOKEN = "⟦+generic_secret⟧";
    private static final String SQLSERVER = "jdbc:sqlserver://sql01.internal:1433;databaseName=crm;user=sa;password=⟦+password⟧;";

    public static void main(String[] args) {
        System.out.println("⟦-title_phrase⟧ " + ⟦-numeric_id⟧);
    }
}
""",
            """var aws = session.Must(session.NewSession(&aws.Config{
	Credentials: credentials.NewStaticCredentials("⟦+aws_key⟧", "⟦+aws_secret⟧", ""),
	Region:      aws.String("eu-central-1"),
}))
// request ⟦-uuid⟧ at ⟦-timestamp⟧
""",
        ),
    ),
    Family(
        "t_git_diff",
        "diff",
        (
            """diff --git a/config/settings.py b/config/settings.py
index ⟦-container_id⟧..⟦-container_id⟧ 100644
--- a/config/settings.py
+++ b/config/settings.py
@@ -12,7 +12,7 @@ DATABASES = {
-        "PASSWORD": os.environ["DB_PASSWORD"],
+        "PASSWORD": "⟦+password⟧",
-SECRET_KEY = env("SECRET_KEY")
+SECRET_KEY = "⟦+generic_secret⟧"
""",
            """diff --git a/tests/fixtures/customers.json b/tests/fixtures/customers.json
--- a/tests/fixtures/customers.json
+++ b/tests/fixtures/customers.json
@@ -1,4 +1,6 @@
+  {"name": "⟦+person⟧", "phone": "⟦+phone⟧", "address": "⟦+street_address⟧"},
+  {"name": "⟦+person⟧", "phone": "⟦+phone⟧", "address": "⟦+street_address⟧"},
   {"id": "⟦-uuid⟧", "sha": "⟦-git_sha⟧"}
""",
            """commit ⟦-git_sha⟧
Author: ⟦+person⟧ <⟦+email⟧>
Date:   Tue Mar 12 10:04:11 2024 +0100

    Fix ⟦-title_phrase⟧ handling in ⟦-class_name⟧

    Co-authored-by: ⟦+person⟧ <⟦+email⟧>
    Signed-off-by: ⟦+person⟧ <⟦+email⟧>
""",
        ),
    ),
]
