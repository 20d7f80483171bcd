"""Tuning half: chat prose, support chats, emails, HR and onboarding notes."""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "t_support_chat",
        "prose",
        (
            """Customer: Hi, this is ⟦+person⟧. I moved and need to update my billing address to ⟦+street_address⟧, ⟦+place⟧.
Agent: Thanks ⟦+first_name⟧! Could you confirm the phone number on the account?
Customer: Sure, it's ⟦+phone_national⟧. My old one was ⟦+phone⟧.
Agent: Got it, ticket ⟦-ticket_id⟧ is updated (ref ⟦-uuid⟧).""",
            """[⟦-timestamp⟧] ⟦+person⟧ joined the chat
[⟦-timestamp⟧] ⟦+first_name⟧: my card ⟦+credit_card⟧ was charged twice for order ⟦-order_number⟧
[⟦-timestamp⟧] Agent: Sorry about that! I've refunded ⟦-amount⟧ to the card ending in 4242.
[⟦-timestamp⟧] ⟦+first_name⟧: great, you can also reach me on ⟦+phone_uk_de⟧ or ⟦+email⟧""",
            """Hello, I'm writing on behalf of my mother, ⟦+person⟧, who lives at ⟦+street_address⟧ in ⟦+place⟧. Her
SSN is ⟦+us_ssn⟧ and the policy number is ⟦-order_number⟧. Please call me back on ⟦+phone_national⟧. Thanks, ⟦+person⟧""",
            """Agent note: caller ⟦+person⟧ verified with DOB and last four. Ships to ⟦+street_address⟧, ⟦+place⟧.
Alternate contact: ⟦+person⟧ (spouse), mobile ⟦+phone⟧. Escalated to ⟦-ticket_id⟧ at ⟦-timestamp⟧.""",
        ),
    ),
    Family(
        "t_agent_explains",
        "prose",
        (
            """I found the problem: `settings.py` hard-codes the database URL with the password (`postgres://app:⟦+url_password⟧@db.internal:5432/app`).
I moved it to an environment variable and rotated the Stripe key ⟦+stripe_key⟧ that was committed in ⟦-git_sha⟧.
The failing test `test_invoice_total` compares ⟦-amount⟧ with the rounded value; see ⟦-url⟧.""",
            """The request fails because the header is `Authorization: Bearer ⟦+bearer_token⟧`, which the upstream rejects.
Your session cookie (`sessionid=⟦+session_id⟧`) also expired at ⟦-timestamp⟧. Version ⟦-version⟧ of the SDK retries
⟦-numeric_id⟧ times; the build ⟦-container_id⟧ ran on ⟦-hostname⟧.""",
            """Here's what I changed:
1. Replaced the hard-coded `API_SECRET = "⟦+generic_secret⟧"` with `os.environ["API_SECRET"]`.
2. The webhook signing secret ⟦+hex_secret⟧ is now read from Vault (token ⟦+vault_token⟧ in CI only).
3. Bumped the lockfile: integrity ⟦-integrity⟧ for ⟦-version⟧.
4. `UserService` now validates `Main` inputs (the class ⟦-class_name⟧ was renamed).""",
            """The test fixture uses a real-looking customer: ⟦+person⟧, ⟦+email⟧, born in 1984, living at ⟦+street_address⟧.
I replaced it with a factory. The error `⟦-title_phrase⟧` came from the ⟦-class_name⟧ mock returning ⟦-numeric_id⟧.""",
        ),
    ),
    Family(
        "t_email_signature",
        "prose",
        (
            """Hi team,

please find the updated contract attached. Let me know if anything is unclear.

Best regards,
⟦+person⟧
Senior Account Manager | Acme GmbH
⟦+street_address⟧, ⟦+place⟧
Tel: ⟦+phone_uk_de⟧ | Mobile: ⟦+phone⟧
⟦+email⟧""",
            """Dear ⟦+person⟧,

thank you for your order ⟦-order_number⟧. It will be shipped to:

⟦+person⟧
⟦+street_address⟧
⟦+place⟧

If you have questions, call ⟦+phone_national⟧.
Kind regards, ⟦+first_name⟧ from Customer Care""",
            """From: ⟦+person⟧ <⟦+email⟧>
To: billing@acme.io
Subject: Wrong IBAN on invoice ⟦-order_number⟧

Hello, please use ⟦+iban⟧ for the refund instead. My phone is ⟦+phone⟧.
— ⟦+first_name⟧""",
        ),
    ),
    Family(
        "t_hr_onboarding",
        "prose",
        (
            """New hire checklist for ⟦+person⟧ (start ⟦-date⟧):
- SSN: ⟦+us_ssn⟧
- Home address: ⟦+street_address⟧, ⟦+place⟧
- Emergency contact: ⟦+person⟧, ⟦+phone_national⟧
- Payroll IBAN: ⟦+iban⟧""",
            """Employee record (UK office): name ⟦+person⟧, National Insurance number ⟦+uk_nino⟧, phone ⟦+phone_uk_de⟧.
Employee record (Canada): ⟦+person⟧, SIN ⟦+ca_sin⟧, started ⟦-date⟧.
Contractor (India): ⟦+person⟧, PAN ⟦+in_pan⟧, Aadhaar ⟦+in_aadhaar⟧.""",
            """Spain office: ⟦+person⟧ — DNI ⟦+es_dni⟧; ⟦+person⟧ — NIE ⟦+es_nie⟧.
Italy office: ⟦+person⟧ — codice fiscale ⟦+it_fiscal_code⟧.
Brazil office: ⟦+person⟧ — CPF ⟦+br_cpf⟧, tel. ⟦+phone⟧.
Build ⟦-version⟧ of the HR export ran at ⟦-timestamp⟧ (job ⟦-uuid⟧).""",
        ),
    ),
    Family(
        "t_chat_secrets_pasted",
        "prose",
        (
            """can you check why this fails? my token is ⟦+github_token⟧ and the repo is acme/api. the password for the
staging db is ⟦+password⟧ (user admin). commit ⟦-git_sha⟧ broke it I think""",
            """here is my .npmrc, npm publish keeps failing:
//registry.npmjs.org/:_authToken=⟦+npm_token⟧
and the pypi one is ⟦+pypi_token⟧ — both worked yesterday at ⟦-timestamp⟧""",
            """quick q: our openai key ⟦+openai_key⟧ gets 429s but the anthropic one ⟦+anthropic_key⟧ works. I also tried
the HF token ⟦+huggingface_token⟧. Request id ⟦-trace_id⟧, model version ⟦-version⟧.""",
        ),
    ),
    Family(
        "t_intl_ids",
        "prose",
        (
            """Payroll set-up (US contractor): ⟦+person⟧, ITIN ⟦+us_itin⟧, routing number ⟦+us_routing⟧.
Passport number: ⟦+passport_number⟧ (expires ⟦-date⟧). Driver's license: ⟦+driver_license⟧.
My SSN is ⟦+us_ssn_plain⟧, ticket ⟦-order_number⟧.""",
            """Patient ⟦+person⟧, NHS number ⟦+uk_nhs⟧, referred on ⟦-date⟧.
Australian staff: ⟦+person⟧, TFN ⟦+au_tfn⟧. German staff: ⟦+person⟧, Steuer-ID ⟦+de_tax_id⟧.
French staff: ⟦+person⟧, numéro de sécurité sociale ⟦+fr_nir⟧. Dutch staff: BSN ⟦+nl_bsn⟧.""",
            """Nordics: PESEL (Poland) ⟦+pl_pesel⟧; Swedish personnummer ⟦+se_personnummer⟧; CPR-nummer ⟦+dk_cpr⟧;
fødselsnummer ⟦+no_fodselsnummer⟧; henkilötunnus ⟦+fi_hetu⟧.
Others: Korean RRN ⟦+kr_rrn⟧, CURP ⟦+mx_curp⟧, TC Kimlik No ⟦+tr_tckn⟧, PPS number ⟦+ie_pps⟧.
Build ⟦-version⟧ ran ⟦-timestamp⟧ (job ⟦-uuid⟧), order ⟦-numeric_id⟧.""",
        ),
    ),
    Family(
        "t_personal_finance",
        "prose",
        (
            """Customer ⟦+person⟧, DOB: ⟦+date_of_birth⟧, account number ⟦+bank_account⟧ (opened ⟦-date⟧).
Refund of ⟦-numeric_id⟧ EUR requested; ticket ⟦-order_number⟧.""",
            """Hey, can you send the payout to my wallet ⟦+crypto_wallet⟧? My date of birth is ⟦+date_of_birth⟧
if you need it for KYC. Acct no. ⟦+bank_account⟧ is closed. Build ⟦-version⟧, commit ⟦-git_sha⟧.""",
        ),
    ),
]
