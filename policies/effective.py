"""What applies to a workspace, an API key or a user: the effective redaction policy and every
spend limit, with the spend of the current windows. Read by the admin's "effective policy"
page, the key page and `gateway_redaction --show` / `gateway_spend_limit --show`.

It answers with the rules the gateway itself applies, on the same data: the redaction
snapshot's `effective_policy` (the most specific enabled policy: key, then user, then
workspace, then organization) and the spend snapshot's `match` (every enabled limit the call
falls under, a member's own limit replacing the default per member), each built from the
database rows at the time of asking. The spend shown is the recorded usage of the window
(tracing.UsageRecord), the truth the live counters are rebuilt from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from orgs.models import ApiKey, OrganizationMember, Workspace
from orgs.permissions import visible_workspace_ids
from policies.redaction.models import RedactionPolicy
from policies.redaction.snapshot import effective_policy, snapshot_of
from policies.spend.models import SpendPolicy
from policies.spend.selectors import usage_cost
from policies.spend.snapshot import SpendSnapshot, rule_from_policy
from policies.spend.windows import window_start

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import Organization

NO_KEY = 0  # no key has id 0: "a call by no particular key" when matching spend limits


@dataclass(frozen=True)
class RedactionLine:
    """Calls described by `calls` are redacted by `policy` (None: not redacted)."""

    calls: str
    policy: RedactionPolicy | None

    @property
    def summary(self) -> str:
        policy = self.policy
        if policy is None:
            return "no redaction policy applies: prompts are sent as they are"
        parts = []
        if policy.pii_enabled and policy.pii_rules:
            parts.append(f"PII ({', '.join(policy.pii_rules)})")
        if policy.secrets_enabled and policy.secret_rules:
            parts.append(f"secrets ({', '.join(policy.secret_rules)})")
        if policy.custom_patterns:
            parts.append(f"{len(policy.custom_patterns)} custom pattern(s)")
        what = "; ".join(parts) or "nothing (this policy exempts them)"
        return f"{policy.name} ({policy.subject_label}): {what}"


@dataclass(frozen=True)
class SpendLine:
    """One spend limit that applies, for `member` ("" for the limit's total)."""

    policy: SpendPolicy
    member: str
    windows: list[dict[str, Any]]

    @property
    def applies_to(self) -> str:
        if not self.member:
            return self.policy.subject_label
        kind = self.member.partition(":")[0]
        return {"ws": "this workspace", "key": "this key", "user": "this user"}[kind] + (
            f" (default per member of {self.policy.workspace or self.policy.organization})"
        )


@dataclass
class Effective:
    subject: str
    organization: Organization
    redaction: list[RedactionLine] = field(default_factory=list)
    spend: list[SpendLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the CLI's JSON."""
        return {
            "subject": self.subject,
            "gateway_enabled": self.organization.llm_gateway_enabled,
            "redaction": [
                {
                    "calls": line.calls,
                    "policy": line.policy.name if line.policy else None,
                    "policy_scope": line.policy.subject_label if line.policy else None,
                    "summary": line.summary,
                }
                for line in self.redaction
            ],
            "spend_limits": [
                {
                    "policy": line.policy.name,
                    "applies_to": line.applies_to,
                    "windows": line.windows,
                }
                for line in self.spend
            ],
            "notes": self.notes,
        }


def _redaction_rows(organization: Organization) -> tuple[list[Any], dict[int, RedactionPolicy]]:
    rows = {
        p.pk: p
        for p in RedactionPolicy.objects.filter(
            organization=organization, enabled=True
        ).select_related("workspace__organization", "api_key", "user", "organization")
    }
    return [snapshot_of(p) for p in rows.values()], rows


def _redaction(
    organization: Organization, *, workspace_id: int, key_id: int | None, user_id: int | None
) -> RedactionPolicy | None:
    snapshots, rows = _redaction_rows(organization)
    found = effective_policy(snapshots, workspace_id=workspace_id, key_id=key_id, user_id=user_id)
    return None if found is None else rows[found.id]


def _window_rows(policy: SpendPolicy, member: str) -> list[dict[str, Any]]:
    rule = rule_from_policy(policy)
    now = timezone.now()
    rows = []
    for w in rule.windows:
        start = window_start(w.window, now)
        spent = usage_cost(rule, member, start, now)
        rows.append(
            {
                "window": w.window,
                "spent_usd": f"{spent:.6f}",
                "limit_usd": f"{w.limit_micros / 1e6:.6f}",
                "since": start.isoformat(),
            }
        )
    return rows


def _spend(
    organization: Organization,
    *,
    workspace_id: int,
    key_id: int,
    user_id: int | None,
    member_kinds: tuple[str, ...],
) -> list[SpendLine]:
    policies = {
        p.pk: p
        for p in SpendPolicy.objects.filter(organization=organization, enabled=True)
        .select_related("organization", "workspace__organization", "api_key", "user")
        .prefetch_related("windows")
    }
    snapshot = SpendSnapshot(r for r in map(rule_from_policy, policies.values()) if r.windows)
    matches = snapshot.match(
        organization_id=organization.pk,
        workspace_id=workspace_id,
        key_id=key_id,
        user_id=user_id,
    )
    lines = []
    for match in matches:
        if match.member and match.member.partition(":")[0] not in member_kinds:
            continue  # a default for members this subject is not (e.g. keys, for a workspace)
        policy = policies[match.rule.id]
        lines.append(SpendLine(policy, match.member, _window_rows(policy, match.member)))
    return lines


def _gateway_note(effective: Effective) -> None:
    if not effective.organization.llm_gateway_enabled:
        effective.notes.append(
            f"the LLM Gateway is not enabled for {effective.organization.slug}: every call is "
            "refused (403) before any policy applies"
        )


def effective_for_key(key: ApiKey) -> Effective:
    """What applies to every call made with `key`."""
    org = key.organization
    result = Effective(subject=f"key {key.display_prefix}", organization=org)
    _gateway_note(result)
    if key.workspace_id is None:
        result.notes.append("organization-scoped keys are refused by the gateway")
        return result
    result.redaction.append(
        RedactionLine(
            f"calls with {key.display_prefix}",
            _redaction(org, workspace_id=key.workspace_id, key_id=key.pk, user_id=key.user_id),
        )
    )
    result.spend = _spend(
        org,
        workspace_id=key.workspace_id,
        key_id=key.pk,
        user_id=key.user_id,
        member_kinds=("ws", "key", "user") if key.user_id else ("ws", "key"),
    )
    return result


def effective_for_workspace(workspace: Workspace) -> Effective:
    """What applies to calls in `workspace` by keys and users without a policy of their own."""
    org = workspace.organization
    result = Effective(subject=f"workspace {workspace}", organization=org)
    _gateway_note(result)
    result.redaction.append(
        RedactionLine(
            f"calls in {workspace} (keys and users with no policy of their own)",
            _redaction(org, workspace_id=workspace.pk, key_id=None, user_id=None),
        )
    )
    result.spend = _spend(
        org, workspace_id=workspace.pk, key_id=NO_KEY, user_id=None, member_kinds=("ws",)
    )
    narrower = RedactionPolicy.objects.filter(
        organization=org, enabled=True, scope__in=("api_key", "user")
    )
    if narrower.exists():
        result.notes.append(
            "some keys or users have a redaction policy of their own, which wins for their calls"
        )
    return result


def effective_for_user(
    user: AbstractBaseUser, organization: Organization, *, viewer: Any = None
) -> Effective:
    """What applies to `user`'s calls (personal tokens, service keys assigned to them), per
    workspace of `organization` where the user holds a role (that `viewer` may see)."""
    result = Effective(subject=f"user {user.get_username()}", organization=organization)
    _gateway_note(result)
    if not OrganizationMember.objects.filter(organization=organization, user=user).exists():
        result.notes.append(f"{user.get_username()} is not a member of {organization.slug}")
        return result
    ids = visible_workspace_ids(user, "workspaces:read")
    workspaces = Workspace.objects.filter(organization=organization).select_related("organization")
    if ids is not None:
        workspaces = workspaces.filter(pk__in=ids)
    if viewer is not None:
        seen = visible_workspace_ids(viewer, "workspaces:read")
        if seen is not None:
            workspaces = workspaces.filter(pk__in=seen)
    seen_policies: set[tuple[int, str]] = set()
    for ws in workspaces:
        result.redaction.append(
            RedactionLine(
                f"calls of {user.get_username()} in {ws}",
                _redaction(organization, workspace_id=ws.pk, key_id=None, user_id=user.pk),
            )
        )
        for line in _spend(
            organization,
            workspace_id=ws.pk,
            key_id=NO_KEY,
            user_id=user.pk,
            member_kinds=("ws", "user"),
        ):
            if (line.policy.pk, line.member) not in seen_policies:
                seen_policies.add((line.policy.pk, line.member))
                result.spend.append(line)
    return result


def effective_for_organization(organization: Organization) -> Effective:
    """The organization-wide limits, and the redaction of calls in each of its workspaces."""
    result = Effective(subject=f"organization {organization.slug}", organization=organization)
    _gateway_note(result)
    for ws in Workspace.objects.filter(organization=organization).select_related("organization"):
        result.redaction.append(
            RedactionLine(
                f"calls in {ws} (keys and users with no policy of their own)",
                _redaction(organization, workspace_id=ws.pk, key_id=None, user_id=None),
            )
        )
    policies = SpendPolicy.objects.filter(
        organization=organization, enabled=True, scope="organization"
    ).prefetch_related("windows")
    result.spend = [SpendLine(p, "", _window_rows(p, "")) for p in policies]
    return result
