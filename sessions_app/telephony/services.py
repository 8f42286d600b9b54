"""Writes for telephony: phone numbers, outbound trunks, calls and campaigns.

Provisioning is queued on commit and done by thin Celery tasks calling the ``*_provision``
functions here, which are idempotent. Calls are sessions (quota-checked by ``session_create``)
with a ``PhoneCall`` carrying the phone side and its status history.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents_config.contracts import ContractError
from agents_config.models import Agent, AgentVersion
from sessions_app.models import OPEN_STATUSES, Session, SessionStatus
from sessions_app.services import (
    QuotaExceeded,
    SessionRejected,
    session_create,
    session_end,
    session_fail,
    session_provision,
    session_transition,
)
from sessions_app.telephony import sip
from sessions_app.telephony.models import (
    FINAL_CALL_STATUSES,
    CallDirection,
    CallStatus,
    CallStatusChange,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    OutboundTrunk,
    PhoneCall,
    PhoneNumber,
    ProvisioningStatus,
    RecipientStatus,
    VoicemailAction,
    validate_e164,
)
from tenants.actors import Actor
from tenants.models import Tenant
from tenants.secrets import decrypt_secret, encrypt_secret
from tenants.services import audit_record

INBOUND_ROOM_PREFIX = "va-call-"
CALLER_IDENTITY_PREFIX = "sip-"


def _e164(field: str, value: Any) -> str:
    try:
        validate_e164(value)
    except ValidationError as exc:
        raise ContractError({field: [str(m) for m in exc.messages]}) from None
    return value


# --- Phone numbers (inbound) ---


def _check_mapping(tenant: Tenant, agent: Agent, pinned_version: AgentVersion | None) -> None:
    if agent.tenant_id != tenant.pk:
        raise ContractError({"agent_id": ["No such agent in this tenant."]})
    if pinned_version is not None and pinned_version.agent_id != agent.pk:
        raise ContractError({"pinned_version": ["Not a version of this agent."]})


def phone_number_create(
    *,
    tenant: Tenant,
    number: str,
    agent: Agent,
    pinned_version: AgentVersion | None = None,
    over_quota_message: str = "",
    actor: Actor | None = None,
) -> PhoneNumber:
    """Register a number for an agent; the LiveKit trunk and dispatch rule follow on commit."""
    from sessions_app.telephony.tasks import provision_phone_number

    _e164("number", number)
    _check_mapping(tenant, agent, pinned_version)
    with transaction.atomic():
        if PhoneNumber.objects.filter(number=number).exists():
            raise ContractError({"number": ["This number is already registered."]})
        phone = PhoneNumber(
            tenant=tenant, number=number, agent=agent, pinned_version=pinned_version
        )
        if over_quota_message:
            phone.over_quota_message = over_quota_message
        phone.save()
        audit_record(
            tenant=tenant,
            action="phone_number.create",
            target=number,
            actor=actor,
            details={"agent_id": agent.agent_id},
        )
        transaction.on_commit(lambda: provision_phone_number.delay(phone.pk))
    return phone


def phone_number_update(
    *,
    phone: PhoneNumber,
    agent: Agent | None = None,
    pinned_version: AgentVersion | str | None = "unchanged",
    over_quota_message: str | None = None,
    actor: Actor | None = None,
) -> PhoneNumber:
    """Remap a number (agent, pinned version, over-quota message); re-provisioned on commit."""
    from sessions_app.telephony.tasks import provision_phone_number

    if agent is not None:
        phone.agent = agent
        if pinned_version == "unchanged":
            pinned_version = None  # a pinned version belongs to the previous agent
    if pinned_version != "unchanged":
        phone.pinned_version = pinned_version  # type: ignore[assignment]
    if over_quota_message is not None:
        phone.over_quota_message = over_quota_message or phone.over_quota_message
    _check_mapping(phone.tenant, phone.agent, phone.pinned_version)
    with transaction.atomic():
        phone.provisioning_status = ProvisioningStatus.PENDING
        phone.save()
        audit_record(
            tenant=phone.tenant,
            action="phone_number.update",
            target=phone.number,
            actor=actor,
            details={"agent_id": phone.agent.agent_id},
        )
        transaction.on_commit(lambda: provision_phone_number.delay(phone.pk))
    return phone


def phone_number_delete(
    *,
    phone: PhoneNumber,
    actor: Actor | None = None,
) -> None:
    """Remove a number; its LiveKit dispatch rule and trunk are deleted on commit (see
    ``on_phone_number_deleted``, which also covers numbers deleted with their agent)."""
    with transaction.atomic():
        audit_record(
            tenant=phone.tenant,
            action="phone_number.delete",
            target=phone.number,
            actor=actor,
        )
        phone.delete()


def on_phone_number_deleted(*, instance: PhoneNumber, **_: Any) -> None:
    """post_delete: however a number goes (API, admin, its agent or tenant deleted), its
    LiveKit dispatch rule and trunk are deleted after commit."""
    from sessions_app.telephony.tasks import deprovision_phone_number

    trunk_id, rule_id = instance.livekit_trunk_id, instance.livekit_dispatch_rule_id
    if trunk_id or rule_id:
        transaction.on_commit(lambda: deprovision_phone_number.delay(trunk_id, rule_id))


def phone_number_job_metadata(phone: PhoneNumber) -> dict[str, Any]:
    """Dispatch metadata for an inbound call: how the worker finds the number's mapping."""
    return {
        "kind": "inbound_call",
        "phone_number_id": phone.pk,
        "tenant_id": phone.tenant.slug,
        "agent_id": phone.agent.agent_id,
    }


def phone_number_provision(*, phone: PhoneNumber) -> PhoneNumber:
    """Create or update the number's inbound trunk and dispatch rule; store their ids."""
    ids = sip.ensure_inbound(
        sip.InboundSpec(
            number=phone.number,
            name=f"va-{phone.tenant.slug}-{phone.number}",
            room_prefix=INBOUND_ROOM_PREFIX,
            agent_name=settings.LIVEKIT_AGENT_NAME,
            job_metadata=phone_number_job_metadata(phone),
        ),
        trunk_id=phone.livekit_trunk_id,
        rule_id=phone.livekit_dispatch_rule_id,
    )
    PhoneNumber.objects.filter(pk=phone.pk).update(
        livekit_trunk_id=ids.trunk_id,
        livekit_dispatch_rule_id=ids.dispatch_rule_id,
        provisioning_status=ProvisioningStatus.PROVISIONED,
        provisioning_error="",
    )
    phone.refresh_from_db()
    return phone


def provisioning_failed(obj: PhoneNumber | OutboundTrunk, error: str) -> None:
    type(obj).objects.filter(pk=obj.pk).update(
        provisioning_status=ProvisioningStatus.FAILED, provisioning_error=error[:2000]
    )


# --- Inbound calls (called by the worker when the SIP participant joins) ---


@dataclass(frozen=True)
class InboundCallDecision:
    """Either a session for the call, or a message to say before hanging up."""

    session: Session | None
    reject_message: str = ""


def _digits(number: str) -> str:
    """A number's digits only (providers differ on ``+`` and spacing in SIP headers)."""
    return "".join(ch for ch in number if ch.isdigit())


def _call_record(call: PhoneCall, to_status: str, detail: str = "") -> None:
    CallStatusChange.objects.create(
        call=call, from_status=call.call_status, to_status=to_status, detail=detail[:2000]
    )
    call.call_status = to_status
    call.save(update_fields=["call_status", "updated_at"])


def inbound_call_start(
    *,
    phone_number_id: int,
    caller_number: str,
    trunk_number: str,
    room_name: str,
    participant_identity: str = "",
) -> InboundCallDecision:
    """Start the session of an inbound call, under the tenant's quotas.

    The caller's number is the session's ``user_id`` and ``user_details.phone``. Over quota,
    nothing is counted and the number's configured message is returned for the worker to say.
    Idempotent per room: a job restarted for the same call gets the same session.
    ``participant_identity`` is the SIP participant's identity in the room (what a transfer
    names); LiveKit chooses it for inbound calls.
    """
    phone = (
        PhoneNumber.objects.select_related("tenant", "agent", "pinned_version")
        .filter(pk=phone_number_id)
        .first()
    )
    if phone is None or (trunk_number and _digits(trunk_number) != _digits(phone.number)):
        return InboundCallDecision(None, "Sorry, this number is not in service. Goodbye.")
    existing = Session.objects.filter(tenant=phone.tenant, room_name=room_name).first()
    if existing is not None:
        return InboundCallDecision(existing)
    caller = caller_number or "anonymous"
    try:
        with transaction.atomic():
            session = session_create(
                tenant=phone.tenant,
                agent=phone.agent,
                user_id=caller,
                user_details={"phone": caller, "called_number": phone.number},
                room_name=room_name,
                provision=False,
                pinned_version=phone.pinned_version,
            )
            call = PhoneCall.objects.create(
                session=session,
                tenant=phone.tenant,
                direction=CallDirection.INBOUND,
                from_number=caller,
                to_number=phone.number,
                participant_identity=participant_identity or f"{CALLER_IDENTITY_PREFIX}{caller}",
            )
            _call_record(call, CallStatus.ANSWERED, "inbound call")
            session_transition(session=session, to_status=SessionStatus.ACTIVE, reason="call")
    except (QuotaExceeded, SessionRejected) as exc:
        return InboundCallDecision(None, phone.over_quota_message or str(exc))
    return InboundCallDecision(session)


def call_ended(*, session: Session, reason: str) -> bool:
    """The call ended (agent hung up, caller hung up...): reason on the call and the session."""
    with transaction.atomic():
        call = PhoneCall.objects.select_for_update().filter(session=session).first()
        if call is not None:
            call.end_reason = reason[:200]
            call.save(update_fields=["end_reason", "updated_at"])
            if call.call_status == CallStatus.ANSWERED:
                _call_record(call, CallStatus.COMPLETED, reason)
        return session_end(session=session, reason=reason)


def call_transfer(*, call: PhoneCall, to: str) -> None:
    """Hand an answered call over to another number (the agent leaves the call)."""
    _e164("to", to)
    if call.call_status != CallStatus.ANSWERED:
        raise SessionRejected(
            f"Only an answered call can be transferred (it is {call.call_status})."
        )
    sip.transfer(
        room_name=call.session.room_name,
        identity=call.participant_identity,
        transfer_to=f"tel:{to}",
    )
    with transaction.atomic():
        call.end_reason = f"transferred to {to}"
        call.save(update_fields=["end_reason", "updated_at"])
        _call_record(call, CallStatus.COMPLETED, f"transferred to {to}")


def call_voicemail(*, session: Session) -> bool:
    """The agent reached an answering machine: the call is ``voicemail`` and its session ends
    (a campaign recipient's outcome becomes ``voicemail``). False if not an answered call."""
    with transaction.atomic():
        call = PhoneCall.objects.select_for_update().filter(session=session).first()
        if call is None or call.call_status != CallStatus.ANSWERED:
            return False
        call.end_reason = "voicemail"
        call.save(update_fields=["end_reason", "updated_at"])
        _call_record(call, CallStatus.VOICEMAIL, "answering machine detected")
        recipient_call_result(session=session, call_status=CallStatus.VOICEMAIL)
        session_end(session=session, reason="voicemail")
    return True


# --- Outbound trunk ---


def outbound_trunk_set(
    *,
    tenant: Tenant,
    address: str,
    numbers: list[str],
    transport: str = "auto",
    auth_username: str = "",
    auth_password: str | None = None,
    actor: Actor | None = None,
) -> OutboundTrunk:
    """Create or replace the tenant's outbound trunk; provisioned on commit."""
    from sessions_app.telephony.tasks import provision_outbound_trunk

    if not numbers:
        raise ContractError({"numbers": ["At least one caller id is required."]})
    for index, number in enumerate(numbers):
        _e164(f"numbers.{index}", number)
    with transaction.atomic():
        trunk = OutboundTrunk.objects.select_for_update().filter(tenant=tenant).first()
        trunk = trunk or OutboundTrunk(tenant=tenant)
        trunk.address, trunk.numbers, trunk.transport = address, list(numbers), transport
        trunk.auth_username = auth_username
        if auth_password is not None:
            trunk.auth_password_encrypted = encrypt_secret(auth_password) if auth_password else ""
        trunk.provisioning_status = ProvisioningStatus.PENDING
        trunk.save()
        audit_record(
            tenant=tenant,
            action="outbound_trunk.set",
            target=address,
            actor=actor,
            details={"numbers": list(numbers)},
        )
        transaction.on_commit(lambda: provision_outbound_trunk.delay(trunk.pk))
    return trunk


def outbound_trunk_provision(*, trunk: OutboundTrunk) -> OutboundTrunk:
    trunk_id = sip.ensure_outbound_trunk(
        sip.OutboundSpec(
            name=f"va-{trunk.tenant.slug}-outbound",
            address=trunk.address,
            numbers=list(trunk.numbers),
            transport=trunk.transport,
            auth_username=trunk.auth_username,
            auth_password=(
                decrypt_secret(trunk.auth_password_encrypted)
                if trunk.auth_password_encrypted
                else ""
            ),
        ),
        trunk_id=trunk.livekit_trunk_id,
    )
    OutboundTrunk.objects.filter(pk=trunk.pk).update(
        livekit_trunk_id=trunk_id,
        provisioning_status=ProvisioningStatus.PROVISIONED,
        provisioning_error="",
    )
    trunk.refresh_from_db()
    return trunk


# --- Outbound calls ---


def _caller_id(tenant: Tenant, from_number: str) -> tuple[OutboundTrunk, str]:
    trunk = OutboundTrunk.objects.filter(tenant=tenant).first()
    if trunk is None:
        raise SessionRejected("Set up an outbound trunk first (/api/v1/outbound-trunk).")
    allowed = set(trunk.numbers) | set(
        PhoneNumber.objects.filter(tenant=tenant).values_list("number", flat=True)
    )
    chosen = from_number or trunk.numbers[0]
    if chosen not in allowed:
        raise ContractError({"from_number": ["Not one of the tenant's numbers."]})
    return trunk, chosen


def call_place(
    *,
    tenant: Tenant,
    agent: Agent,
    to: str,
    from_number: str = "",
    user_details: Any = None,
    overrides: Any = None,
    voicemail_action: str = VoicemailAction.HANG_UP,
    voicemail_message: str = "",
) -> PhoneCall:
    """Start an outbound call: a quota-checked session, then dialling queued on commit.

    ``voicemail_action`` says what the agent does when an answering machine picks up.
    """
    from sessions_app.telephony.tasks import dial_call

    _e164("to", to)
    if from_number:
        _e164("from_number", from_number)
    _, caller_id = _caller_id(tenant, from_number)
    details = dict(user_details or {}) if isinstance(user_details, dict) else user_details
    if isinstance(details, dict):
        details["phone"] = to
    with transaction.atomic():
        session = session_create(
            tenant=tenant,
            agent=agent,
            user_id=to,
            user_details=details,
            overrides=overrides,
            provision=False,
        )
        call = PhoneCall.objects.create(
            session=session,
            tenant=tenant,
            direction=CallDirection.OUTBOUND,
            from_number=caller_id,
            to_number=to,
            participant_identity=f"{CALLER_IDENTITY_PREFIX}{to}",
            voicemail_action=voicemail_action,
            voicemail_message=voicemail_message,
        )
        CallStatusChange.objects.create(call=call, to_status=CallStatus.QUEUED)
        transaction.on_commit(lambda: dial_call.delay(call.pk))
    return call


def call_dial(*, call: PhoneCall) -> str:
    """Provision the room (agent dispatched), dial and record the outcome; idempotent.

    Raises ``LiveKitError`` for transient failures (the task retries). A call that is not
    answered ends its session with the outcome as reason.
    """
    session = call.session
    if call.call_status != CallStatus.QUEUED and call.call_status != CallStatus.RINGING:
        return call.call_status
    if session.status == SessionStatus.PENDING:
        session_provision(session=session)
    if session.status not in OPEN_STATUSES:
        return call.call_status
    trunk = OutboundTrunk.objects.filter(tenant=call.tenant).first()
    if trunk is None or not trunk.livekit_trunk_id:
        call_outcome(call=call, status=CallStatus.FAILED, detail="outbound trunk not provisioned")
        return CallStatus.FAILED
    if call.call_status == CallStatus.QUEUED:
        _call_record(call, CallStatus.RINGING)
    outcome = sip.dial(
        trunk_id=trunk.livekit_trunk_id,
        room_name=session.room_name,
        to_number=call.to_number,
        from_number=call.from_number,
        identity=call.participant_identity,
        ringing_timeout_seconds=settings.TELEPHONY_RINGING_TIMEOUT_SECONDS,
        attributes={"session_id": str(session.pk)},
    )
    call.sip_call_id = outcome.sip_call_id
    call.sip_status_code = outcome.sip_status_code
    call.save(update_fields=["sip_call_id", "sip_status_code", "updated_at"])
    call_outcome(call=call, status=outcome.status, detail=outcome.detail)
    return outcome.status


def call_outcome(*, call: PhoneCall, status: str, detail: str = "") -> None:
    """Record how dialling ended; an unanswered call ends (or fails) its session."""
    with transaction.atomic():
        _call_record(call, status, detail)
        if status == CallStatus.FAILED:
            session_fail(session=call.session, reason=f"call failed: {detail}"[:2000])
        elif status != CallStatus.ANSWERED:
            call.end_reason = status
            call.save(update_fields=["end_reason", "updated_at"])
            session_end(session=call.session, reason=f"call {status}")
        recipient_call_result(session=call.session, call_status=status)


# --- Campaigns ---


def campaign_create(
    *,
    tenant: Tenant,
    agent: Agent,
    name: str,
    recipients: list[dict[str, Any]],
    actor: Actor | None = None,
    **settings_fields: Any,
) -> Campaign:
    """A draft campaign with its recipients (``[{"phone": ..., "variables": {...}}]``)."""
    if agent.tenant_id != tenant.pk:
        raise ContractError({"agent_id": ["No such agent in this tenant."]})
    if settings_fields.get("from_number"):
        _e164("from_number", settings_fields["from_number"])
    with transaction.atomic():
        campaign = Campaign.objects.create(tenant=tenant, agent=agent, name=name, **settings_fields)
        campaign_add_recipients(campaign=campaign, recipients=recipients)
        audit_record(
            tenant=tenant,
            action="campaign.create",
            target=name,
            actor=actor,
            details={"recipients": len(recipients)},
        )
    return campaign


def campaign_add_recipients(*, campaign: Campaign, recipients: list[dict[str, Any]]) -> int:
    """Add recipients (duplicates of a number already listed are skipped); field errors name
    the row (``recipients.3.phone``)."""
    errors: dict[str, list[str]] = {}
    rows: list[CampaignRecipient] = []
    seen = set(campaign.recipients.values_list("phone", flat=True))
    for index, item in enumerate(recipients):
        phone = (item or {}).get("phone", "")
        variables = (item or {}).get("variables") or {}
        try:
            validate_e164(phone)
        except ValidationError as exc:
            errors[f"recipients.{index}.phone"] = [str(m) for m in exc.messages]
            continue
        if not isinstance(variables, dict):
            errors[f"recipients.{index}.variables"] = ["Expected a JSON object."]
            continue
        if phone in seen:
            continue
        seen.add(phone)
        rows.append(CampaignRecipient(campaign=campaign, phone=phone, variables=variables))
    if errors:
        raise ContractError(errors)
    CampaignRecipient.objects.bulk_create(rows)
    return len(rows)


_CONTROL: dict[str, tuple[tuple[str, ...], str]] = {
    "start": ((CampaignStatus.DRAFT,), CampaignStatus.RUNNING),
    "pause": ((CampaignStatus.RUNNING,), CampaignStatus.PAUSED),
    "resume": ((CampaignStatus.PAUSED,), CampaignStatus.RUNNING),
    "cancel": (
        (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED),
        CampaignStatus.CANCELLED,
    ),
}


def campaign_control(
    *,
    campaign: Campaign,
    action: str,
    actor: Actor | None = None,
) -> bool:
    """start / pause / resume / cancel; False if the current status does not allow it.

    Pausing stops new calls (calls in progress go on); cancelling also cancels every recipient
    not yet called.
    """
    allowed_from, to_status = _CONTROL[action]
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.status not in allowed_from:
            return False
        Campaign.objects.filter(pk=campaign.pk).update(status=to_status)
        if to_status == CampaignStatus.CANCELLED:
            campaign.recipients.filter(status=RecipientStatus.PENDING).update(
                status=RecipientStatus.CANCELLED
            )
        audit_record(
            tenant=campaign.tenant,
            action=f"campaign.{action}",
            target=campaign.name,
            actor=actor,
        )
    campaign.status = to_status
    return True


def in_calling_window(campaign: Campaign, now: dt.datetime) -> bool:
    """Is ``now`` inside the campaign's window, in the tenant's time zone?"""
    local = now.astimezone(zoneinfo.ZoneInfo(campaign.tenant.time_zone))
    if local.weekday() not in (campaign.window_weekdays or []):
        return False
    start, end = campaign.window_start, campaign.window_end
    if isinstance(start, str):
        start = dt.time.fromisoformat(start)
    if isinstance(end, str):
        end = dt.time.fromisoformat(end)
    return start <= local.time() < end


def campaign_tick(*, campaign: Campaign, now: dt.datetime | None = None) -> int:
    """Place the campaign's due calls: inside its window, up to its concurrency cap and the
    tenant's quota; returns how many calls were placed."""
    now = now or timezone.now()
    with transaction.atomic():
        # One tick per campaign at a time: a slow tick and the next one never double-dial.
        locked = (
            Campaign.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant", "agent")
            .filter(pk=campaign.pk)
            .first()
        )
        if locked is None or locked.status != CampaignStatus.RUNNING:
            return 0
        return _campaign_place_due(locked, now)


def _campaign_place_due(campaign: Campaign, now: dt.datetime) -> int:
    recipients = campaign.recipients
    if (
        not recipients.filter(
            status__in=(RecipientStatus.PENDING, RecipientStatus.CALLING)
        ).exists()
        and not recipients.filter(
            status=RecipientStatus.ANSWERED, session__status__in=OPEN_STATUSES
        ).exists()
    ):
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
        return 0
    if not in_calling_window(campaign, now):
        return 0
    in_flight = recipients.filter(session__status__in=OPEN_STATUSES).count()
    slots = campaign.max_concurrent_calls - in_flight
    placed = 0
    due = recipients.filter(status=RecipientStatus.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    for recipient in due.order_by("next_attempt_at", "pk")[: max(slots, 0)]:
        try:
            call = call_place(
                tenant=campaign.tenant,
                agent=campaign.agent,
                to=recipient.phone,
                from_number=campaign.from_number,
                user_details={**recipient.variables, "campaign": campaign.name},
                voicemail_action=campaign.voicemail_action,
                voicemail_message=campaign.voicemail_message,
            )
        except QuotaExceeded:
            break  # the tenant's quota is full: try again on a later tick
        except (SessionRejected, ContractError):
            CampaignRecipient.objects.filter(pk=recipient.pk).update(
                status=RecipientStatus.FAILED,
                last_call_status=CallStatus.FAILED,  # e.g. no trunk
            )
            continue
        CampaignRecipient.objects.filter(pk=recipient.pk, status=RecipientStatus.PENDING).update(
            session=call.session,
            attempts=recipient.attempts + 1,
            status=RecipientStatus.CALLING,
        )
        placed += 1
    return placed


def campaigns_tick(*, now: dt.datetime | None = None) -> int:
    """Beat: tick every running campaign."""
    return sum(
        campaign_tick(campaign=c, now=now)
        for c in Campaign.objects.filter(status=CampaignStatus.RUNNING)
    )


def recipient_call_result(
    *, session: Session, call_status: str, now: dt.datetime | None = None
) -> None:
    """A campaign call finished dialling: answered, or retried after the delay (no answer,
    busy) while attempts remain, else its final outcome."""
    recipient = CampaignRecipient.objects.select_related("campaign").filter(session=session).first()
    if recipient is None or call_status not in (*FINAL_CALL_STATUSES, CallStatus.ANSWERED):
        return
    if call_status == CallStatus.COMPLETED:
        return
    campaign = recipient.campaign
    updates: dict[str, Any] = {"last_call_status": call_status}
    if call_status == CallStatus.ANSWERED:
        updates["status"] = RecipientStatus.ANSWERED
    elif call_status == CallStatus.VOICEMAIL:
        updates["status"] = RecipientStatus.VOICEMAIL
    elif call_status in (CallStatus.NO_ANSWER, CallStatus.BUSY):
        if recipient.attempts < campaign.max_attempts:
            updates["status"] = RecipientStatus.PENDING
            updates["next_attempt_at"] = (now or timezone.now()) + dt.timedelta(
                minutes=campaign.retry_delay_minutes
            )
        else:
            updates["status"] = (
                RecipientStatus.BUSY
                if call_status == CallStatus.BUSY
                else RecipientStatus.NO_ANSWER
            )
    else:
        updates["status"] = RecipientStatus.FAILED
    CampaignRecipient.objects.filter(pk=recipient.pk).update(**updates)


def on_session_status_changed(*, session_id: str, to_status: str, reason: str, **_: Any) -> None:
    """However a call's session ends (the worker's job, the API, expiry), the call records it:
    an answered call becomes ``completed`` with the reason (caller hung up, agent ended it)."""
    if to_status not in (SessionStatus.ENDED, SessionStatus.FAILED):
        return
    with transaction.atomic():
        call = PhoneCall.objects.select_for_update().filter(session_id=session_id).first()
        if call is None or call.call_status != CallStatus.ANSWERED:
            return
        call.end_reason = (call.end_reason or reason)[:200]
        call.save(update_fields=["end_reason", "updated_at"])
        _call_record(call, CallStatus.COMPLETED, reason)
