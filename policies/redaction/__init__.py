"""PII and secrets redaction: detect, replace with placeholders, restore in responses.

Modules: `rules` (the catalogue admins choose from), `validators` (checksums, entropy),
`recognizers` (presidio recognizers), `engine` (the per-process scanner), `placeholders`
(deterministic tags), `walkers` (which texts of a request the provider reads), `restore`
(response filters), `cache` (per-block scan cache), `gate` (the proxy seam), `policy`
(effective policy snapshot), `services`/`selectors` (admin, CLI and API writes and reads).
"""
