"""Usage, cost and budgets: the one owner of the cost formula and of budget enforcement.

Usage (per turn, summed per session) is a JSON document::

    {"llm": {"openai:gpt-4o-mini": {"prompt_tokens": 120, "cached_tokens": 64,
                                    "completion_tokens": 30}},
     "tts": {"openai:tts-1": {"characters": 42}},
     "stt": {"deepgram:nova-3": {"audio_seconds": 3.2}}}

``prompt_tokens`` includes the cached ones (as OpenAI reports them). The cost of a usage
document plus the session's minutes is (prices in US dollars per million units, see
``ModelPrice``; ``*`` is a provider's fallback model)::

    cost = Σ_llm ((prompt − cached)·P_prompt + cached·P_cached + completion·P_completion) / 1e6
         + Σ_tts characters·P_tts / 1e6 + Σ_stt audio_seconds·P_stt / 1e6
         + session_minutes·P_platform_minute / 1e6

Budgets: each open session holds a reservation (``Budget.session_reserve_usd``) until it
closes; the amount *committed* in a month is the actual cost of closed sessions plus
``max(cost so far, reservation)`` of open ones. A new session is admitted only if
``committed + reservation <= limit``, checked while ``session_create`` holds the tenant's row
lock (the same lock as the quotas), so concurrent creations are serialised and admit exactly
what fits. A live session ends after the turn at which the *actual* spend reaches the limit.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from sessions_app.models import (
    OPEN_STATUSES,
    Budget,
    BudgetAlert,
    ModelPrice,
    PriceMetric,
    Session,
    Turn,
)
from tenants.actors import Actor, actor_or_system
from tenants.models import Tenant, WebhookEvent

logger = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
CENT_FRACTION = Decimal("0.000001")
ZERO = Decimal(0)
PLATFORM_PROVIDER = "platform"
ANY_MODEL = "*"

PriceTable = dict[tuple[str, str, str], Decimal]


# --- Usage documents ---


def usage_key(provider: str | None, model: str | None) -> str:
    return f"{(provider or 'unknown').lower()}:{model or ANY_MODEL}"


def usage_merge(total: dict[str, Any], more: dict[str, Any] | None) -> dict[str, Any]:
    """Add ``more`` into ``total`` (both usage documents); returns ``total``."""
    for kind, models in (more or {}).items():
        if not isinstance(models, dict):
            continue
        into = total.setdefault(kind, {})
        for key, counts in models.items():
            slot = into.setdefault(key, {})
            for name, value in counts.items():
                slot[name] = round(slot.get(name, 0) + value, 3)
    return total


# --- Prices and the cost formula ---


def price_table(*, tenant_id: int | None, on: dt.date) -> PriceTable:
    """Prices in force on ``on``: the latest row per (provider, model, metric), the tenant's
    own row winning over the platform's."""
    rows = (
        ModelPrice.objects.filter(effective_from__lte=on)
        .filter(Q(tenant__isnull=True) | Q(tenant_id=tenant_id))
        .order_by("effective_from")
        .values_list("tenant_id", "provider", "model", "metric", "usd_per_million")
    )
    platform: PriceTable = {}
    own: PriceTable = {}
    for owner, provider, model, metric, price in rows:
        (own if owner is not None else platform)[(provider.lower(), model, metric)] = price
    return {**platform, **own}


def _price(prices: PriceTable, key: str, metric: str) -> Decimal:
    provider, _, model = key.partition(":")
    found = prices.get((provider, model, metric))
    if found is None:
        found = prices.get((provider, ANY_MODEL, metric))
    return found if found is not None else ZERO


def usage_cost(
    usage: dict[str, Any], *, prices: PriceTable, session_minutes: float = 0.0
) -> Decimal:
    """US dollars for ``usage`` and ``session_minutes`` (the formula in the module doc)."""
    total = ZERO
    for key, counts in (usage.get("llm") or {}).items():
        prompt = Decimal(str(counts.get("prompt_tokens", 0)))
        cached = min(prompt, Decimal(str(counts.get("cached_tokens", 0))))
        completion = Decimal(str(counts.get("completion_tokens", 0)))
        total += (prompt - cached) * _price(prices, key, PriceMetric.PROMPT_TOKENS)
        total += cached * _price(prices, key, PriceMetric.CACHED_TOKENS)
        total += completion * _price(prices, key, PriceMetric.COMPLETION_TOKENS)
    for key, counts in (usage.get("tts") or {}).items():
        characters = Decimal(str(counts.get("characters", 0)))
        total += characters * _price(prices, key, PriceMetric.TTS_CHARACTERS)
    for key, counts in (usage.get("stt") or {}).items():
        seconds = Decimal(str(counts.get("audio_seconds", 0)))
        total += seconds * _price(prices, key, PriceMetric.STT_SECONDS)
    minute_key = usage_key(PLATFORM_PROVIDER, ANY_MODEL)
    total += Decimal(str(session_minutes)) * _price(prices, minute_key, PriceMetric.SESSION_MINUTES)
    return (total / MILLION).quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)


def _session_prices(session: Session) -> PriceTable:
    return price_table(tenant_id=session.tenant_id, on=session.created_at.date())


def session_minutes(session: Session, now: dt.datetime | None = None) -> float:
    """Minutes from creation to the end (or to now while the session is open)."""
    until = session.ended_at or now or timezone.now()
    return round(max(0.0, (until - session.created_at).total_seconds()) / 60, 3)


def session_usage(session: Session) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for usage in Turn.objects.filter(session=session).values_list("usage", flat=True):
        usage_merge(total, usage)
    return total


# --- Writes: turn usage, session cost ---


def turn_usage_add(*, turn: Turn, usage: dict[str, Any]) -> Decimal:
    """Store a recorded turn's usage and cost, refresh the session's cost, send threshold
    notices; returns the session's cost so far."""
    session = turn.session
    cost = usage_cost(usage, prices=_session_prices(session))
    with transaction.atomic():
        Turn.objects.filter(pk=turn.pk).update(usage=usage, cost_usd=cost)
        total = session_cost_refresh(session=session)
        budget_thresholds_check(session=session)
    turn.usage, turn.cost_usd = usage, cost
    return total


def session_cost_refresh(*, session: Session) -> Decimal:
    """Recompute the session's cost from its turns and minutes (idempotent)."""
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        cost = usage_cost(
            session_usage(locked),
            prices=_session_prices(locked),
            session_minutes=session_minutes(locked),
        )
        Session.objects.filter(pk=session.pk).update(cost_usd=cost)
    session.cost_usd = cost
    return cost


# --- Budgets ---


@dataclass(frozen=True)
class BudgetExceeded(Exception):
    """A new session would not fit in a monthly budget (HTTP 402 ``budget_exceeded``)."""

    scope: str
    limit_usd: Decimal
    committed_usd: Decimal
    reset_at: dt.datetime

    def __str__(self) -> str:
        return (
            f"The {self.scope} monthly budget of ${self.limit_usd} is spent "
            f"(${self.committed_usd} committed); sessions resume on {self.reset_at.date()}."
        )


def _month(
    tenant: Tenant, now: dt.datetime | None = None
) -> tuple[dt.date, dt.datetime, dt.datetime]:
    from sessions_app.services import month_period

    first, reset_at = month_period(tenant, now)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zoneinfo.ZoneInfo(tenant.time_zone))
    return first, start, reset_at


def _month_sessions(budget: Budget, start: dt.datetime) -> Any:
    sessions = Session.objects.filter(tenant_id=budget.tenant_id, created_at__gte=start)
    if budget.agent_id is not None:
        sessions = sessions.filter(agent_id=budget.agent_id)
    return sessions


def _committed(budget: Budget, start: dt.datetime) -> Decimal:
    money = DecimalField(max_digits=14, decimal_places=6)
    held = Case(
        When(status__in=OPEN_STATUSES, then=Greatest(F("cost_usd"), F("reserved_usd"))),
        default=F("cost_usd"),
        output_field=money,
    )
    total = _month_sessions(budget, start).aggregate(total=Sum(held, default=Value(ZERO)))
    return total["total"]


def _spent(budget: Budget, start: dt.datetime) -> Decimal:
    total = _month_sessions(budget, start).aggregate(total=Sum("cost_usd", default=Value(ZERO)))
    return total["total"]


def _budgets_for(tenant_id: int, agent_id: int | None) -> list[Budget]:
    scope = Q(agent__isnull=True)
    if agent_id is not None:
        scope |= Q(agent_id=agent_id)
    return list(Budget.objects.filter(tenant_id=tenant_id).filter(scope).select_related("agent"))


def budget_enforce(*, tenant: Tenant, agent_id: int | None) -> Decimal:
    """The reservation for a new session, or ``BudgetExceeded``.

    Call it while holding the tenant's row lock (``session_create`` does), so the committed
    amount cannot change between this check and the new session's insert.
    """
    budgets = _budgets_for(tenant.pk, agent_id)
    if not budgets:
        return ZERO
    _, start, reset_at = _month(tenant)
    reserve = ZERO
    for budget in budgets:
        committed = _committed(budget, start)
        if committed + budget.session_reserve_usd > budget.monthly_limit_usd:
            scope = f"agent {budget.agent.agent_id}" if budget.agent_id else "tenant"
            raise BudgetExceeded(scope, budget.monthly_limit_usd, committed, reset_at)
        reserve = max(reserve, budget.session_reserve_usd)
    return reserve


def budget_exhausted(*, session: Session) -> str | None:
    """The closing line if a budget covering this live session is spent, else None."""
    tenant = Tenant.objects.get(pk=session.tenant_id)
    _, start, _ = _month(tenant)
    for budget in _budgets_for(session.tenant_id, session.agent_id):
        if _spent(budget, start) >= budget.monthly_limit_usd:
            return budget.closing_line
    return None


def budget_thresholds_check(*, session: Session) -> list[BudgetAlert]:
    """Record (once per budget and month) and announce budgets past their threshold."""
    tenant = Tenant.objects.get(pk=session.tenant_id)
    period, start, _ = _month(tenant)
    sent: list[BudgetAlert] = []
    for budget in _budgets_for(session.tenant_id, session.agent_id):
        spent = _spent(budget, start)
        if spent * 100 < budget.monthly_limit_usd * budget.threshold_percent:
            continue
        try:
            with transaction.atomic():
                alert, created = BudgetAlert.objects.get_or_create(
                    budget=budget, period_start=period, defaults={"spent_usd": spent}
                )
        except IntegrityError:  # a concurrent turn recorded it first
            continue
        if created:
            sent.append(alert)
            _announce_threshold(budget, alert)
    return sent


def _announce_threshold(budget: Budget, alert: BudgetAlert) -> None:
    from sessions_app.webhooks.services import webhook_event_emit

    agent_slug = budget.agent.agent_id if budget.agent_id else None
    data = {
        "agent_id": agent_slug,
        "period": alert.period_start.strftime("%Y-%m"),
        "monthly_limit_usd": str(budget.monthly_limit_usd),
        "threshold_percent": budget.threshold_percent,
        "spent_usd": str(alert.spent_usd),
    }

    def emit() -> None:
        try:
            webhook_event_emit(
                tenant_id=budget.tenant_id,
                event=WebhookEvent.BUDGET_THRESHOLD,
                data=data,
                agent_id=agent_slug,
            )
        except Exception:  # a webhook problem never breaks turn storage
            logger.exception("could not announce the budget threshold of %s", budget.pk)

    transaction.on_commit(emit)


# --- Reads ---


def session_cost_report(session: Session) -> dict[str, Any]:
    """The report's ``cost`` section and the usage it was computed from."""
    usage = session_usage(session)
    minutes = session_minutes(session)
    return {
        "usage": {**usage, "session_minutes": minutes},
        "cost": {
            "currency": "USD",
            "total": str(
                usage_cost(usage, prices=_session_prices(session), session_minutes=minutes)
            ),
            "per_turn": [
                {"turn": index, "total": str(cost)}
                for index, cost in Turn.objects.filter(session=session)
                .order_by("index")
                .values_list("index", "cost_usd")
            ],
        },
    }


def tenant_spend(*, tenant: Tenant, now: dt.datetime | None = None) -> dict[str, Any]:
    """This month's spend of the tenant and its budgets (for ``/tenants/me`` and the admin)."""
    period, start, reset_at = _month(tenant, now)
    spent = Session.objects.filter(tenant=tenant, created_at__gte=start).aggregate(
        total=Sum("cost_usd", default=Value(ZERO))
    )["total"]
    budgets = [
        {
            "agent_id": budget.agent.agent_id if budget.agent_id else None,
            "monthly_limit_usd": _usd(budget.monthly_limit_usd),
            "threshold_percent": budget.threshold_percent,
            "spent_usd": str(_spent(budget, start)),
            "committed_usd": str(_committed(budget, start)),
        }
        for budget in _budgets_for(tenant.pk, None)
        + list(Budget.objects.filter(tenant=tenant, agent__isnull=False).select_related("agent"))
    ]
    return {
        "period": period.strftime("%Y-%m"),
        "resets_at": reset_at.isoformat(),
        "currency": "USD",
        "spent_usd": str(spent),
        "budgets": budgets,
    }


# --- Admin writes: prices and budgets (validated by the admin form, audited here) ---


def _usd(amount: Decimal | int | str) -> str:
    return str(Decimal(amount).quantize(CENT_FRACTION))


def _price_details(price: ModelPrice) -> dict[str, Any]:
    return {
        "provider": price.provider,
        "model": price.model,
        "metric": price.metric,
        "usd_per_million": _usd(price.usd_per_million),
        "effective_from": price.effective_from.isoformat(),
    }


def _audit_price(price: ModelPrice, action: str, actor: Actor | None) -> None:
    """A tenant's price row goes to that tenant's audit log; a platform row (no tenant, only
    platform operators write it) to the log, with the actor (the admin also keeps a LogEntry)."""
    details = _price_details(price)
    if price.tenant_id is None:
        logger.info(
            "platform price %s by %s: %s",
            action,
            actor_or_system(actor).label,
            details,
        )
        return
    from tenants.services import audit_record

    audit_record(
        tenant=price.tenant,
        action=action,
        target=f"{price.provider}:{price.model}:{price.metric}",
        actor=actor,
        details=details,
    )


def price_save(*, price: ModelPrice, actor: Actor | None = None) -> ModelPrice:
    """Create or change a price row; new costs use it from ``effective_from`` on (costs
    already stored are not recomputed)."""
    action = "price.created" if price.pk is None else "price.changed"
    with transaction.atomic():
        price.save()
        _audit_price(price, action, actor)
    return price


def price_delete(*, price: ModelPrice, actor: Actor | None = None) -> None:
    with transaction.atomic():
        _audit_price(price, "price.deleted", actor)
        price.delete()


def _audit_budget(budget: Budget, action: str, actor: Actor | None) -> None:
    from tenants.services import audit_record

    audit_record(
        tenant=budget.tenant,
        action=action,
        target=budget.agent.agent_id if budget.agent_id else "tenant",
        actor=actor,
        details={
            "agent_id": budget.agent.agent_id if budget.agent_id else None,
            "monthly_limit_usd": _usd(budget.monthly_limit_usd),
            "threshold_percent": budget.threshold_percent,
            "session_reserve_usd": _usd(budget.session_reserve_usd),
            "closing_line": budget.closing_line,
        },
    )


def budget_save(*, budget: Budget, actor: Actor | None = None) -> Budget:
    """Create or change a monthly budget; the next session creation and the next finished
    turn are checked against it (``budget_enforce``, ``budget_exhausted``)."""
    action = "budget.created" if budget.pk is None else "budget.changed"
    with transaction.atomic():
        budget.save()
        _audit_budget(budget, action, actor)
    return budget


def budget_delete(*, budget: Budget, actor: Actor | None = None) -> None:
    with transaction.atomic():
        _audit_budget(budget, "budget.deleted", actor)
        budget.delete()
