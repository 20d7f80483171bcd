"""The permission catalogue and the six built-in roles.

Plain data with no Django imports, so the proxy's hot path and the admin share one definition.
"""

from __future__ import annotations

ORG_PERMISSIONS: tuple[str, ...] = (
    "organization:manage",
    "organization:read",
    "organization:pats:create",
)

WORKSPACE_PERMISSIONS: tuple[str, ...] = (
    "workspaces:read",
    "workspaces:manage",
    "workspaces:manage-members",
    "projects:read",
    "runs:read",
    "gateway:invoke",
)

# What a call through the gateway needs in the key's workspace.
INVOKE_PERMISSIONS: tuple[str, ...] = ("gateway:invoke", "workspaces:read")

ORGANIZATION_ADMIN = "ORGANIZATION_ADMIN"
ORGANIZATION_USER = "ORGANIZATION_USER"
ORGANIZATION_VIEWER = "ORGANIZATION_VIEWER"
WORKSPACE_ADMIN = "WORKSPACE_ADMIN"
WORKSPACE_USER = "WORKSPACE_USER"
WORKSPACE_VIEWER = "WORKSPACE_VIEWER"

# name -> (scope, permissions). ORGANIZATION_ADMIN also has full rights in every workspace of
# its organization; that is applied by orgs.permissions, not by listing workspace permissions here.
BUILTIN_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    ORGANIZATION_ADMIN: ("organization", frozenset(ORG_PERMISSIONS)),
    ORGANIZATION_USER: (
        "organization",
        frozenset({"organization:read", "organization:pats:create"}),
    ),
    ORGANIZATION_VIEWER: ("organization", frozenset({"organization:read"})),
    WORKSPACE_ADMIN: ("workspace", frozenset(WORKSPACE_PERMISSIONS)),
    WORKSPACE_USER: ("workspace", frozenset({"workspaces:read", "projects:read", "runs:read"})),
    WORKSPACE_VIEWER: ("workspace", frozenset({"workspaces:read", "projects:read", "runs:read"})),
}
