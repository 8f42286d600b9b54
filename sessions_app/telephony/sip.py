"""The LiveKit SIP edge: inbound trunks, dispatch rules, outbound trunks and dialling.

Every call is idempotent: a stored id is updated in place; without one, LiveKit is searched
(by number or trunk) before anything is created, so a retry after a lost reply creates nothing
twice. Errors are ``LiveKitError`` (transient ones are retried by the tasks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from livekit import api
from livekit.protocol import agent_dispatch, room, sip

from sessions_app.livekit import LiveKitError, _run

# SIP response codes that mean "the callee did not pick up" and "the callee is busy".
SIP_NO_ANSWER_CODES = frozenset({408, 480, 487})
SIP_BUSY_CODES = frozenset({486, 600, 603})


@dataclass(frozen=True)
class InboundSpec:
    number: str
    name: str
    room_prefix: str
    agent_name: str
    job_metadata: dict[str, Any]


@dataclass(frozen=True)
class InboundIds:
    trunk_id: str
    dispatch_rule_id: str


def _inbound_trunk(spec: InboundSpec) -> sip.SIPInboundTrunkInfo:
    return sip.SIPInboundTrunkInfo(name=spec.name, numbers=[spec.number])


def _dispatch_rule(spec: InboundSpec, trunk_id: str) -> sip.SIPDispatchRuleInfo:
    return sip.SIPDispatchRuleInfo(
        name=spec.name,
        trunk_ids=[trunk_id],
        rule=sip.SIPDispatchRule(
            dispatch_rule_individual=sip.SIPDispatchRuleIndividual(room_prefix=spec.room_prefix)
        ),
        metadata=json.dumps(spec.job_metadata),
        room_config=room.RoomConfiguration(
            metadata=json.dumps(spec.job_metadata),  # the job's fallback (like session rooms)
            agents=[
                agent_dispatch.RoomAgentDispatch(
                    agent_name=spec.agent_name, metadata=json.dumps(spec.job_metadata)
                )
            ],
        ),
    )


async def _upsert(known_id: str, find: Any, update: Any, create: Any) -> str:
    """Idempotent create-or-update of one LiveKit SIP object: the stored id, else one found
    by ``find``, is updated (if LiveKit no longer has it, it is created anew); returns its id."""
    found = known_id or await find()
    if found:
        try:
            await update(found)
            return found
        except api.TwirpError as exc:
            if not _not_found(exc):
                raise
    return await create()


def _not_found(exc: api.TwirpError) -> bool:
    return exc.code == "not_found" or exc.status == 404


def ensure_inbound(spec: InboundSpec, *, trunk_id: str = "", rule_id: str = "") -> InboundIds:
    """Create or update the number's inbound trunk and its individual dispatch rule."""

    async def work(client: api.LiveKitAPI) -> InboundIds:
        trunk = _inbound_trunk(spec)

        async def find_trunk() -> str:
            listed = await client.sip.list_inbound_trunk(
                sip.ListSIPInboundTrunkRequest(numbers=[spec.number])
            )
            return listed.items[0].sip_trunk_id if listed.items else ""

        async def create_trunk() -> str:
            created = await client.sip.create_inbound_trunk(
                sip.CreateSIPInboundTrunkRequest(trunk=trunk)
            )
            return created.sip_trunk_id

        found_trunk = await _upsert(
            trunk_id,
            find_trunk,
            lambda id_: client.sip.update_inbound_trunk(id_, trunk),
            create_trunk,
        )
        rule = _dispatch_rule(spec, found_trunk)

        async def find_rule() -> str:
            listed = await client.sip.list_dispatch_rule(
                sip.ListSIPDispatchRuleRequest(trunk_ids=[found_trunk])
            )
            return listed.items[0].sip_dispatch_rule_id if listed.items else ""

        async def create_rule() -> str:
            created = await client.sip.create_dispatch_rule(
                sip.CreateSIPDispatchRuleRequest(dispatch_rule=rule)
            )
            return created.sip_dispatch_rule_id

        found_rule = await _upsert(
            rule_id, find_rule, lambda id_: client.sip.update_dispatch_rule(id_, rule), create_rule
        )
        return InboundIds(trunk_id=found_trunk, dispatch_rule_id=found_rule)

    return _run(work)


def delete_inbound(*, trunk_id: str, rule_id: str) -> None:
    """Delete the dispatch rule, then the trunk; what no longer exists counts as deleted."""

    async def work(client: api.LiveKitAPI) -> None:
        for call in (
            (client.sip.delete_dispatch_rule, sip.DeleteSIPDispatchRuleRequest, rule_id),
            (client.sip.delete_trunk, sip.DeleteSIPTrunkRequest, trunk_id),
        ):
            method, request_class, object_id = call
            if not object_id:
                continue
            field = "sip_dispatch_rule_id" if "Rule" in request_class.__name__ else "sip_trunk_id"
            try:
                await method(request_class(**{field: object_id}))
            except api.TwirpError as exc:
                if not _not_found(exc):
                    raise

    _run(work)


@dataclass(frozen=True)
class OutboundSpec:
    name: str
    address: str
    numbers: list[str]
    transport: str
    auth_username: str
    auth_password: str


_TRANSPORTS = {
    "auto": sip.SIPTransport.SIP_TRANSPORT_AUTO,
    "udp": sip.SIPTransport.SIP_TRANSPORT_UDP,
    "tcp": sip.SIPTransport.SIP_TRANSPORT_TCP,
    "tls": sip.SIPTransport.SIP_TRANSPORT_TLS,
}


def ensure_outbound_trunk(spec: OutboundSpec, *, trunk_id: str = "") -> str:
    """Create or update the tenant's outbound trunk; returns its id."""
    trunk = sip.SIPOutboundTrunkInfo(
        name=spec.name,
        address=spec.address,
        numbers=spec.numbers,
        transport=_TRANSPORTS[spec.transport],
        auth_username=spec.auth_username,
        auth_password=spec.auth_password,
    )

    async def work(client: api.LiveKitAPI) -> str:
        found = trunk_id
        if not found:
            listed = await client.sip.list_outbound_trunk(
                sip.ListSIPOutboundTrunkRequest(numbers=spec.numbers[:1])
            )
            named = [item for item in listed.items if item.name == spec.name]
            found = named[0].sip_trunk_id if named else ""
        if found:
            try:
                await client.sip.update_outbound_trunk(found, trunk)
                return found
            except api.TwirpError as exc:
                if not _not_found(exc):
                    raise
        created = await client.sip.create_outbound_trunk(
            sip.CreateSIPOutboundTrunkRequest(trunk=trunk)
        )
        return created.sip_trunk_id

    return _run(work)


@dataclass(frozen=True)
class DialOutcome:
    """``answered``, ``no_answer``, ``busy`` or ``failed``, with what LiveKit reported."""

    status: str
    sip_status_code: int | None = None
    detail: str = ""
    sip_call_id: str = ""


def dial(
    *,
    trunk_id: str,
    room_name: str,
    to_number: str,
    from_number: str,
    identity: str,
    ringing_timeout_seconds: int,
    attributes: dict[str, str],
) -> DialOutcome:
    """Call ``to_number`` into the room and wait until it is answered or fails.

    A SIP failure (busy, no answer...) is an outcome, not an error; transport failures and
    5xx without a SIP status raise ``LiveKitError`` (transient, retried).
    """
    request = sip.CreateSIPParticipantRequest(
        sip_trunk_id=trunk_id,
        sip_call_to=to_number,
        sip_number=from_number,
        room_name=room_name,
        participant_identity=identity,
        participant_name=to_number,
        participant_attributes=attributes,
        wait_until_answered=True,
    )
    request.ringing_timeout.seconds = ringing_timeout_seconds

    async def work(client: api.LiveKitAPI) -> DialOutcome:
        try:
            info = await client.sip.create_sip_participant(request)
        except api.SipCallError as exc:
            code = exc.sip_status_code
            if code in SIP_BUSY_CODES:
                status = "busy"
            elif code in SIP_NO_ANSWER_CODES:
                status = "no_answer"
            else:
                status = "failed"
            return DialOutcome(status=status, sip_status_code=code, detail=str(exc))
        return DialOutcome(status="answered", sip_status_code=200, sip_call_id=info.sip_call_id)

    return _run(work)


def transfer(*, room_name: str, identity: str, transfer_to: str) -> None:
    """Transfer the SIP participant (SIP REFER) to ``transfer_to`` (``tel:+1...`` or ``sip:``)."""
    request = sip.TransferSIPParticipantRequest(
        room_name=room_name, participant_identity=identity, transfer_to=transfer_to
    )

    async def work(client: api.LiveKitAPI) -> None:
        try:
            await client.sip.transfer_sip_participant(request)
        except api.SipCallError as exc:
            raise LiveKitError(str(exc), transient=False) from exc

    _run(work)


__all__ = [
    "LiveKitError",
    "delete_inbound",
    "dial",
    "ensure_inbound",
    "ensure_outbound_trunk",
    "transfer",
]
