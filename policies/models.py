"""The policy models, one package per kind (policies/spend/, policies/redaction/); imported here
so Django finds them in the `policies` app."""

from policies.modelaccess.models import ModelAccessPolicy, ModelAccessRule  # noqa: F401
from policies.ratelimit.models import (  # noqa: F401
    RateLimit,
    RateLimitCounter,
    RateLimitEntry,
    RateLimitPolicy,
)
from policies.redaction.models import RedactionPolicy  # noqa: F401
from policies.spend.models import (  # noqa: F401
    SpendCounter,
    SpendPolicy,
    SpendPolicyMember,
    SpendReservation,
    SpendTotal,
    SpendWindow,
)
