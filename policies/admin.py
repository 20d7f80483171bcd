"""The admin pages of the policies (Settings → Gateway → LLM Gateway): one module per kind,
registered on import."""

from policies.modelaccess import admin as modelaccess_admin  # noqa: F401
from policies.ratelimit import admin as ratelimit_admin  # noqa: F401
from policies.redaction import admin as redaction_admin  # noqa: F401
from policies.spend import admin as spend_admin  # noqa: F401
