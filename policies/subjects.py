"""What every policy kind shares: the subject it applies to.

A policy belongs to an organization and applies to one subject of it: the organization itself,
a workspace, an API key or a user (a user's policies cover their personal tokens and the
service keys assigned to them). Spend limits and redaction policies (and the kinds to come)
derive from `PolicySubject`, so the admin, the API and the snapshots read the subject the same
way whatever the kind. Counting kinds (spend limits, rate limits) derive from
`CustomerPolicySubject`, which adds the end customers an application names per call
(`x-gateway-customer`), and index their rules with `SubjectIndex`.

Which fields name the subject, by scope and kind:

| scope        | total                        | default_per_member (the group)             |
| organization | the organization itself      | not allowed                                |
| workspace    | `workspace`                  | every workspace of the organization        |
| api_key      | `api_key`                    | every key of `workspace` (or of the org)   |
| user         | `user`                       | every user, in `workspace` (or the org)    |
| customer     | `workspace` + `customer`     | every customer of `workspace` (or the org) |

A member's own `total` policy of the same scope replaces the default for that member (it may
raise the limit); broader policies still apply to it, so nothing loosens a broader limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from orgs.models import ApiKey, Organization, Workspace

if TYPE_CHECKING:
    from collections.abc import Iterable

CUSTOMER_MAX_LENGTH = 128  # the x-gateway-customer header's longest value
MEMBER_MAX_LENGTH = 160  # "cust:<workspace id>:<customer>" and the shorter member names


class PolicyScope(models.TextChoices):
    ORGANIZATION = "organization", "Organization"
    WORKSPACE = "workspace", "Workspace"
    API_KEY = "api_key", "API key"
    USER = "user", "User"


class CustomerScope(models.TextChoices):
    ORGANIZATION = "organization", "Organization"
    WORKSPACE = "workspace", "Workspace"
    API_KEY = "api_key", "API key"
    USER = "user", "User"
    CUSTOMER = "customer", "Customer (x-gateway-customer)"


class PolicyKind(models.TextChoices):
    TOTAL = "total", "Total for the scope"
    DEFAULT_PER_MEMBER = "default_per_member", "Default per member"


class PolicySubject(models.Model):
    """Abstract: organization, scope and the one subject field the scope names."""

    Scope = PolicyScope

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="%(class)s_set"
    )
    scope = models.CharField(max_length=20, choices=PolicyScope.choices)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="%(class)s_set"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="%(class)s_set"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="%(class)s_set",
    )

    class Meta:
        abstract = True

    @property
    def subject_label(self) -> str:
        """The subject in words, e.g. "workspace acme/main" or "key gw_sk_abc…"."""
        if self.scope == PolicyScope.WORKSPACE and self.workspace_id:
            return f"workspace {self.workspace}"
        if self.scope == PolicyScope.API_KEY and self.api_key_id:
            return f"key {self.api_key}"
        if self.scope == PolicyScope.USER and self.user_id:
            return f"user {self.user}"
        return f"organization {self.organization}"


class CustomerPolicySubject(PolicySubject):
    """Abstract: a PolicySubject that may also name an application's end customer (the
    `x-gateway-customer` header of a call) within a workspace, and is either a total for its
    subject or a default for every member of a group (table in the module docstring)."""

    Scope = CustomerScope  # type: ignore[assignment]
    Kind = PolicyKind

    scope = models.CharField(max_length=20, choices=CustomerScope.choices)
    kind = models.CharField(max_length=20, choices=PolicyKind.choices, default=PolicyKind.TOTAL)
    customer = models.CharField(
        max_length=CUSTOMER_MAX_LENGTH,
        blank=True,
        default="",
        help_text="The x-gateway-customer value the policy applies to (customer scope).",
    )

    class Meta:
        abstract = True

    @property
    def subject_label(self) -> str:
        if self.scope == CustomerScope.CUSTOMER:
            if self.kind == PolicyKind.DEFAULT_PER_MEMBER:
                where = f"workspace {self.workspace}" if self.workspace_id else "the organization"
                return f"every customer of {where}"
            return f"customer {self.customer!r} of workspace {self.workspace}"
        if self.kind == PolicyKind.DEFAULT_PER_MEMBER:
            where = f"workspace {self.workspace}" if self.workspace_id else "the organization"
            return f"each {self.get_scope_display().lower()} of {where}"
        return super().subject_label


def policy_name_set(
    policy: PolicySubject, *, organization: Organization, name: str, what: str
) -> None:
    """Give `policy` (not saved) its organization and name, validated as every kind's writes
    do: a policy never moves to another organization, and its name is not empty and unique
    in its organization. `what` names the kind in messages ("rate limit")."""
    if policy.pk is not None and policy.organization_id != organization.pk:
        raise ValidationError(f"a {what} cannot move to another organization")
    name = (name or "").strip()
    if not name:
        raise ValidationError(f"a {what} needs a name")
    clash = type(policy)._default_manager.filter(organization=organization, name=name)
    if policy.pk is not None:
        clash = clash.exclude(pk=policy.pk)
    if clash.exists():
        raise ValidationError(f"{organization.slug} already has a {what} named {name!r}")
    policy.organization, policy.name = organization, name  # type: ignore[attr-defined]


def subject_validate(policy: CustomerPolicySubject, what: str) -> None:
    """The subject fields must fit the scope and kind (table in the module docstring), and every
    subject must belong to the policy's organization. `what` names the kind in messages
    ("spend limit", "rate limit")."""
    org_id = policy.organization_id
    customer = (policy.customer or "").strip()
    if len(customer) > CUSTOMER_MAX_LENGTH:
        raise ValidationError(f"a customer id has at most {CUSTOMER_MAX_LENGTH} characters")
    if policy.scope != CustomerScope.CUSTOMER and customer:
        raise ValidationError(f"a {policy.scope} {what} takes no customer")
    if policy.kind == PolicyKind.DEFAULT_PER_MEMBER:
        if policy.scope == CustomerScope.ORGANIZATION:
            raise ValidationError("an organization has no members of its own: use kind 'total'")
        if policy.api_key_id or policy.user_id or customer:
            raise ValidationError(
                "a default-per-member policy names a group, not one key, user or customer"
            )
        if policy.scope == CustomerScope.WORKSPACE and policy.workspace_id:
            raise ValidationError(
                "a default-per-member workspace policy covers every workspace: leave workspace empty"
            )
    else:
        needed = {
            "workspace": ("workspace",),
            "api_key": ("api_key",),
            "user": ("user",),
            "customer": ("workspace",),
        }
        fields = needed.get(str(policy.scope), ())
        for name in ("workspace", "api_key", "user"):
            present = getattr(policy, f"{name}_id") is not None
            if name in fields and not present:
                raise ValidationError(f"a {policy.scope} {what} needs a {name.replace('_', ' ')}")
            if name not in fields and present:
                raise ValidationError(f"a {policy.scope} {what} takes no {name.replace('_', ' ')}")
        if policy.scope == CustomerScope.CUSTOMER and not customer:
            raise ValidationError(f"a customer {what} needs a customer id")
    policy.customer = customer
    if policy.workspace_id and policy.workspace.organization_id != org_id:
        raise ValidationError("the workspace belongs to another organization")
    if policy.api_key_id and policy.api_key.organization_id != org_id:
        raise ValidationError("the API key belongs to another organization")
    if policy.user_id and not policy.user.org_memberships.filter(organization_id=org_id).exists():
        raise ValidationError("the user is not a member of the organization")


# -- matching calls against rules (the hot path: plain data, no ORM) --------------------------

SCOPE_PREFIX = {"workspace": "ws", "api_key": "key", "user": "user", "customer": "cust"}


class SubjectRule(Protocol):
    """What SubjectIndex reads of a policy's rule (spend, rate limits...)."""

    @property
    def id(self) -> int: ...
    @property
    def organization_id(self) -> int: ...
    @property
    def scope(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def workspace_id(self) -> int | None: ...
    @property
    def api_key_id(self) -> int | None: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def customer(self) -> str: ...


R = TypeVar("R", bound=SubjectRule)


@dataclass(frozen=True, slots=True)
class Match(Generic[R]):
    """One policy a call falls under; `member` names the counter ("" for a total policy,
    "key:12" for key 12 under a default-per-member policy, "cust:3:acme" for customer acme of
    workspace 3)."""

    rule: R
    member: str


def member_labels(members: Iterable[str]) -> dict[str, str]:
    """Members in words ("key gw_sk_abc…", "user alice@example.com", "workspace acme/main",
    "customer 'c-42' of acme/main"), read in one query per kind; a member whose subject is gone
    keeps its raw name."""
    from django.contrib.auth import get_user_model

    ids: dict[str, set[int]] = {"ws": set(), "key": set(), "user": set()}
    parsed: dict[str, tuple[str, str]] = {}
    for member in members:
        kind, _, rest = member.partition(":")
        parsed[member] = (kind, rest)
        number = rest.partition(":")[0] if kind == "cust" else rest
        bucket = "ws" if kind == "cust" else kind
        if number.isdigit() and bucket in ids:
            ids[bucket].add(int(number))
    workspaces = {
        w.pk: str(w)
        for w in Workspace.objects.filter(pk__in=ids["ws"]).select_related("organization")
    }
    keys = {k.pk: k.display_prefix for k in ApiKey.objects.filter(pk__in=ids["key"])}
    users = dict(get_user_model().objects.filter(pk__in=ids["user"]).values_list("pk", "email"))
    out = {}
    for member, (kind, rest) in parsed.items():
        label = None
        if kind == "cust":
            ws, _, customer = rest.partition(":")
            where = workspaces.get(int(ws)) if ws.isdigit() else None
            label = f"customer {customer!r} of {where}" if where else None
        elif rest.isdigit():
            found = {"ws": workspaces, "key": keys, "user": users}.get(kind, {}).get(int(rest))
            word = {"ws": "workspace", "key": "key", "user": "user"}.get(kind)
            label = f"{word} {found}" if found else None
        out[member] = label or member
    return out


def customer_member(workspace_id: int, customer: str) -> str:
    """The member (counter name) of one customer: customers are per workspace."""
    return f"cust:{workspace_id}:{customer}"


class SubjectIndex(Generic[R]):
    """Rules indexed by subject so that `match()` is a handful of dict look-ups whatever the
    number of policies."""

    __slots__ = (
        "_by_customer",
        "_by_key",
        "_by_org",
        "_by_user",
        "_by_ws",
        "_own",
        "_per_member",
        "size",
    )

    def __init__(self, rules: Iterable[R] = ()) -> None:
        self._by_org: dict[int, list[R]] = {}
        self._by_ws: dict[int, list[R]] = {}
        self._by_key: dict[int, list[R]] = {}
        self._by_user: dict[int, list[R]] = {}
        self._by_customer: dict[tuple[int, str], list[R]] = {}
        self._per_member: dict[int, list[R]] = {}
        self._own: set[tuple[str, Any]] = set()
        self.size = 0
        for rule in rules:
            self._add(rule)

    def _add(self, rule: R) -> None:
        self.size += 1
        if rule.kind == PolicyKind.DEFAULT_PER_MEMBER:
            self._per_member.setdefault(rule.organization_id, []).append(rule)
            return
        if rule.scope == "organization":
            self._by_org.setdefault(rule.organization_id, []).append(rule)
        elif rule.scope == "workspace" and rule.workspace_id is not None:
            self._by_ws.setdefault(rule.workspace_id, []).append(rule)
            self._own.add(("workspace", rule.workspace_id))
        elif rule.scope == "api_key" and rule.api_key_id is not None:
            self._by_key.setdefault(rule.api_key_id, []).append(rule)
            self._own.add(("api_key", rule.api_key_id))
        elif rule.scope == "user" and rule.user_id is not None:
            self._by_user.setdefault(rule.user_id, []).append(rule)
            self._own.add(("user", rule.user_id))
        elif rule.scope == "customer" and rule.workspace_id is not None and rule.customer:
            subject = (rule.workspace_id, rule.customer)
            self._by_customer.setdefault(subject, []).append(rule)
            self._own.add(("customer", subject))

    def match(
        self,
        *,
        organization_id: int,
        workspace_id: int,
        key_id: int,
        user_id: int | None,
        customer: str = "",
    ) -> list[Match[R]]:
        """Every policy the call falls under. A user's policies count the user's personal
        tokens and the service keys assigned to the user (both carry `user_id`); a customer's
        count the calls of its workspace that name it."""
        found = [Match(r, "") for r in self._by_org.get(organization_id, ())]
        if self._by_ws:
            found += [Match(r, "") for r in self._by_ws.get(workspace_id, ())]
        if self._by_key:
            found += [Match(r, "") for r in self._by_key.get(key_id, ())]
        if user_id is not None and self._by_user:
            found += [
                Match(r, "")
                for r in self._by_user.get(user_id, ())
                if r.organization_id == organization_id
            ]
        if customer and self._by_customer:
            found += [Match(r, "") for r in self._by_customer.get((workspace_id, customer), ())]
        per_member = self._per_member.get(organization_id)
        if not per_member:
            return found
        subjects: dict[str, Any] = {"workspace": workspace_id, "api_key": key_id, "user": user_id}
        if customer:
            subjects["customer"] = (workspace_id, customer)
        for rule in per_member:
            subject = subjects.get(rule.scope)
            if subject is None or (rule.scope, subject) in self._own:
                continue  # no such member, or the member's own policy replaces the default
            if rule.scope != "workspace" and rule.workspace_id not in (None, workspace_id):
                continue  # the group is another workspace
            if rule.scope == "customer":
                member = customer_member(workspace_id, customer)
            else:
                member = f"{SCOPE_PREFIX[rule.scope]}:{subject}"
            found.append(Match(rule, member))
        return found
