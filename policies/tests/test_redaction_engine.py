"""The scanner, placeholders, the per-block cache and the request walkers."""

from __future__ import annotations

import json

import pytest

from policies.redaction.cache import ScanCache, block_key, scan_cache
from policies.redaction.engine import ScanConfig, all_rule_config, scanner
from policies.redaction.placeholders import (
    PLACEHOLDER_RE,
    Redaction,
    make_placeholder,
    workspace_key,
)
from policies.redaction.redactor import redact_body
from policies.tests.corpus.values import Gen

ALL = all_rule_config()


def _found(text: str, config: ScanConfig = ALL) -> list[tuple[str, str]]:
    return [(text[s:e], t) for s, e, t in scanner().scan_text(text, config)]


@pytest.mark.parametrize(
    ("text", "value", "type_"),
    [
        (
            "export GITHUB_TOKEN=ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
            "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
            "GITHUB_TOKEN",
        ),
        ("mail jane.doe+work@acme-corp.io today", "jane.doe+work@acme-corp.io", "EMAIL"),
        ("call +44 20 7946 0958 now", "+44 20 7946 0958", "PHONE"),
        ("call (212) 555-0198 now", "(212) 555-0198", "PHONE"),
        ("card 4539 1488 0343 6467.", "4539 1488 0343 6467", "CREDIT_CARD"),
        # the issuers' published test numbers, as people paste them
        ("my card is 4111 1111 1111 1111 exp 12/28.", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("card: 4111111111111111", "4111111111111111", "CREDIT_CARD"),
        ("cc=5500-0000-0000-0004", "5500-0000-0000-0004", "CREDIT_CARD"),
        ("Use test card 4242 4242 4242 4242 in Stripe", "4242 4242 4242 4242", "CREDIT_CARD"),
        ("mc 5555555555554444 ok", "5555555555554444", "CREDIT_CARD"),
        ("amex 378282246310005", "378282246310005", "CREDIT_CARD"),
        ("ssn 123-45-6789", "123-45-6789", "US_SSN"),
        ("iban GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", "IBAN"),
        ("host 10.0.12.7 up", "10.0.12.7", "IP_ADDRESS"),
        ("postgres://app:S3cr3tPass@db.internal:5432/app", "S3cr3tPass", "PASSWORD"),
        ('DB_PASSWORD="Xk9#mP2vLq"', "Xk9#mP2vLq", "PASSWORD"),
        # ODBC / ADO.NET connection strings: the value ends at the next `;Key=`
        (
            "Data Source=srv;Initial Catalog=db;Pwd=Xyz!2345abc;Trusted_Connection=no",
            "Xyz!2345abc",
            "PASSWORD",
        ),
        (
            "Server=tcp:x,1433;User ID=admin;Password=P@ssw0rd123;Encrypt=true;",
            "P@ssw0rd123",
            "PASSWORD",
        ),
        ('"client_secret": "AbCdEf123456GhIjKl7890"', "AbCdEf123456GhIjKl7890", "SECRET"),
        (
            "key gw_sk_abcdefghijkl_0123456789abcdefghij0123456789abcdefghij",
            "gw_sk_abcdefghijkl_0123456789abcdefghij0123456789abcdefghij",
            "GATEWAY_KEY",
        ),
        # national forms of phone numbers, near a phone word or valid where written so
        ("ring me on 020 7946 0958 after 5", "020 7946 0958", "PHONE"),
        ("Tel.: 030 12345678", "030 12345678", "PHONE"),
        ("from abroad: 0044 20 7946 0958", "0044 20 7946 0958", "PHONE"),
        ('"mobile": "0171 1234567"', "0171 1234567", "PHONE"),
        # national identifiers (checksums)
        ("NI number AB 12 34 56 C on file", "AB 12 34 56 C", "UK_NINO"),
        ("SIN: 130 692 544", "130 692 544", "CA_SIN"),
        # more countries' identifiers, after their own words, with their checksums
        ("ITIN: 912-70-1234", "912-70-1234", "US_ITIN"),
        ("NHS number 943 476 5919", "943 476 5919", "UK_NHS"),
        ('{"nhs_number": "9434765919"}', "9434765919", "UK_NHS"),
        ("TFN 123 456 782", "123 456 782", "AU_TFN"),
        ("Steuer-ID 36 574 261 809", "36 574 261 809", "DE_TAX_ID"),
        ("numéro de sécurité sociale 2 95 10 99 126 111 93", "2 95 10 99 126 111 93", "FR_NIR"),
        ("BSN: 111222333", "111222333", "NL_BSN"),
        ("PESEL 44051401359", "44051401359", "PL_PESEL"),
        ("personnummer 880320-0016", "880320-0016", "SE_PERSONNUMMER"),
        ("CPR-nummer: 211062-5629", "211062-5629", "DK_CPR"),
        ("fødselsnummer 15108695088", "15108695088", "NO_FODSELSNUMMER"),
        ("henkilötunnus 131052-308T", "131052-308T", "FI_HETU"),
        ("주민등록번호 971013-9019902", "971013-9019902", "KR_RRN"),
        ("CURP BOXW310820HNERXN09", "BOXW310820HNERXN09", "MX_CURP"),
        ("TC Kimlik No: 17291716060", "17291716060", "TR_TCKN"),
        ("PPS number 6433435F", "6433435F", "IE_PPS"),
        ("routing number 021000021", "021000021", "US_ROUTING"),
        ("My US passport number is 912803456", "912803456", "PASSPORT"),
        ("driver license: D1234567 (CA)", "D1234567", "DRIVER_LICENSE"),
        # dates of birth, bank accounts and wallets
        ("DOB: 1985-03-14, born in Lagos", "1985-03-14", "DATE_OF_BIRTH"),
        ('{"birth_date": "1990-07-04", "created": "2024-01-01"}', "1990-07-04", "DATE_OF_BIRTH"),
        ("She was born on 14 March 1985 in Leeds.", "14 March 1985", "DATE_OF_BIRTH"),
        ("Geburtsdatum: 03.04.1972", "03.04.1972", "DATE_OF_BIRTH"),
        ("Account number: 12345678, sort code 20-00-00", "12345678", "BANK_ACCOUNT"),
        ("Account number: 12345678, sort code 20-00-00", "20-00-00", "BANK_ACCOUNT"),
        (
            "send BTC to 1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
            "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
            "CRYPTO_WALLET",
        ),
        (
            "or bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "CRYPTO_WALLET",
        ),
        (
            "multisig 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "CRYPTO_WALLET",
        ),
        (
            "ETH: 0x742d35Cc6634C0532925a3b844Bc454e4438f44e",
            "0x742d35Cc6634C0532925a3b844Bc454e4438f44e",
            "CRYPTO_WALLET",
        ),
        # a US SSN without separators after its word in prose
        ("SSN 078051120", "078051120", "US_SSN"),
        ("my social security number is 219099999", "219099999", "US_SSN"),
        ("PAN ABCPE1234F, Aadhaar 2345 6789 0124", "ABCPE1234F", "IN_PAN"),
        ("DNI 12345678Z", "12345678Z", "ES_NIF"),
        ("NIE X1234567L", "X1234567L", "ES_NIF"),
        ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S", "IT_FISCAL_CODE"),
        ("CPF 529.982.247-25", "529.982.247-25", "BR_CPF"),
        # an SSN with no separators where a label or a column says so
        ("ssn: 123456789", "123456789", "US_SSN"),
        ("name,ssn\nJo Smith,123456789\n", "123456789", "US_SSN"),
        # person names: gazetteers, cues, labels
        ("I talked to Maria Gonzalez yesterday", "Maria Gonzalez", "PERSON"),
        ("Author: Lashonda Quattlebaum <l@q.io>", "Lashonda Quattlebaum", "PERSON"),
        ("Dear Mr. Kowalski,", "Kowalski", "PERSON"),
        ('{"first_name": "Grace", "last_name": "Hopper"}', "Grace", "PERSON"),
        ("Anna van der Berg signed", "Anna van der Berg", "PERSON"),
        ("Met Maria Gonzalez today; later Maria said yes", "Maria", "PERSON"),
        # street addresses and places
        ("ship to 221B Baker Street, London NW1 6XE", "221B Baker Street", "ADDRESS"),
        ("ship to 221B Baker Street, London NW1 6XE", "London NW1 6XE", "LOCATION"),
        ("Hauptstraße 5, 10115 Berlin", "Hauptstraße 5", "ADDRESS"),
        ("Hauptstraße 5, 10115 Berlin", "10115 Berlin", "LOCATION"),
        ("12, rue de la Paix, 75002 Paris", "12, rue de la Paix", "ADDRESS"),
        ("Calle de Alcalá 23, 28014 Madrid", "Calle de Alcalá 23", "ADDRESS"),
        ("1600 Pennsylvania Ave NW, Washington, DC 20500", "1600 Pennsylvania Ave NW", "ADDRESS"),
        ("office: Springfield, IL 62704", "Springfield, IL 62704", "LOCATION"),
        # secrets by name in more shapes, credential files, headers
        ("PGPASSWORD=Sup3rS3cret! psql -h db", "Sup3rS3cret!", "PASSWORD"),
        ("mysql -u root -pW3lc0me!99 shop", "W3lc0me!99", "PASSWORD"),
        ("curl -u admin:Tr0ub4dor3x https://ci", "Tr0ub4dor3x", "PASSWORD"),
        ("<password>uBDzcz4mK6^21</password>", "uBDzcz4mK6^21", "PASSWORD"),
        ("machine api.heroku.com login ops password Xk3fG8wq2LmN", "Xk3fG8wq2LmN", "PASSWORD"),
        ("db.internal:5432:orders:app:Sup3rS3cret!\n", "Sup3rS3cret!", "PASSWORD"),
        ("redis://:Zx81kPq2Lm@cache:6379/0", "Zx81kPq2Lm", "PASSWORD"),
        ("postgres://app:Pxz78DyE@56@localhost/app", "Pxz78DyE@56", "PASSWORD"),
        ("Server=db;Database=crm;User Id=sa;Password=NO2RbNgt@21;", "NO2RbNgt@21", "PASSWORD"),
        (
            '"private_key_id": "c18a6fb91bebe7657bf7096c0b9ac04a110342a1"',
            "c18a6fb91bebe7657bf7096c0b9ac04a110342a1",
            "SECRET",
        ),
        (
            "Cookie: sessionid=8f14e45fceea167a5a36dedd4bea2543; theme=dark",
            "8f14e45fceea167a5a36dedd4bea2543",
            "SECRET",
        ),
        (
            "X-CSRFToken: suJQUxmGbtGTrTPmqjN7yQaK8oEoeK4s",
            "suJQUxmGbtGTrTPmqjN7yQaK8oEoeK4s",
            "SECRET",
        ),
        (
            '{"auths": {"ghcr.io": {"auth": "ZGVwbG95OnMzY3IzdFBhc3M="}}}',
            "ZGVwbG95OnMzY3IzdFBhc3M=",
            "SECRET",
        ),
        ("GET /cb?code=Qx8vL2mN4pR6tY0wZ3aB&state=1 HTTP/1.1", "Qx8vL2mN4pR6tY0wZ3aB", "SECRET"),
        (
            "invalid key bs-WOHglvdMtpi4d6NvHYZgSYD8Z2EN here",
            "bs-WOHglvdMtpi4d6NvHYZgSYD8Z2EN",
            "SECRET",
        ),
        (
            "HF_TOKEN=hf_5dPF11PJljwSWaqqcD6pCPc5sh4m8g8Qw6",
            "hf_5dPF11PJljwSWaqqcD6pCPc5sh4m8g8Qw6",
            "HUGGINGFACE_TOKEN",
        ),
        (
            "vault token hvs.CAESIJ2x8Lq0fWnKp3Rt5Yu7Io9",
            "hvs.CAESIJ2x8Lq0fWnKp3Rt5Yu7Io9",
            "VAULT_TOKEN",
        ),
    ],
)
def test_it_detects_each_shape(text, value, type_):
    assert (value, type_) in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        "request 3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b at 2024-01-15T10:23:45.123Z",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 image@sha256:" + "ab" * 32,
        "version 2.31.0, color #ff00aa, localhost:8080, 127.0.0.1:5432, ticket JIRA-1234",
        "max_tokens = 4096\npassword: str\ntoken = os.environ['X']\napi_key = settings.API_KEY",
        "password = get_password()\nsecret_name = 'prod/db'\npassword_hash = make_hash(raw)",
        "see https://docs.python.org/3/library/re.html and git@github.com:org/repo.git",
        "icon@2x.png and @decorator and user@localhost, epoch 1716239022123",
        "token: ${{ secrets.GITHUB_TOKEN }}\nDB_PASSWORD=${DB_PASSWORD}\napi_key: <your-api-key>",
        # capitalised phrases of code, logs and UIs are not names, numbers are not addresses
        "public class Main { public static void main(String[] args) {} }",
        "raise HTTPException(status_code=500, detail='Internal Server Error')",
        "Max Retries Exceeded; Grace Period over; Pull Request merged; Release Notes",
        # after a preposition: a name that is an English word too, then common words
        "switch to Grace Period, reported by Max Retries Exceeded, go to Mark As Read",
        "Click through to Chase Payment; set it with Frank Discussion in mind",
        "404 Not Found, 3 Way Merge, Step 4 Drive, Version 2, 12345 Users",
        'class UserService(BaseService):\n    """Handles Account Settings."""',
        "ssh://deploy@git.acme.io/repo.git and git clone https://octo@github.com/o/r",
        "cache_key = 'c0d1ec7e6994664727b1dd2e05c07527798edb0dfece14a763bacf24b6519359'",
        "ssh -p 2222 host; docker run -p 8080:80 nginx; ls -a /tmp",
        "NEXT_PUBLIC_PUSHER_KEY=4f1a9c0e8b7d6a5f4e3d2c1b0a9f8e7d",
        "integrity sha512-" + "Ab3+" * 21 + "==",
        # dates that are not births, accounts that are not numbers, hashes that are not wallets
        "release date: 2024-03-14; build born-on 2024-01-01T10:00; for account 88213: refused",
        'contract = "0x742d35cc6634c0532925a3b844bc454e4438f44e"; 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb',
        # identifier-shaped numbers with no word of theirs near: order, invoice and build ids
        "order 912-70-1234 shipped; invoice 44051401359; build 021000021; id 9434765919",
        # one digit repeated, Luhn-valid by accident: filler, not a card
        "placeholder 4444444444444448 and 4444 4444 4444 4448",
    ],
)
def test_code_survives(text):
    assert _found(text) == []


@pytest.mark.parametrize(
    "text, name",
    [
        ("Follow-up call booked with Douglass Cruel for Friday", "Douglass Cruel"),
        ("Follow-up call booked with James Keithly for Friday", "James Keithly"),
        ("got a reply from Grace Kowalski today", "Grace Kowalski"),
        ("forwarded to Maria, who agreed", "Maria"),
        # a given name alone, then a verb people do
        ("Met them at the conference. Roberta runs platform at a logistics firm.", "Roberta"),
        ("Thanks for the update. Priya said the export is late.", "Priya"),
        # surnames that end like English word forms
        ("New hire checklist for Madeleine Donnely (start 04/07/2008)", "Madeleine Donnely"),
        # a quoted value under a name key, with a word that is English too
        ('curl -d name="Marci Temple" -d phone=1', "Marci Temple"),
        ("  locals: customer='Per Svensson' order=#53502", "Per Svensson"),
        ('{"author": "Harsh Rai"}', "Harsh Rai"),
    ],
)
def test_names_after_a_preposition_are_found(text, name):
    assert (name, "PERSON") in _found(text)


@pytest.mark.parametrize(
    "text, address",
    [
        ("Ships to Calle Jalisco 404 887, 73794 Nueva Nigeria.", "Calle Jalisco 404 887"),
        ("living at 856 Manawapomanawa Line.", "856 Manawapomanawa Line"),
        ("send it to Peatonal Sonora 636 Interior 761", "Peatonal Sonora 636 Interior 761"),
    ],
)
def test_street_types_of_more_countries(text, address):
    assert (address, "ADDRESS") in _found(text)


def test_rules_not_chosen_are_not_applied():
    text = "mail a.b@acme.io with ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    only_secrets = ScanConfig(rule_ids=frozenset({"github"}))
    assert _found(text, only_secrets) == [
        ("ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5", "GITHUB_TOKEN")
    ]


def test_names_and_addresses_are_left_when_their_rules_are_off():
    text = "Ship to Maria Gonzalez, 1234 Main Street, Springfield, IL 62704"
    assert {t for _v, t in _found(text)} == {"PERSON", "ADDRESS", "LOCATION"}
    no_places = ScanConfig(rule_ids=ALL.rule_ids - {"street_address", "location"})
    assert _found(text, no_places) == [("Maria Gonzalez", "PERSON")]


def test_custom_patterns_are_applied_with_their_name():
    config = ScanConfig(rule_ids=frozenset(), custom=(("employee_id", r"EMP-\d{6}"),))
    assert _found("ask EMP-123456 please", config) == [("EMP-123456", "CUSTOM_EMPLOYEE_ID")]


def test_placeholders_are_deterministic_per_workspace_and_differ_across_workspaces(settings):
    one, other = workspace_key(1), workspace_key(2)
    first = make_placeholder(one, "EMAIL", "a@b.io")
    assert first == make_placeholder(one, "EMAIL", "a@b.io")
    assert first != make_placeholder(other, "EMAIL", "a@b.io")
    assert PLACEHOLDER_RE.fullmatch(first)


def test_the_cache_holds_spans_never_values():
    cache = ScanCache(10)
    value = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    text = f"token {value}"
    spans = scanner().scan_text(text, ALL)
    cache.put(block_key(ALL.fingerprint, text), spans)
    dumped = repr(cache._data)
    assert value not in dumped and "token" not in dumped
    assert cache.get(block_key(ALL.fingerprint, text)) == spans


def test_a_resent_block_is_served_from_the_cache():
    text = f"mail {Gen(3).email()} about {Gen(4).uuid()}"
    cache = scan_cache()
    scanner().scan_blocks([text], ALL)
    hits = cache.hits
    assert scanner().scan_blocks([text], ALL) == scanner().scan_blocks([text], ALL)
    assert cache.hits == hits + 2


def test_a_letter_with_a_longer_lower_case_moves_no_detection():
    """ "İ" lower-cases to two characters: the keyword pass still points into the text itself
    (cue words, label words, anchor words and trigger literals after it are all found)."""
    token, email = Gen(25).github_token(), Gen(26).email()
    text = (
        f"İstanbul office. token {token}\ndb_password = 'Xq7#mPz9!kR2'\n"
        f"first_name: Maria\nmail {email}\nKind regards, Jeffrey"
    )
    found = _found(text)
    assert (token, "GITHUB_TOKEN") in found
    assert ("Xq7#mPz9!kR2", "PASSWORD") in found
    assert ("Maria", "PERSON") in found
    assert (email, "EMAIL") in found
    assert ("Jeffrey", "PERSON") in found


def test_a_resent_block_keeps_each_workspaces_own_placeholders():
    """The cache keeps a block's placeholders per workspace: a resend under the same workspace
    gets the same bytes and the whole mapping, another workspace its own tags."""
    email, token = Gen(21).email(), Gen(22).github_token()
    text = f"write to {email}, token {token}, and again {email}"
    sent = []
    for workspace in (31, 32, 31):
        body = {"messages": [{"role": "user", "content": text}]}
        redaction = Redaction(workspace_key(workspace))
        redact_body(
            body,
            dialect="openai",
            endpoint="ChatCompletions",
            scan_system=True,
            config=ALL,
            redaction=redaction,
        )
        key = workspace_key(workspace)
        mail, tag = (
            make_placeholder(key, "EMAIL", email),
            make_placeholder(key, "GITHUB_TOKEN", token),
        )
        assert body["messages"][0]["content"] == f"write to {mail}, token {tag}, and again {mail}"
        assert redaction.mapping == {mail: email, tag: token}
        assert redaction.counts == {"EMAIL": 2, "GITHUB_TOKEN": 1}
        sent.append(body["messages"][0]["content"])
    assert sent[0] == sent[2] != sent[1]
    assert repr(scan_cache()._data).count("[REDACTED:EMAIL_") >= 2  # both workspaces' tags
    assert email not in repr(scan_cache()._data) and token not in repr(scan_cache()._data)


def test_redact_body_rewrites_every_text_the_provider_reads():
    gen = Gen(11)
    email, token, card = gen.email(), gen.github_token(), gen.credit_card()
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": f"ops {email}"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"card {card}"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "1",
                        "type": "function",
                        "function": {"name": "f", "arguments": json.dumps({"t": token, "n": 1})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "1", "content": f"done {email}"},
        ],
    }
    redaction = Redaction(workspace_key(9))
    assert redact_body(
        body,
        dialect="openai",
        endpoint="ChatCompletions",
        scan_system=True,
        config=ALL,
        redaction=redaction,
    )
    dumped = json.dumps(body)
    assert email not in dumped and token not in dumped and card not in dumped
    assert body["messages"][1]["content"][1]["image_url"]["url"] == "data:image/png;base64,AAAA"
    assert json.loads(body["messages"][2]["tool_calls"][0]["function"]["arguments"])["n"] == 1
    assert redaction.counts == {"EMAIL": 2, "CREDIT_CARD": 1, "GITHUB_TOKEN": 1}
    assert set(redaction.mapping.values()) == {email, token, card}


def test_system_prompts_are_left_alone_when_the_policy_says_so():
    email = Gen(12).email()
    body = {
        "system": [{"type": "text", "text": email}],
        "messages": [{"role": "user", "content": email}],
    }
    redact_body(
        body,
        dialect="anthropic",
        endpoint="Messages",
        scan_system=False,
        config=ALL,
        redaction=Redaction(workspace_key(1)),
    )
    assert body["system"][0]["text"] == email and email not in body["messages"][0]["content"]


def test_gemini_parts_and_function_calls_are_scanned_but_inline_data_is_not():
    email = Gen(13).email()
    body = {
        "systemInstruction": {"parts": [{"text": email}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": email},
                    {"inlineData": {"mimeType": "image/png", "data": email}},
                ],
            },
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"to": email}}}]},
        ],
    }
    redact_body(
        body,
        dialect="gemini",
        endpoint="GenerateContent",
        scan_system=True,
        config=ALL,
        redaction=Redaction(workspace_key(1)),
    )
    assert email not in body["systemInstruction"]["parts"][0]["text"]
    assert email not in body["contents"][0]["parts"][0]["text"]
    assert body["contents"][0]["parts"][1]["inlineData"]["data"] == email
    assert email not in body["contents"][1]["parts"][0]["functionCall"]["args"]["to"]


def test_responses_input_items_are_scanned():
    email = Gen(14).email()
    body = {
        "instructions": email,
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": email}]},
            {
                "type": "function_call",
                "call_id": "c",
                "name": "f",
                "arguments": json.dumps({"a": email}),
            },
            {"type": "function_call_output", "call_id": "c", "output": email},
        ],
    }
    redact_body(
        body,
        dialect="openai",
        endpoint="Responses",
        scan_system=True,
        config=ALL,
        redaction=Redaction(workspace_key(1)),
    )
    assert email not in json.dumps(body)


def test_a_scan_past_its_deadline_stops_with_scan_timeout():
    import time

    from policies.redaction.engine import ScanTimeout

    fresh = f"mail {Gen(99).email()} {Gen(98).uuid()}"
    with pytest.raises(ScanTimeout):
        scanner().scan_blocks([fresh], ALL, deadline=time.monotonic() - 1)


@pytest.mark.parametrize(
    ("dialect", "endpoint", "body"),
    [
        ("openai", "Embeddings", {"input": ["a", "EMAIL"]}),
        ("openai", "Embeddings", {"input": "EMAIL"}),
        ("anthropic", "CountTokens", {"messages": [{"role": "user", "content": "EMAIL"}]}),
        (
            "gemini",
            "CountTokens",
            {"generateContentRequest": {"contents": [{"parts": [{"text": "EMAIL"}]}]}},
        ),
        (
            "anthropic",
            "Messages",
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "text", "text": "EMAIL"}],
                            },
                            {
                                "type": "document",
                                "source": {
                                    "type": "text",
                                    "media_type": "text/plain",
                                    "data": "EMAIL",
                                },
                            },
                        ],
                    }
                ]
            },
        ),
        (
            "bedrock",
            "CountTokens",
            {
                "input": {
                    "invokeModel": {"body": {"messages": [{"role": "user", "content": "EMAIL"}]}},
                    "converse": {"messages": [{"role": "user", "content": [{"text": "EMAIL"}]}]},
                }
            },
        ),
        (
            "bedrock",
            "Converse",
            {
                "system": [{"text": "EMAIL"}],
                "messages": [
                    {"role": "user", "content": [{"text": "EMAIL"}]},
                    {
                        "role": "assistant",
                        "content": [
                            {"toolUse": {"toolUseId": "t", "name": "f", "input": {"q": "EMAIL"}}}
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {
                                "toolResult": {
                                    "toolUseId": "t",
                                    "content": [{"text": "EMAIL"}, {"json": {"a": ["EMAIL"]}}],
                                }
                            }
                        ],
                    },
                ],
            },
        ),
    ],
)
def test_every_endpoint_that_sends_text_upstream_is_scanned(dialect, endpoint, body):
    email = Gen(15).email()
    body = json.loads(json.dumps(body).replace("EMAIL", email))
    redact_body(
        body,
        dialect=dialect,
        endpoint=endpoint,
        scan_system=True,
        config=ALL,
        redaction=Redaction(workspace_key(1)),
    )
    assert email not in json.dumps(body)


def test_thinking_blocks_and_model_lists_are_left_alone():
    email = Gen(16).email()
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": email, "signature": "s"}],
            }
        ]
    }
    assert not redact_body(
        body,
        dialect="anthropic",
        endpoint="Messages",
        scan_system=True,
        config=ALL,
        redaction=Redaction(workspace_key(1)),
    )
    assert not redact_body(
        {"x": email},
        dialect="openai",
        endpoint="Models",
        scan_system=True,
        config=ALL,
        redaction=Redaction(workspace_key(1)),
    )
