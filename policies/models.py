from django.db import models

# Create your models here.

from policies.models_spend import SpendCounter, SpendPolicy, SpendPolicyMember, SpendReservation, SpendTotal, SpendWindow  # noqa: E402,F401
