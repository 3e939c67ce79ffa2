"""Reading the portal: a team's applications, subscriptions and keys; approvers' queues; the gateway's key table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from aiplatform.models import Tenant, User
from aiplatform.roles import PlatformRole
from portal.models import (
    ApiKey,
    Application,
    AutoApprovalRule,
    HostingRequest,
    HostingStatus,
    Notification,
    PersonalAccessToken,
    Subscription,
    SubscriptionStatus,
)
from portal.models.keys import hash_secret
from registry.models import AliasKind, ModelAlias

# Revoked and expired keys stay in the gateway's table this long, so it can say "revoked" / "expired".
REFUSED_KEYS_KEPT = timedelta(days=7)


# --- the gateway's view ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What one API key may do, as plain data. The gateway decides per request (revoked, expiry, IP, alias)."""

    key_id: int
    key_prefix: str
    tenant_id: int
    tenant_slug: str
    tenant_region: str
    application_id: int
    application_name: str
    environment: str
    data_classification: str
    # What the key may call: the application's approved, not suspended subscriptions, narrowed to the key's
    # own model list when it has one.
    aliases: frozenset[str]
    expires_at: datetime | None  # the end of a rotation overlap sets this on the old key
    revoked: bool
    ip_allowlist: tuple[str, ...]  # CIDRs; empty: any address
    # Subscriptions of the application left out by the key's own model list (so the refusal can say why).
    withheld: frozenset[str] = frozenset()


def gateway_key_table() -> MappingProxyType[str, KeyGrant]:
    """Every key that could authenticate, by ``key_hash`` (two queries).

    Keys revoked or expired within ``REFUSED_KEYS_KEPT`` are included (``revoked`` / ``expires_at``
    tell why they fail) so the gateway can tell them from unknown keys. A key of an inactive team
    counts as revoked. The gateway caches the result and reloads it when ``config_version``
    "keys" moves.
    """
    since = timezone.now() - REFUSED_KEYS_KEPT
    keys = list(
        ApiKey.objects.filter(Q(revoked_at__isnull=True) | Q(revoked_at__gte=since))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gte=since))
        .select_related("application__tenant")
    )
    aliases: dict[int, set[str]] = {}
    rows = Subscription.objects.filter(
        status=SubscriptionStatus.APPROVED, application_id__in={k.application_id for k in keys}
    ).values_list("application_id", "alias__name")
    for application_id, alias_name in rows:
        aliases.setdefault(application_id, set()).add(alias_name)
    table = {}
    for key in keys:
        app, tenant = key.application, key.application.tenant
        subscribed, allowed = frozenset(aliases.get(app.pk, ())), frozenset(key.allowed_aliases or ())
        table[key.key_hash] = KeyGrant(
            key_id=key.pk, key_prefix=key.key_prefix, tenant_id=tenant.pk, tenant_slug=tenant.slug,
            tenant_region=tenant.region, application_id=app.pk, application_name=app.name,
            environment=app.environment, data_classification=app.data_classification,
            aliases=subscribed & allowed if allowed else subscribed, expires_at=key.expires_at,
            revoked=key.revoked_at is not None or not tenant.is_active,
            ip_allowlist=tuple(key.ip_allowlist or ()), withheld=subscribed - allowed if allowed else frozenset(),
        )
    return MappingProxyType(table)


def dedicated_routes() -> MappingProxyType[tuple[int, str], int]:
    """The routing hook for dedicated hosting: ``(tenant_id, alias name) → endpoint id`` of approved requests.

    The gateway (or the registry's routing) sends that team's calls to that alias to this endpoint
    instead of the shared routes. Reload it with the key table (both move with config version "keys").
    """
    rows = (HostingRequest.objects.filter(status=HostingStatus.APPROVED, endpoint__is_active=True)
            .order_by("decided_at", "pk").values_list("tenant_id", "alias__name", "endpoint_id"))
    return MappingProxyType({(tenant_id, alias): endpoint_id for tenant_id, alias, endpoint_id in rows})


# --- a team's view --------------------------------------------------------------------------------

def applications_of(tenant: Tenant, *, viewer) -> QuerySet[Application]:
    return Application.objects.for_user(viewer).filter(tenant=tenant).select_related("owner")


def applications_for(user) -> QuerySet[Application]:
    return Application.objects.for_user(user).select_related("tenant", "owner").order_by("tenant__name", "name")


def with_counts(applications: QuerySet[Application]) -> QuerySet[Application]:
    """``applications`` annotated with ``approved`` and ``pending`` subscriptions and ``live_keys``."""
    return applications.annotate(
        approved=Count("subscriptions", filter=Q(subscriptions__status=SubscriptionStatus.APPROVED), distinct=True),
        pending=Count("subscriptions", filter=Q(subscriptions__status=SubscriptionStatus.PENDING), distinct=True),
        live_keys=Count("keys", filter=Q(keys__revoked_at__isnull=True) & (
            Q(keys__expires_at__isnull=True) | Q(keys__expires_at__gt=timezone.now())), distinct=True),
    )


def applications_of_my_teams(user) -> QuerySet[Application]:
    """Applications of the teams ``user`` is a member of (not every team's, even for platform admins), with counts."""
    return with_counts(applications_for(user).filter(tenant__memberships__user=user, tenant__is_active=True))


def subscriptions_for(user) -> QuerySet[Subscription]:
    """Subscriptions of the user's teams (all, for platform admins and auditors)."""
    return Subscription.objects.for_user(user).select_related("application", "alias", "tenant", "requested_by")


def subscriptions_of(application: Application, *, viewer) -> QuerySet[Subscription]:
    return subscriptions_for(viewer).filter(application=application).prefetch_related("transitions")


def keys_for(user) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_user(user).select_related("application", "tenant", "created_by")


def keys_of(application: Application, *, viewer) -> QuerySet[ApiKey]:
    return keys_for(viewer).filter(application=application)


def hosting_requests_for(user) -> QuerySet[HostingRequest]:
    return HostingRequest.objects.for_user(user).select_related("alias", "tenant", "requested_by",
                                                                "endpoint__provider")


# --- approvers' view ------------------------------------------------------------------------------

def is_approver(user) -> bool:
    """Platform admins, model owners, and the owners of a prompt API (they decide its subscriptions)."""
    return bool(getattr(user, "is_authenticated", False)) and (
        user.is_platform_admin or PlatformRole.MODEL_OWNER in user.platform_roles
        or ModelAlias.objects.filter(kind=AliasKind.PROMPT, owners=user).exists())


def approvers_of(alias) -> list:
    """Who decides requests for ``alias``: its owners who hold the model-owner role; when it has none, the
    platform admins (they may decide any request). Active accounts only."""
    owners = list(alias.owners.filter(is_active=True) if alias.kind == AliasKind.PROMPT
                  else alias.owners.filter(is_active=True, platform_role_grants__role=PlatformRole.MODEL_OWNER))
    if owners:
        return owners
    return list(User.objects.filter(is_active=True, platform_role_grants__role=PlatformRole.PLATFORM_ADMIN)
                .order_by("email"))


def subscriptions_decidable_by(user) -> QuerySet[Subscription]:
    """Subscriptions whose alias this user may decide on: all for platform admins; owned aliases for model owners."""
    subs = Subscription.objects.select_related("application", "alias", "tenant", "requested_by")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return subs.none()
    if user.is_platform_admin:
        return subs
    if PlatformRole.MODEL_OWNER in user.platform_roles:
        return subs.filter(alias__owners=user)
    return subs.filter(alias__owners=user, alias__kind=AliasKind.PROMPT)  # a prompt API's owners


def subscriptions_visible_to(user) -> QuerySet[Subscription]:
    """The user's teams' subscriptions and those they approve."""
    decidable = subscriptions_decidable_by(user).values("pk")
    return Subscription.objects.filter(Q(pk__in=Subscription.objects.for_user(user).values("pk"))
                                       | Q(pk__in=decidable)).select_related(
        "application", "alias", "tenant", "requested_by")


def approval_queue(user) -> QuerySet[Subscription]:
    """Pending requests this user may decide, oldest first."""
    return subscriptions_decidable_by(user).filter(status=SubscriptionStatus.PENDING).order_by("requested_at", "pk")


def hosting_queue(user) -> QuerySet[HostingRequest]:
    """Pending dedicated-hosting requests, oldest first (platform admins only)."""
    if not getattr(user, "is_authenticated", False) or not user.is_platform_admin:
        return HostingRequest.objects.none()
    return (HostingRequest.objects.filter(status=HostingStatus.PENDING)
            .select_related("alias", "tenant", "requested_by").order_by("requested_at", "pk"))


def auto_approval_rules() -> QuerySet[AutoApprovalRule]:
    return AutoApprovalRule.objects.filter(is_active=True).select_related("alias", "created_by")


# --- people ---------------------------------------------------------------------------------------

def access_tokens_of(user) -> QuerySet[PersonalAccessToken]:
    return PersonalAccessToken.objects.filter(user=user)


def access_token_by_secret(secret: str) -> PersonalAccessToken | None:
    return (PersonalAccessToken.objects.select_related("user").filter(token_hash=hash_secret(secret)).first())


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def unread_notification_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def gateway_limit_table():
    """The limits of every key the gateway knows, by level (``portal.limits.LimitTable``); five queries.

    Reloaded with the key table: both move with config version "keys".
    """
    from portal.limits import limit_table

    since = timezone.now() - REFUSED_KEYS_KEPT
    keys = list(ApiKey.objects.filter(Q(revoked_at__isnull=True) | Q(revoked_at__gte=since))
                .values_list("pk", "application_id"))
    subscriptions = Subscription.objects.filter(
        status=SubscriptionStatus.APPROVED, application_id__in={app for _, app in keys}
    ).values_list("pk", "application_id", "alias__name")
    return limit_table(key_ids=[k for k, _ in keys], application_ids={app for _, app in keys},
                       subscriptions=list(subscriptions))
