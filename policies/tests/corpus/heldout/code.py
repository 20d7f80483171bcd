"""Held-out half: Ruby, PHP, Rust, C#, TypeScript tests, Kotlin, and diffs. Never tuned on."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "h_ruby_php",
        "code",
        (
            """Rails.application.configure do
  config.action_mailer.smtp_settings = {
    address: "smtp.sendgrid.net",
    user_name: "apikey",
    password: "⟦+sendgrid_key⟧",
  }
  config.secret_key_base = "⟦+hex_secret⟧"
  config.x.build = "⟦-git_sha⟧"
end
""",
            """<?php
return [
    'default' => env('DB_CONNECTION', 'mysql'),
    'connections' => [
        'mysql' => [
            'host' => '⟦+ip_address⟧',
            'username' => 'forge',
            'password' => '⟦+password⟧',
        ],
    ],
    'stripe_secret' => '⟦+stripe_key⟧',
    'cache_hash' => '⟦-sha256_hex⟧',
];
""",
            """User.create!(
  name: "⟦+person⟧",
  email: "⟦+email⟧",
  phone: "⟦+phone⟧",
  street: "⟦+street_address⟧",
  uuid: "⟦-uuid⟧"
)
""",
        ),
    ),
    Family(
        "h_rust_csharp",
        "code",
        (
            """let pool = PgPoolOptions::new()
    .max_connections(5)
    .connect("postgres://ledger:⟦+url_password⟧@ledger-db.internal/ledger")
    .await?;
let hmac_secret = b"⟦+generic_secret⟧";
// tracing id ⟦-trace_id⟧
""",
            """var builder = WebApplication.CreateBuilder(args);
builder.Services.AddDbContext<ShopContext>(o =>
    o.UseSqlServer("Server=tcp:shop.database.windows.net,1433;Initial Catalog=shop;User ID=shopadmin;Password=⟦+password⟧;Encrypt=True;"));
const string ApiSecret = "⟦+generic_secret⟧";
public static void Main(string[] args) => Console.WriteLine("⟦-title_phrase⟧");
""",
            """fn main() {
    let client = reqwest::Client::new();
    let res = client
        .get("https://api.github.com/repos/acme/api")
        .header("Authorization", format!("token {}", "⟦+github_token⟧"))
        .send();
    println!("{} {}", "⟦-class_name⟧", "⟦-version⟧");
}
""",
        ),
    ),
    Family(
        "h_ts_fixtures",
        "code",
        (
            """export const seedPatients: Patient[] = [
  { id: "⟦-uuid⟧", givenName: "⟦+first_name⟧", familyName: "⟦+last_name⟧", mobile: "⟦+phone⟧" },
  { id: "⟦-uuid⟧", givenName: "⟦+first_name⟧", familyName: "⟦+last_name⟧", mobile: "⟦+phone_national⟧" },
];
""",
            """test("renders the shipping label", () => {
  render(<Label recipient="⟦+person⟧" line1="⟦+street_address⟧" line2="⟦+place⟧" />);
  expect(screen.getByText("⟦-title_phrase⟧")).toBeInTheDocument();
});
""",
            """const cfg = {
  firebase: { apiKey: "⟦+google_key⟧", projectId: "acme-⟦-numeric_id⟧" },
  algolia: { appId: "⟦-k8s_name⟧", adminKey: "⟦+hex_secret⟧" },
  sentryRelease: "⟦-git_sha⟧",
};
""",
        ),
    ),
    Family(
        "h_kotlin_swift",
        "code",
        (
            """object Secrets {
    const val MAPS_KEY = "⟦+google_key⟧"
    const val CLIENT_SECRET = "⟦+generic_secret⟧"
    const val BUILD = "⟦-git_sha⟧"
}
""",
            """let contact = Contact(name: "⟦+person⟧", phone: "⟦+phone⟧", address: "⟦+street_address⟧, ⟦+place⟧")
let requestID = "⟦-uuid⟧"
""",
        ),
    ),
    Family(
        "h_diffs",
        "diff",
        (
            """--- a/.env.example
+++ b/.env.production
@@ -1,3 +1,5 @@
-PAYMENT_SECRET=
+PAYMENT_SECRET=⟦+generic_secret⟧
+ALGOLIA_ADMIN_KEY=⟦+hex_secret⟧
 APP_ENV=production
 BUILD=⟦-git_sha⟧
""",
            """@@ -40,6 +40,9 @@ class SeedData:
     customers = [
-        Customer("Jane Example", "jane@example.com"),
+        Customer("⟦+person⟧", "⟦+email⟧", "⟦+phone⟧"),
+        Customer("⟦+person⟧", "⟦+email⟧", "⟦+phone⟧"),
     ]
""",
            """From ⟦-git_sha⟧ Mon Sep 17 00:00:00 2001
From: ⟦+person⟧ <⟦+email⟧>
Date: ⟦-date⟧
Subject: [PATCH] Add Redis cache

+CACHE_URL = "rediss://:⟦+url_password⟧@cache.acme.internal:6380/2"
""",
        ),
    ),
]
