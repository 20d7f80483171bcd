# Create your models here.

from policies.models_redaction import RedactionPolicy  # noqa: F401
from policies.models_spend import (  # noqa: F401
    SpendCounter,
    SpendPolicy,
    SpendPolicyMember,
    SpendReservation,
    SpendTotal,
    SpendWindow,
)
