"""Celery tasks for telephony: thin wrappers that load by id, call a service and retry."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from sessions_app.livekit import LiveKitError
from sessions_app.tasks import PROVISION_MAX_RETRIES, _backoff
from sessions_app.telephony import services, sip
from sessions_app.telephony.models import CallStatus, OutboundTrunk, PhoneCall, PhoneNumber

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=PROVISION_MAX_RETRIES, acks_late=True)
def provision_phone_number(self, phone_number_id: int) -> str:
    """Create or update the number's LiveKit inbound trunk and dispatch rule (idempotent)."""
    phone = PhoneNumber.objects.select_related("tenant", "agent").filter(pk=phone_number_id).first()
    if phone is None:
        return "missing"
    return _provision(self, phone, lambda: services.phone_number_provision(phone=phone))


def _provision(task: Any, target: PhoneNumber | OutboundTrunk, provision: Any) -> str:
    """Run ``provision``; a transient LiveKit error retries with backoff, anything else (or
    the last try) is recorded on ``target`` as failed — a bad row never loops."""
    try:
        provision()
    except LiveKitError as exc:
        if exc.transient and task.request.retries < task.max_retries:
            raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from exc
        services.provisioning_failed(target, str(exc))
        return "failed"
    except Exception as exc:  # configuration errors (e.g. LiveKit not set): record, never loop
        logger.exception("provisioning %s failed", target.pk)
        services.provisioning_failed(target, f"{type(exc).__name__}: {exc}")
        return "failed"
    return "provisioned"


@shared_task(bind=True, max_retries=PROVISION_MAX_RETRIES, acks_late=True)
def deprovision_phone_number(self, trunk_id: str, rule_id: str) -> str:
    try:
        sip.delete_inbound(trunk_id=trunk_id, rule_id=rule_id)
    except LiveKitError as exc:
        if exc.transient and self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        logger.warning("could not delete SIP trunk %s / rule %s: %s", trunk_id, rule_id, exc)
        return "failed"
    return "deleted"


@shared_task(bind=True, max_retries=PROVISION_MAX_RETRIES, acks_late=True)
def provision_outbound_trunk(self, trunk_pk: int) -> str:
    trunk = OutboundTrunk.objects.select_related("tenant").filter(pk=trunk_pk).first()
    if trunk is None:
        return "missing"
    return _provision(self, trunk, lambda: services.outbound_trunk_provision(trunk=trunk))


@shared_task(bind=True, max_retries=PROVISION_MAX_RETRIES, acks_late=True)
def dial_call(self, call_pk: int) -> str:
    """Provision the call's room, dial and record the outcome; transient errors retry."""
    call = (
        PhoneCall.objects.select_related("tenant", "session__tenant", "session__agent_version")
        .filter(pk=call_pk)
        .first()
    )
    if call is None:
        return "missing"
    try:
        return services.call_dial(call=call)
    except LiveKitError as exc:
        if exc.transient and self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        services.call_outcome(call=call, status=CallStatus.FAILED, detail=str(exc))
        return CallStatus.FAILED
    except Exception as exc:  # configuration errors: fail the call, never loop
        logger.exception("dialling call %s failed", call_pk)
        services.call_outcome(call=call, status=CallStatus.FAILED, detail=f"{exc}")
        return CallStatus.FAILED


@shared_task
def tick_campaigns() -> int:
    """Beat (every minute): place each running campaign's due calls."""
    return services.campaigns_tick()
