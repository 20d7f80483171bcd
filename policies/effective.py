"""What applies to a workspace, an API key, a user or an organization: the effective redaction
policy, every spend limit and rate limit (with the current windows' spend and use), and the
model-access policies that decide. Read by the admin's "effective policy" page, the key page
and the `--show` of `gateway_redaction`, `gateway_spend_limit`, `gateway_rate_limit` and
`gateway_model_access`.

It answers with the rules the gateway itself applies, on the same data: the redaction
snapshot's `effective_policy` (the most specific enabled policy: key, then user, then
workspace, then organization), the spend and rate-limit snapshots' `match` (every enabled limit
the call falls under, a member's own limit replacing the default per member) and the
model-access snapshot's `deciding` (the most specific tier with a policy), each built from the
database rows at the time of asking. Each limit says where it comes from: the subject's `own`
policy, an `override` (its own policy replacing a default per member), `inherited` from a
broader subject, or a `default per member`. The spend shown is the recorded usage of the
window (tracing.UsageRecord), the truth the live counters are rebuilt from; a rate limit's use
is read from the live counters (Redis, or the database in the embedded mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from hotpath.context import RequestContext
from orgs.models import ApiKey, OrganizationMember, Workspace
from orgs.permissions import visible_workspace_ids
from policies.modelaccess.models import ModelAccessPolicy
from policies.modelaccess.snapshot import ModelAccessSnapshot
from policies.modelaccess.snapshot import rule_from_policy as access_rule
from policies.ratelimit.models import RateLimitPolicy
from policies.ratelimit.selectors import current_usage, members_usage
from policies.ratelimit.snapshot import RateLimitSnapshot
from policies.ratelimit.snapshot import rule_from_policy as rate_rule
from policies.redaction.models import RedactionPolicy
from policies.redaction.snapshot import effective_policy, snapshot_of
from policies.spend.models import SpendPolicy
from policies.spend.selectors import usage_cost
from policies.spend.snapshot import SpendSnapshot
from policies.spend.snapshot import rule_from_policy as spend_rule
from policies.spend.windows import window_start
from policies.subjects import member_labels

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
class LimitLine:
    """One spend or rate limit that applies, for `member` ("" for the limit's total).

    `windows`: per window, the spend (spend limits) or per window and metric the use in the
    sliding window ending now (rate limits). `origin`: "own" (the subject's own policy),
    "override" (its own policy, replacing the defaults per member named in `replaces`),
    "inherited" (a broader subject's policy) or "default per member". `members`: for a
    default-per-member rate limit shown at the organization, its members' current use."""

    policy: Any  # SpendPolicy | RateLimitPolicy
    member: str
    windows: list[dict[str, Any]]
    origin: str = "inherited"
    replaces: tuple[str, ...] = ()
    members: list[dict[str, Any]] | None = None

    @property
    def applies_to(self) -> str:
        if not self.member:
            return self.policy.subject_label
        kind = self.member.partition(":")[0]
        return {"ws": "this workspace", "key": "this key", "user": "this user"}[kind] + (
            f" (default per member of {self.policy.workspace or self.policy.organization})"
        )

    @property
    def origin_label(self) -> str:
        if self.origin == "override":
            return f"own policy, overriding the default per member {', '.join(self.replaces)}"
        if self.origin == "inherited":
            return f"inherited from {self.policy.subject_label}"
        return {"own": "own policy"}.get(self.origin, self.origin)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "policy": self.policy.name,
            "applies_to": self.applies_to,
            "origin": self.origin,
            "windows": self.windows,
        }
        if self.replaces:
            out["replaces"] = list(self.replaces)
        if self.members is not None:
            out["members"] = self.members
        return out


SpendLine = LimitLine  # the spend limits' lines (the name the admin's templates knew)


@dataclass(frozen=True)
class ModelAccessLine:
    """Calls described by `calls` may use the models every policy in `policies` allows (the
    deciding tier's; empty: no model-access policy applies, every model is allowed).
    `origin` is "own" or "inherited" (a broader tier decides); `overridden` lists the
    policies of broader tiers this tier's policies replace for these calls."""

    calls: str
    policies: list[ModelAccessPolicy]
    origin: str = ""
    overridden: list[ModelAccessPolicy] = field(default_factory=list)

    @property
    def tier(self) -> str | None:
        return self.policies[0].subject_label if self.policies else None

    @staticmethod
    def allowed(policy: ModelAccessPolicy) -> dict[str, str]:
        """provider → its patterns ("*": every model); a provider absent is not allowed."""
        return {rule.provider: rule.models for rule in policy.rules.all()}

    @property
    def summary(self) -> str:
        if not self.policies:
            return "no model-access policy applies: every model of every provider"
        parts = []
        for policy in self.policies:
            allowed = "; ".join(f"{p} {m}" for p, m in self.allowed(policy).items()) or "nothing"
            parts.append(f"{policy.name} ({policy.subject_label}): {allowed}")
        return " AND ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "tier": self.tier,
            "origin": self.origin or None,
            "policies": [
                {"policy": p.name, "scope": p.subject_label, "models": self.allowed(p)}
                for p in self.policies
            ],
            "overridden": [p.name for p in self.overridden],
            "summary": self.summary,
        }


@dataclass
class Effective:
    subject: str
    organization: Organization
    redaction: list[RedactionLine] = field(default_factory=list)
    spend: list[LimitLine] = field(default_factory=list)
    rate_limits: list[LimitLine] = field(default_factory=list)
    model_access: list[ModelAccessLine] = field(default_factory=list)
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
            "spend_limits": [line.as_dict() for line in self.spend],
            "rate_limits": [line.as_dict() for line in self.rate_limits],
            "model_access": [line.as_dict() for line in self.model_access],
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
    rule = spend_rule(policy)
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


@dataclass(frozen=True)
class _Kind:
    """What differs between the counting kinds here: rows, rule, index and current figures."""

    model: Any
    windows: str  # the related name of the policy's windows / limits
    rule: Any
    index: Any
    figures: Any  # (policy, member) -> the window rows


SPEND = _Kind(SpendPolicy, "windows", spend_rule, SpendSnapshot, _window_rows)
RATE = _Kind(RateLimitPolicy, "limits", rate_rule, RateLimitSnapshot, current_usage)


def _counting_policies(organization: Organization, kind: _Kind) -> dict[int, Any]:
    return {
        p.pk: p
        for p in kind.model.objects.filter(organization=organization, enabled=True)
        .select_related("organization", "workspace__organization", "api_key", "user")
        .prefetch_related(kind.windows)
    }


def _is_own(policy: Any, own: tuple[str, int]) -> bool:
    scope, subject_id = own
    if policy.kind != "total" or policy.scope != scope:
        return False
    return scope == "organization" or getattr(policy, f"{scope}_id") == subject_id


def _origin(
    policy: Any, member: str, own: tuple[str, int], workspace_id: int, policies: dict[int, Any]
) -> tuple[str, tuple[str, ...]]:
    """Where a matched limit comes from (LimitLine.origin), and what an override replaces."""
    if member:
        return "default per member", ()
    if not _is_own(policy, own):
        return "inherited", ()
    replaced = tuple(
        sorted(
            p.name
            for p in policies.values()
            if p.kind == "default_per_member"
            and p.scope == policy.scope
            and (p.scope == "workspace" or p.workspace_id in (None, workspace_id))
        )
    )
    return ("override", replaced) if replaced else ("own", ())


def _limits(
    organization: Organization,
    kind: _Kind,
    *,
    workspace_id: int,
    key_id: int,
    user_id: int | None,
    member_kinds: tuple[str, ...],
    own: tuple[str, int],
) -> list[LimitLine]:
    policies = _counting_policies(organization, kind)
    rules = [kind.rule(p) for p in policies.values()]
    index = kind.index(r for r in rules if getattr(r, kind.windows))
    matches = index.match(
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
        origin, replaces = _origin(policy, match.member, own, workspace_id, policies)
        lines.append(
            LimitLine(
                policy,
                match.member,
                kind.figures(policy, match.member),
                origin=origin,
                replaces=replaces,
            )
        )
    return lines


def _spend(organization: Organization, **subject: Any) -> list[LimitLine]:
    return _limits(organization, SPEND, **subject)


def _rate_limits(organization: Organization, **subject: Any) -> list[LimitLine]:
    return _limits(organization, RATE, **subject)


def _model_access(
    organization: Organization,
    *,
    calls: str,
    workspace_id: int,
    key_id: int,
    user_id: int | None,
    own: tuple[str, int],
    policies: dict[int, ModelAccessPolicy] | None = None,
) -> ModelAccessLine:
    """The deciding tier for these calls, as the gate finds it (ModelAccessSnapshot.deciding)."""
    if policies is None:
        policies = _access_policies(organization)
    snapshot = ModelAccessSnapshot(
        [
            (access_rule(p), p.organization_id, p.workspace_id, p.api_key_id, p.user_id)
            for p in policies.values()
        ]
    )
    ctx = RequestContext(
        organization_id=organization.pk,
        workspace_id=workspace_id,
        key_id=key_id,
        key_prefix="",
        key_kind="",
        user_id=user_id,
        permissions=frozenset(),
        trace_content=False,
    )
    deciding = [policies[rule.id] for rule in snapshot.deciding(ctx)]
    if not deciding:
        return ModelAccessLine(calls, [])
    applicable = [
        p
        for p in policies.values()
        if p.scope == "organization"
        or (p.scope == "workspace" and p.workspace_id == workspace_id)
        or (p.scope == "user" and user_id is not None and p.user_id == user_id)
        or (p.scope == "api_key" and p.api_key_id == key_id)
    ]
    scope = deciding[0].scope
    origin = "own" if scope == own[0] and _is_own_tier(deciding[0], own) else "inherited"
    return ModelAccessLine(
        calls,
        deciding,
        origin=origin,
        overridden=[p for p in applicable if p.scope != scope],
    )


def _is_own_tier(policy: ModelAccessPolicy, own: tuple[str, int]) -> bool:
    scope, subject_id = own
    return scope == "organization" or getattr(policy, f"{scope}_id") == subject_id


def _access_policies(organization: Organization) -> dict[int, ModelAccessPolicy]:
    return {
        p.pk: p
        for p in ModelAccessPolicy.objects.filter(organization=organization, enabled=True)
        .select_related("organization", "workspace__organization", "api_key", "user")
        .prefetch_related("rules")
    }


def _customer_note(effective: Effective, organization: Organization) -> None:
    customers = [
        f"{n} {what}"
        for what, model in (("spend limit(s)", SpendPolicy), ("rate limit(s)", RateLimitPolicy))
        if (
            n := model.objects.filter(
                organization=organization, enabled=True, scope="customer"
            ).count()
        )
    ]
    if customers:
        effective.notes.append(
            "calls naming a customer (x-gateway-customer) also fall under "
            + " and ".join(customers)
            + " of customers, not listed here"
        )


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
    subject = {
        "workspace_id": key.workspace_id,
        "key_id": key.pk,
        "user_id": key.user_id,
        "member_kinds": ("ws", "key", "user") if key.user_id else ("ws", "key"),
        "own": ("api_key", key.pk),
    }
    result.spend = _spend(org, **subject)
    result.rate_limits = _rate_limits(org, **subject)
    result.model_access.append(
        _model_access(
            org,
            calls=f"calls with {key.display_prefix}",
            workspace_id=key.workspace_id,
            key_id=key.pk,
            user_id=key.user_id,
            own=("api_key", key.pk),
        )
    )
    _customer_note(result, org)
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
    subject = {
        "workspace_id": workspace.pk,
        "key_id": NO_KEY,
        "user_id": None,
        "member_kinds": ("ws",),
        "own": ("workspace", workspace.pk),
    }
    result.spend = _spend(org, **subject)
    result.rate_limits = _rate_limits(org, **subject)
    result.model_access.append(
        _model_access(
            org,
            calls=f"calls in {workspace} (keys and users with no policy of their own)",
            workspace_id=workspace.pk,
            key_id=NO_KEY,
            user_id=None,
            own=("workspace", workspace.pk),
        )
    )
    narrower = RedactionPolicy.objects.filter(
        organization=org, enabled=True, scope__in=("api_key", "user")
    )
    if narrower.exists():
        result.notes.append(
            "some keys or users have a redaction policy of their own, which wins for their calls"
        )
    if ModelAccessPolicy.objects.filter(
        organization=org, enabled=True, scope__in=("api_key", "user")
    ).exists():
        result.notes.append(
            "some keys or users have a model-access policy of their own, which decides their calls"
        )
    _customer_note(result, org)
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
    seen_spend: set[tuple[int, str]] = set()
    seen_rate: set[tuple[int, str]] = set()
    access = _access_policies(organization)
    for ws in workspaces:
        result.redaction.append(
            RedactionLine(
                f"calls of {user.get_username()} in {ws}",
                _redaction(organization, workspace_id=ws.pk, key_id=None, user_id=user.pk),
            )
        )
        subject = {
            "workspace_id": ws.pk,
            "key_id": NO_KEY,
            "user_id": user.pk,
            "member_kinds": ("ws", "user"),
            "own": ("user", user.pk),
        }
        for lines, seen, found in (
            (result.spend, seen_spend, _spend(organization, **subject)),
            (result.rate_limits, seen_rate, _rate_limits(organization, **subject)),
        ):
            for line in found:
                if (line.policy.pk, line.member) not in seen:
                    seen.add((line.policy.pk, line.member))
                    lines.append(line)
        result.model_access.append(
            _model_access(
                organization,
                calls=f"calls of {user.get_username()} in {ws} (keys with no policy of their own)",
                workspace_id=ws.pk,
                key_id=NO_KEY,
                user_id=user.pk,
                own=("user", user.pk),
                policies=access,
            )
        )
    _customer_note(result, organization)
    return result


def effective_for_organization(organization: Organization) -> Effective:
    """The organization-wide limits, the defaults per member with their members' current use
    (rate limits), and the redaction and model access of calls in each of its workspaces."""
    result = Effective(subject=f"organization {organization.slug}", organization=organization)
    _gateway_note(result)
    access = _access_policies(organization)
    own = ("organization", organization.pk)
    for ws in Workspace.objects.filter(organization=organization).select_related("organization"):
        calls = f"calls in {ws} (keys and users with no policy of their own)"
        result.redaction.append(
            RedactionLine(
                calls, _redaction(organization, workspace_id=ws.pk, key_id=None, user_id=None)
            )
        )
        result.model_access.append(
            _model_access(
                organization,
                calls=calls,
                workspace_id=ws.pk,
                key_id=NO_KEY,
                user_id=None,
                own=own,
                policies=access,
            )
        )
    spend = _counting_policies(organization, SPEND)
    result.spend = [
        LimitLine(p, "", _window_rows(p, ""), origin="own")
        for p in spend.values()
        if p.scope == "organization"
    ]
    rate = _counting_policies(organization, RATE)
    for p in rate.values():
        if p.scope == "organization":
            result.rate_limits.append(LimitLine(p, "", current_usage(p), origin="own"))
        elif p.kind == "default_per_member":
            members = members_usage(p)
            if members:
                labels = member_labels(m["member"] for m in members)
                members = [{**m, "label": labels[m["member"]]} for m in members]
            result.rate_limits.append(
                LimitLine(p, "", [], origin="default per member", members=members)
            )
    return result
