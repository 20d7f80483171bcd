from __future__ import annotations

from django.contrib import admin

from pricing.models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """Global table: only users with the Django model permissions (the operator) may edit it."""

    list_display = (
        "model",
        "provider",
        "input_per_mtok",
        "output_per_mtok",
        "cache_read_per_mtok",
        "cache_write_per_mtok",
        "price_date",
    )
    list_filter = ("provider",)
    search_fields = ("model",)
    readonly_fields = ("updated_at",)
