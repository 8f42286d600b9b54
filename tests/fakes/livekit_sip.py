"""The SIP service of the fake LiveKit server (``livekit.SIP`` Twirp methods).

Messages are the real ``livekit.protocol.sip`` protobufs; grants are checked by the server
(``sip.admin`` to manage trunks and rules, ``sip.call`` to dial or transfer).
"""

from __future__ import annotations

from typing import Any

from livekit.protocol import sip

SIP_GRANTS: dict[str, Any] = {
    **{
        f"SIP/{name}": "sip.admin"
        for name in (
            "CreateSIPInboundTrunk",
            "CreateSIPOutboundTrunk",
            "UpdateSIPInboundTrunk",
            "UpdateSIPOutboundTrunk",
            "ListSIPInboundTrunk",
            "ListSIPOutboundTrunk",
            "DeleteSIPTrunk",
            "CreateSIPDispatchRule",
            "UpdateSIPDispatchRule",
            "ListSIPDispatchRule",
            "DeleteSIPDispatchRule",
        )
    },
    "SIP/CreateSIPParticipant": "sip.call",
    "SIP/TransferSIPParticipant": ("sip.call", "video.roomAdmin"),
}

SIP_REASONS = {486: "Busy Here", 480: "Temporarily Unavailable", 408: "Request Timeout"}


def _new_id(state: Any, prefix: str) -> str:
    state.next_id += 1
    return f"{prefix}_{state.next_id:04d}"


def _apply_update(target: Any, update: Any, scalar_fields: tuple[str, ...]) -> None:
    for name in scalar_fields:
        if update.HasField(name):
            setattr(target, name, getattr(update, name))


def handle_sip(state: Any, method: str, body: bytes) -> Any:
    if method == "CreateSIPInboundTrunk":
        trunk = sip.CreateSIPInboundTrunkRequest.FromString(body).trunk
        taken = {n for t in state.inbound_trunks.values() for n in t.numbers}
        if taken & set(trunk.numbers):
            return (409, "already_exists", "a trunk already has this number")
        trunk.sip_trunk_id = _new_id(state, "ST")
        state.inbound_trunks[trunk.sip_trunk_id] = trunk
        return trunk
    if method == "CreateSIPOutboundTrunk":
        trunk = sip.CreateSIPOutboundTrunkRequest.FromString(body).trunk
        trunk.sip_trunk_id = _new_id(state, "ST")
        state.outbound_trunks[trunk.sip_trunk_id] = trunk
        return trunk
    if method in ("UpdateSIPInboundTrunk", "UpdateSIPOutboundTrunk"):
        inbound = method == "UpdateSIPInboundTrunk"
        request_class = (
            sip.UpdateSIPInboundTrunkRequest if inbound else sip.UpdateSIPOutboundTrunkRequest
        )
        request = request_class.FromString(body)
        store = state.inbound_trunks if inbound else state.outbound_trunks
        if request.sip_trunk_id not in store:
            return (404, "not_found", "trunk not found")
        if request.HasField("replace"):
            replaced = request.replace
            replaced.sip_trunk_id = request.sip_trunk_id
            store[request.sip_trunk_id] = replaced
        else:
            _apply_update(store[request.sip_trunk_id], request.update, ("name", "metadata"))
        return store[request.sip_trunk_id]
    if method == "ListSIPInboundTrunk":
        request = sip.ListSIPInboundTrunkRequest.FromString(body)
        items = [
            t
            for t in state.inbound_trunks.values()
            if (not request.numbers or set(request.numbers) & set(t.numbers))
            and (not request.trunk_ids or t.sip_trunk_id in request.trunk_ids)
        ]
        return sip.ListSIPInboundTrunkResponse(items=items)
    if method == "ListSIPOutboundTrunk":
        request = sip.ListSIPOutboundTrunkRequest.FromString(body)
        items = [
            t
            for t in state.outbound_trunks.values()
            if (not request.numbers or set(request.numbers) & set(t.numbers))
            and (not request.trunk_ids or t.sip_trunk_id in request.trunk_ids)
        ]
        return sip.ListSIPOutboundTrunkResponse(items=items)
    if method == "DeleteSIPTrunk":
        trunk_id = sip.DeleteSIPTrunkRequest.FromString(body).sip_trunk_id
        for store in (state.inbound_trunks, state.outbound_trunks):
            if trunk_id in store:
                return store.pop(trunk_id)
        return (404, "not_found", "trunk not found")
    if method == "CreateSIPDispatchRule":
        request = sip.CreateSIPDispatchRuleRequest.FromString(body)
        rule = request.dispatch_rule
        rule.sip_dispatch_rule_id = _new_id(state, "SDR")
        state.dispatch_rules[rule.sip_dispatch_rule_id] = rule
        return rule
    if method == "UpdateSIPDispatchRule":
        request = sip.UpdateSIPDispatchRuleRequest.FromString(body)
        if request.sip_dispatch_rule_id not in state.dispatch_rules:
            return (404, "not_found", "dispatch rule not found")
        if request.HasField("replace"):
            replaced = request.replace
            replaced.sip_dispatch_rule_id = request.sip_dispatch_rule_id
            state.dispatch_rules[request.sip_dispatch_rule_id] = replaced
        return state.dispatch_rules[request.sip_dispatch_rule_id]
    if method == "ListSIPDispatchRule":
        request = sip.ListSIPDispatchRuleRequest.FromString(body)
        items = [
            r
            for r in state.dispatch_rules.values()
            if (not request.trunk_ids or set(request.trunk_ids) & set(r.trunk_ids))
            and (
                not request.dispatch_rule_ids or r.sip_dispatch_rule_id in request.dispatch_rule_ids
            )
        ]
        return sip.ListSIPDispatchRuleResponse(items=items)
    if method == "DeleteSIPDispatchRule":
        rule_id = sip.DeleteSIPDispatchRuleRequest.FromString(body).sip_dispatch_rule_id
        if rule_id not in state.dispatch_rules:
            return (404, "not_found", "dispatch rule not found")
        return state.dispatch_rules.pop(rule_id)
    if method == "CreateSIPParticipant":
        request = sip.CreateSIPParticipantRequest.FromString(body)
        if request.sip_trunk_id not in state.outbound_trunks:
            return (404, "not_found", "outbound trunk not found")
        state.sip_participants.append(request)
        code = state.sip_outcomes.get(request.sip_call_to, 200)
        if code != 200:
            # LiveKit reports the callee's SIP response in the error's metadata.
            twirp = (503, "unavailable") if code == 486 else (408, "deadline_exceeded")
            meta = {"sip_status_code": str(code), "sip_status": SIP_REASONS.get(code, "Error")}
            return (*twirp, f"sip call failed: {code}", meta)
        return sip.SIPParticipantInfo(
            participant_id=_new_id(state, "PA"),
            participant_identity=request.participant_identity,
            room_name=request.room_name,
            sip_call_id=_new_id(state, "SCL"),
        )
    if method == "TransferSIPParticipant":
        request = sip.TransferSIPParticipantRequest.FromString(body)
        state.transfers.append(request)
        return sip.TransferSIPParticipantResponse()
    return (404, "bad_route", f"no SIP handler for {method}")
