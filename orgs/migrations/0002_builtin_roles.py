"""Create the six built-in roles. They are immutable afterwards (orgs.models.Role)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from orgs.permissions_catalogue import BUILTIN_ROLES


def create_builtin_roles(apps: Any, schema_editor: Any) -> None:
    Role = apps.get_model("orgs", "Role")
    for name, (scope, permissions) in BUILTIN_ROLES.items():
        Role.objects.update_or_create(
            name=name,
            builtin=True,
            defaults={"scope": scope, "permissions": sorted(permissions), "organization": None},
        )


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]
    operations = [migrations.RunPython(create_builtin_roles, migrations.RunPython.noop)]
