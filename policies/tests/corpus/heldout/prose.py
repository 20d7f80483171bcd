"""Held-out half: prose (sales and CRM chat, incident write-ups, email threads, forms).

Never tuned on: the detectors are not changed to fit these texts.
"""

from __future__ import annotations

from policies.tests.corpus import Family

FAMILIES = [
    Family(
        "h_crm_chat",
        "prose",
        (
            """Rep: Who should I send the quote to?
Prospect: Address it to ⟦+person⟧, our head of procurement. Office is at ⟦+street_address⟧, ⟦+place⟧.
Rep: And a direct line?
Prospect: ⟦+phone_national⟧ — or her cell, ⟦+phone⟧. Quote ref ⟦-order_number⟧ please.""",
            """Thanks for the call today! Summary: ⟦+person⟧ (CTO) and ⟦+person⟧ (VP Eng) want a pilot for ⟦-numeric_id⟧ seats.
⟦+first_name⟧ asked us to ship the hardware keys to ⟦+street_address⟧, ⟦+place⟧. Next sync ⟦-date⟧.""",
            """Note from ⟦+first_name⟧: the customer ⟦+person⟧ wants invoices by post to ⟦+street_address⟧ (⟦+place⟧), not email.
Their VAT contact is ⟦+person⟧ at ⟦+email⟧, ⟦+phone_uk_de⟧. Deal id ⟦-uuid⟧.""",
            """ok so I spoke with ⟦+person⟧ from the landlord's office, the new unit is ⟦+street_address⟧. she said to ring ⟦+phone_uk_de⟧ before 5pm""",
        ),
    ),
    Family(
        "h_incident_writeup",
        "prose",
        (
            """Incident ⟦-ticket_id⟧ — summary
At ⟦-timestamp⟧ an engineer pasted the production connection string `mongodb://admin:⟦+url_password⟧@⟦-hostname⟧:27017/admin` into
the #eng channel. The credential was rotated within ⟦-duration⟧. Commit ⟦-git_sha⟧ also contained the Twilio secret ⟦+twilio_key⟧.
On-call: ⟦+person⟧. Reviewer: ⟦+person⟧.""",
            """Postmortem: the Redis password (⟦+password⟧) was logged by `⟦-class_name⟧` at debug level together with the admin's
bearer token ⟦+bearer_token⟧. Affected hosts: ⟦+ip_address⟧, ⟦+ip_address⟧. Container ⟦-container_id⟧ was rebuilt from ⟦-image_ref⟧.""",
            """Timeline:
- ⟦-timestamp⟧ ⟦+person⟧ notices the leaked Shopify token ⟦+shopify_token⟧ in a public gist
- ⟦-timestamp⟧ ⟦+person⟧ revokes it and the DigitalOcean token ⟦+digitalocean_token⟧
- ⟦-timestamp⟧ new deploy ⟦-version⟧ (⟦-git_sha⟧) goes out""",
        ),
    ),
    Family(
        "h_email_thread",
        "prose",
        (
            """On ⟦-date⟧, ⟦+person⟧ <⟦+email⟧> wrote:
> Could you send me the signed NDA? My postal address is
> ⟦+street_address⟧
> ⟦+place⟧

Sure — posted today. Cheers, ⟦+first_name⟧

--
⟦+person⟧ · Partnerships
m: ⟦+phone⟧ · o: ⟦+phone_national⟧""",
            """-----Original Message-----
From: ⟦+person⟧
Sent: ⟦-date⟧
To: ⟦+person⟧
Subject: RE: payroll change

Please update my bank details to ⟦+iban⟧ and my address to ⟦+street_address⟧, ⟦+place⟧. Thank you!""",
            """Hi ⟦+first_name⟧,

Mr. ⟦+last_name⟧ called about the delivery to ⟦+street_address⟧. He asks that the courier phones ⟦+phone_uk_de⟧ first.

Thanks,
⟦+person⟧""",
        ),
    ),
    Family(
        "h_forms_ids",
        "prose",
        (
            """Applicant: ⟦+person⟧
Social Security No.: ⟦+us_ssn⟧
Current residence: ⟦+street_address⟧, ⟦+place⟧
Daytime phone: ⟦+phone_national⟧
Application id ⟦-uuid⟧ submitted ⟦-timestamp⟧""",
            """KYC check for ⟦+person⟧: passport ok, NI number ⟦+uk_nino⟧, card on file ⟦+credit_card⟧, payout ⟦+iban⟧.
KYC check for ⟦+person⟧: SIN ⟦+ca_sin⟧, phone ⟦+phone⟧. Reviewer note ref ⟦-order_number⟧.""",
            """Vendor onboarding — India: ⟦+person⟧, PAN ⟦+in_pan⟧, Aadhaar no. ⟦+in_aadhaar⟧.
Vendor onboarding — Spain: ⟦+person⟧, NIF ⟦+es_dni⟧ / NIE ⟦+es_nie⟧.
Vendor onboarding — Italy: ⟦+person⟧, C.F. ⟦+it_fiscal_code⟧. Brazil: ⟦+person⟧, CPF ⟦+br_cpf⟧.""",
        ),
    ),
    Family(
        "h_agent_chat",
        "prose",
        (
            """User: my deploy script has `export MAILGUN_API_KEY=⟦+mailgun_key⟧` and it still says unauthorized, why?
Assistant: The key looks fine; check the region endpoint ⟦-url⟧. Also don't commit keys — rotate it.""",
            """User: this is the vault login output: `token ⟦+vault_token⟧`, policies [default]. how do I renew it for ⟦-duration⟧?
Assistant: Run `vault token renew`. The accessor ⟦-md5⟧ is not secret.""",
            """User: here's the service account json, the private_key_id is ⟦+hex_key_id⟧ and client id ⟦-numeric_id⟧; gcloud auth fails with ⟦-title_phrase⟧
Assistant: The file's key was disabled. Create a new key for the account.""",
        ),
    ),
    Family(
        "h_intl_ids",
        "prose",
        (
            """Hi support, I'm filling in the W-7 again — my itin is ⟦+us_itin⟧ and the bank's ABA ⟦+us_routing⟧.
They also asked for my passport ⟦+passport_number⟧ and my driving licence number ⟦+driver_license⟧.
Oh and my social security number: ⟦+us_ssn_plain⟧. Thanks! (case ⟦-order_number⟧)""",
            """Referral letter: ⟦+person⟧ (NHS no. ⟦+uk_nhs⟧) seen in clinic.
Tax forms received — AU: tax file number ⟦+au_tfn⟧; DE: steuerliche Identifikationsnummer ⟦+de_tax_id⟧;
FR: n° INSEE ⟦+fr_nir⟧; NL: burgerservicenummer ⟦+nl_bsn⟧. Batch ⟦-uuid⟧.""",
            """KYC (EU/Asia) for ⟦+person⟧ — numer PESEL: ⟦+pl_pesel⟧, personnr ⟦+se_personnummer⟧, CPR ⟦+dk_cpr⟧,
norsk fødselsnummer ⟦+no_fodselsnummer⟧, HETU ⟦+fi_hetu⟧, resident registration no. ⟦+kr_rrn⟧,
CURP: ⟦+mx_curp⟧, T.C. kimlik numarası ⟦+tr_tckn⟧, PPSN ⟦+ie_pps⟧. Reviewed ⟦-timestamp⟧.""",
        ),
    ),
    Family(
        "h_personal_finance",
        "prose",
        (
            """Support chat — user: I was born on ⟦+date_of_birth⟧ and my bank account is ⟦+bank_account⟧,
why was the transfer ⟦-order_number⟧ rejected? Also my ETH deposit address: ⟦+crypto_wallet⟧.""",
            """{"applicant": "⟦+person⟧", "birth_date": "⟦+date_of_birth⟧", "account_number": "⟦+bank_account⟧",
 "wallet": "⟦+crypto_wallet⟧", "request_id": "⟦-uuid⟧", "submitted": "⟦-timestamp⟧"}""",
        ),
    ),
]
