"""What the gateway overview page shows for one organization: the set-up checklist, usage per
day and per hour, the top keys, users and models, and the latest policy events.

Every number comes from the per-day rollup (tracing.UsageDaily, through api.usage) for closed
days and from the raw usage rows only for today and the last 48 hours, so the page costs the
same over a million usage rows as over a thousand. Each function takes an `OverviewScope`: the
whole organization for its admins (and superusers), the viewer's own workspaces for workspace
admins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from api.usage import UsageQuery, usage_summary
from orgs.models import ApiKey, Organization, OrganizationMember, Workspace, WorkspaceMember
from orgs.permissions import has_permission, visible_workspace_ids
from orgs.permissions_catalogue import INVOKE_PERMISSIONS, ORGANIZATION_ADMIN
from policies.redaction.models import RedactionPolicy
from policies.spend.models import SpendPolicy
from secrets_vault.models import ProviderSecret
from tracing.models import Run, UsageRecord

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

GROUPS = {"workspace": "Workspace", "model": "Model", "key": "API key", "user": "User"}
DAYS = 30
HOURS = 48
SERIES = 7  # stacked series shown per chart; the rest is summed as "other"
TOP = 10
EVENTS = 15
OTHER = "other"


@dataclass(frozen=True)
class OverviewScope:
    organization: Organization
    workspace_ids: frozenset[int] | None  # None: the whole organization
    # Workspaces in scope, id → "slug" (for labels and the checklist).
    workspaces: dict[int, str] = field(default_factory=dict)

    @property
    def whole_organization(self) -> bool:
        return self.workspace_ids is None

    def ids(self) -> set[int]:
        return set(self.workspaces)


def overview_organizations(user: AbstractBaseUser) -> list[Organization]:
    """The organizations whose overview `user` may open: those they manage, and those with a
    workspace they manage."""
    orgs = Organization.objects.order_by("slug")
    if getattr(user, "is_superuser", False):
        return list(orgs)
    ws_ids = visible_workspace_ids(user, "workspaces:manage") or set()
    org_ids = set(Workspace.objects.filter(pk__in=ws_ids).values_list("organization_id", flat=True))
    return [o for o in orgs.filter(pk__in=org_ids)]


def overview_scope(user: AbstractBaseUser, organization: Organization) -> OverviewScope | None:
    """What `user` sees of `organization`'s overview, or None (the page answers 404)."""
    workspaces = Workspace.objects.filter(organization=organization).order_by("slug")
    if has_permission(user, "organization:manage", organization=organization):
        return OverviewScope(organization, None, {ws.pk: ws.slug for ws in workspaces})
    ws_ids = visible_workspace_ids(user, "workspaces:manage") or set()
    mine = {ws.pk: ws.slug for ws in workspaces if ws.pk in ws_ids}
    if not mine:
        return None
    return OverviewScope(organization, frozenset(mine), mine)


# -- set-up checklist ---------------------------------------------------------------------------


@dataclass
class Step:
    key: str
    title: str
    done: bool
    detail: str
    fix_url: str = ""
    fix_label: str = ""
    link_url: str = ""  # a page about a done step (e.g. the last successful run)


def _invoke_role_ids() -> set[int]:
    from orgs.models import Role

    return {
        role.pk
        for role in Role.objects.all()
        if all(p in role.permission_set for p in INVOKE_PERMISSIONS)
    }


def checklist(scope: OverviewScope) -> list[Step]:
    org = scope.organization
    ws_ids = scope.ids()
    steps: list[Step] = []

    steps.append(
        Step(
            "enabled",
            "LLM Gateway enabled",
            org.llm_gateway_enabled,
            "Calls are served." if org.llm_gateway_enabled else "Every call is refused (403).",
            fix_url=reverse("admin:orgs_organization_change", args=[org.pk]),
            fix_label="Enable it on the organization's page",
        )
    )

    secrets: dict[int, list[str]] = {pk: [] for pk in ws_ids}
    for ws_id, name in ProviderSecret.objects.filter(workspace_id__in=ws_ids).values_list(
        "workspace_id", "name"
    ):
        secrets[ws_id].append(name.removesuffix("_API_KEY").title())
    missing = [scope.workspaces[pk] for pk, names in secrets.items() if not names]
    described = "; ".join(
        f"{scope.workspaces[pk]}: {', '.join(sorted(names)) or 'none'}"
        for pk, names in sorted(secrets.items(), key=lambda item: scope.workspaces[item[0]])
    )
    first_missing = next((pk for pk, names in secrets.items() if not names), None)
    steps.append(
        Step(
            "secrets",
            "Provider secrets in every workspace",
            bool(ws_ids) and not missing,
            described or "No workspace yet.",
            fix_url=(
                reverse("admin:secrets_vault_providersecret_add")
                + (f"?workspace={first_missing}" if first_missing else "")
                if ws_ids
                else reverse("admin:orgs_workspace_add")
            ),
            fix_label="Add a provider secret" if ws_ids else "Create a workspace",
        )
    )

    invoke_roles = _invoke_role_ids()
    admins = set(
        OrganizationMember.objects.filter(
            organization=org, role__name=ORGANIZATION_ADMIN, role__builtin=True
        ).values_list("user_id", flat=True)
    )
    members = set(
        WorkspaceMember.objects.filter(
            workspace_id__in=ws_ids, role_id__in=invoke_roles
        ).values_list("user_id", "workspace_id")
    )
    member_ids = admins | {user_id for user_id, _ in members}
    keys = ApiKey.objects.active().filter(workspace_id__in=ws_ids)
    service_keys = keys.filter(kind=ApiKey.Kind.SERVICE, role_id__in=invoke_roles).count()
    tokens = sum(
        1
        for user_id, ws_id in keys.filter(kind=ApiKey.Kind.PERSONAL).values_list(
            "user_id", "workspace_id"
        )
        if user_id in admins or (user_id, ws_id) in members
    )
    may_call = service_keys + tokens
    steps.append(
        Step(
            "invoke",
            "Members and keys that may call the gateway",
            may_call > 0,
            f"{len(member_ids)} member(s) and {may_call} active key(s) hold gateway:invoke "
            f"({service_keys} service key(s), {tokens} personal token(s)).",
            fix_url=reverse("admin:orgs_servicekey_add"),
            fix_label="Create a service key with a role that holds gateway:invoke",
        )
    )

    in_scope = Q(workspace__isnull=True) | Q(workspace_id__in=ws_ids)
    spend = SpendPolicy.objects.filter(in_scope, organization=org, enabled=True).count()
    redaction = RedactionPolicy.objects.filter(in_scope, organization=org, enabled=True).count()
    steps.append(
        Step(
            "policies",
            "Policies in force",
            spend + redaction > 0,
            f"{spend} spend limit(s), {redaction} redaction polic{'y' if redaction == 1 else 'ies'}.",
            fix_url=reverse("admin:policies_spendpolicy_add"),
            fix_label="Add a spend limit",
        )
    )

    last = (
        Run.objects.filter(workspace_id__in=ws_ids, status=Run.Status.SUCCESS)
        .order_by("-started_at")
        .only("pk", "started_at", "model")
        .first()
    )
    steps.append(
        Step(
            "call",
            "A successful call",
            last is not None,
            (
                f"Last: {last.model or 'a call'} at {last.started_at:%Y-%m-%d %H:%M} UTC."
                if last
                else "No successful call recorded yet."
            ),
            fix_url=reverse("admin:orgs_servicekey_changelist"),
            fix_label="Pick a key and download its agent configuration",
            link_url=reverse("admin:tracing_run_change", args=[last.pk]) if last else "",
        )
    )
    return steps


# -- usage ---------------------------------------------------------------------------------------


def _day_range(now: dt.datetime) -> tuple[dt.datetime, dt.datetime, list[dt.date]]:
    today = now.astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=DAYS - 1)
    since = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    days = [first + dt.timedelta(days=i) for i in range(DAYS)]
    return since, now, days


def _query(scope: OverviewScope, since: dt.datetime, until: dt.datetime, group: str) -> UsageQuery:
    return UsageQuery(
        since=since,
        until=until,
        bucket="day",
        group_by=group,
        workspace_ids=scope.ids() if scope.workspace_ids is not None else None,
        organization_id=scope.organization.pk,
    )


def _tokens(row: dict[str, Any]) -> int:
    return int(row["input_tokens"]) + int(row["output_tokens"])


@dataclass
class Series:
    label: str
    spend: list[float]
    tokens: list[int]


@dataclass
class DailyUsage:
    group: str
    days: list[dt.date]
    series: list[Series]
    rows: list[dict[str, Any]]  # the table: one per (day, group), oldest first
    totals: dict[str, Any]


def daily_usage(scope: OverviewScope, group: str, now: dt.datetime | None = None) -> DailyUsage:
    """Spend and tokens per day over 30 days (today included), per `group` value: the SERIES
    largest (by spend, then tokens) each on their own, the others summed as "other"."""
    since, until, days = _day_range(now or timezone.now())
    summary = usage_summary(query=_query(scope, since, until, group))
    index = {day: i for i, day in enumerate(days)}
    per_group: dict[str, Series] = {}
    rank: dict[str, tuple[Decimal, int]] = {}
    for row in summary["rows"]:
        label = row["label"] or "(none)"
        series = per_group.setdefault(label, Series(label, [0.0] * DAYS, [0] * DAYS))
        i = index.get(row["bucket"].date())
        if i is None:
            continue
        cost = row["cost_usd"] or Decimal(0)
        series.spend[i] += float(cost)
        series.tokens[i] += _tokens(row)
        spent, tokens = rank.get(label, (Decimal(0), 0))
        rank[label] = (spent + cost, tokens + _tokens(row))
    ordered = sorted(per_group.values(), key=lambda s: rank[s.label], reverse=True)
    shown = ordered[:SERIES]
    if len(ordered) > SERIES:
        other = Series(OTHER, [0.0] * DAYS, [0] * DAYS)
        for s in ordered[SERIES:]:
            other.spend = [a + b for a, b in zip(other.spend, s.spend, strict=True)]
            other.tokens = [a + b for a, b in zip(other.tokens, s.tokens, strict=True)]
        shown.append(other)
    table = [
        {
            "day": row["bucket"].date(),
            "group": row["label"] or "(none)",
            "calls": row["calls"],
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "cost_usd": row["cost_usd"],
            "unpriced_calls": row["unpriced_calls"],
        }
        for row in summary["rows"]
    ]
    return DailyUsage(group, days, shown, table, summary["totals"])


def top_usage(
    scope: OverviewScope, group: str, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The TOP values of `group` by spend over 30 days (then tokens), with calls and tokens."""
    since, until, _ = _day_range(now or timezone.now())
    totals: dict[str, dict[str, Any]] = {}
    query = _query(scope, since, until, group)
    query = UsageQuery(**{**query.__dict__, "bucket": "week"})
    for row in usage_summary(query=query)["rows"]:
        label = row["label"] or "(none)"
        into = totals.setdefault(
            label, {"label": label, "calls": 0, "tokens": 0, "cost_usd": Decimal(0)}
        )
        into["calls"] += row["calls"]
        into["tokens"] += _tokens(row)
        into["cost_usd"] += row["cost_usd"] or Decimal(0)
    ordered = sorted(totals.values(), key=lambda r: (r["cost_usd"], r["tokens"]), reverse=True)
    return ordered[:TOP]


@dataclass
class HourlyCalls:
    hours: list[dt.datetime]
    calls: list[int]
    errors: list[int]
    blocked: list[int]

    @property
    def error_rates(self) -> list[float | None]:
        return [e / c if c else None for e, c in zip(self.errors, self.calls, strict=True)]


def hourly_calls(scope: OverviewScope, now: dt.datetime | None = None) -> HourlyCalls:
    """Calls, upstream errors and policy blocks per hour over the last 48 hours (raw usage rows:
    at most two days of them, read through the (organization, started_at) index)."""
    now = (now or timezone.now()).astimezone(dt.UTC)
    last = now.replace(minute=0, second=0, microsecond=0)
    hours = [last - dt.timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    qs = UsageRecord.objects.filter(
        organization_id=scope.organization.pk, started_at__gte=hours[0], started_at__lte=now
    )
    if scope.workspace_ids is not None:
        qs = qs.filter(workspace_id__in=scope.ids())
    rows = (
        qs.order_by()
        .annotate(hour=TruncHour("started_at", tzinfo=dt.UTC))
        .values("hour")
        .annotate(
            calls=Count("*"),
            errors=Count("started_at", filter=Q(status=Run.Status.ERROR)),
            blocked=Count("started_at", filter=Q(status=Run.Status.BLOCKED)),
        )
    )
    index = {hour: i for i, hour in enumerate(hours)}
    out = HourlyCalls(hours, [0] * HOURS, [0] * HOURS, [0] * HOURS)
    for row in rows:
        i = index.get(row["hour"])
        if i is not None:
            out.calls[i], out.errors[i], out.blocked[i] = (
                row["calls"],
                row["errors"],
                row["blocked"],
            )
    return out


# -- policy events ---------------------------------------------------------------------------------


@dataclass
class Event:
    at: dt.datetime
    kind: str  # block, spend limit, rate limit, redaction, alert
    summary: str
    url: str


def _event_kind(run: Run) -> str:
    if run.policy_outcome == Run.PolicyOutcome.REDACTED:
        return "redaction"
    if run.http_status == 429:
        return "rate limit"
    if run.http_status == 402:
        return "spend limit"
    return "block"


def policy_events(scope: OverviewScope) -> list[Event]:
    """The latest blocks, redactions, rate limits and budget alerts, newest first, each linked
    to its run (an alert to its delivery log)."""
    runs = (
        Run.objects.filter(
            workspace_id__in=scope.ids(),
            policy_outcome__in=(Run.PolicyOutcome.BLOCKED, Run.PolicyOutcome.REDACTED),
        )
        .order_by("-started_at")
        .only("pk", "started_at", "policy_outcome", "http_status", "error", "model", "key_prefix")[
            :EVENTS
        ]
    )
    events = [
        Event(
            run.started_at,
            _event_kind(run),
            " · ".join(
                part for part in (run.model, run.key_prefix, (run.error or "")[:160]) if part
            ),
            reverse("admin:tracing_run_change", args=[run.pk]),
        )
        for run in runs
    ]
    events += _alert_events(scope)
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:EVENTS]


def _alert_events(scope: OverviewScope) -> list[Event]:
    return []
