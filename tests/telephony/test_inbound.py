"""Inbound numbers: LiveKit trunk and dispatch-rule provisioning (real livekit-api client against
the fake server's SIP service), and the session an inbound call starts under the quotas."""

from __future__ import annotations

import json

import pytest

from agents_config.contracts import ContractError
from sessions_app.models import Session, SessionStatus
from sessions_app.telephony import services, tasks
from sessions_app.telephony.models import CallStatus, PhoneNumber, ProvisioningStatus

pytestmark = pytest.mark.django_db

NUMBER = "+14155550100"


def register(agent, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        phone = services.phone_number_create(
            tenant=agent.tenant, number=kwargs.pop("number", NUMBER), agent=agent, **kwargs
        )
    phone.refresh_from_db()
    return phone


def test_registering_a_number_provisions_a_trunk_and_an_individual_dispatch_rule(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    phone = register(published_agent, django_capture_on_commit_callbacks)
    state = livekit_server.state
    assert phone.provisioning_status == ProvisioningStatus.PROVISIONED
    trunk = state.inbound_trunks[phone.livekit_trunk_id]
    assert list(trunk.numbers) == [NUMBER]
    rule = state.dispatch_rules[phone.livekit_dispatch_rule_id]
    assert list(rule.trunk_ids) == [phone.livekit_trunk_id]
    assert rule.rule.dispatch_rule_individual.room_prefix == services.INBOUND_ROOM_PREFIX
    [dispatch] = rule.room_config.agents
    assert dispatch.agent_name == "voice-agent"
    assert json.loads(dispatch.metadata) == {
        "kind": "inbound_call",
        "phone_number_id": phone.pk,
        "tenant_id": published_agent.tenant.slug,
        "agent_id": published_agent.agent_id,
    }
    assert state.auth_errors == []


def test_provisioning_is_idempotent_and_retried_on_503(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    phone = register(published_agent, django_capture_on_commit_callbacks)
    state = livekit_server.state
    # A lost reply: the ids were never stored; the rerun finds the trunk and rule by number.
    PhoneNumber.objects.filter(pk=phone.pk).update(livekit_trunk_id="", livekit_dispatch_rule_id="")
    state.fail_next = 2
    assert tasks.provision_phone_number.apply(args=[phone.pk]).get() == "provisioned"
    phone.refresh_from_db()
    assert len(state.inbound_trunks) == 1 and len(state.dispatch_rules) == 1
    assert phone.livekit_trunk_id in state.inbound_trunks


def test_provisioning_gives_up_after_the_retries(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    livekit_server.state.fail_next = 100
    phone = register(published_agent, django_capture_on_commit_callbacks)
    assert phone.provisioning_status == ProvisioningStatus.FAILED
    assert "unavailable" in phone.provisioning_error


def test_remapping_updates_the_rule_and_deleting_removes_both(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    from agents_config.factories import make_agent

    phone = register(published_agent, django_capture_on_commit_callbacks)
    other = make_agent(tenant=published_agent.tenant, agent_id="second-agent")
    with django_capture_on_commit_callbacks(execute=True):
        services.phone_number_update(phone=phone, agent=other)
    rule = livekit_server.state.dispatch_rules[phone.livekit_dispatch_rule_id]
    assert json.loads(rule.room_config.agents[0].metadata)["agent_id"] == "second-agent"
    assert len(livekit_server.state.dispatch_rules) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.phone_number_delete(phone=phone)
    assert livekit_server.state.inbound_trunks == {}
    assert livekit_server.state.dispatch_rules == {}


def test_numbers_must_be_e164_and_unique(published_agent, django_capture_on_commit_callbacks):
    for bad in ("4155550100", "+0123456789", "+1 415 555 0100", "+1234"):
        with pytest.raises(ContractError) as caught:
            services.phone_number_create(
                tenant=published_agent.tenant, number=bad, agent=published_agent
            )
        assert "number" in caught.value.errors
    services.phone_number_create(
        tenant=published_agent.tenant, number=NUMBER, agent=published_agent
    )
    with pytest.raises(ContractError):
        services.phone_number_create(
            tenant=published_agent.tenant, number=NUMBER, agent=published_agent
        )


def test_an_inbound_call_starts_a_session_with_the_callers_number(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    phone = register(published_agent, django_capture_on_commit_callbacks)
    rooms_before = dict(livekit_server.state.rooms)
    decision = services.inbound_call_start(
        phone_number_id=phone.pk,
        caller_number="+33612345678",
        trunk_number=NUMBER,
        room_name="va-call-_+33612345678_abc",
    )
    session = decision.session
    assert session is not None and decision.reject_message == ""
    assert session.user_id == "+33612345678"
    assert session.user_details["phone"] == "+33612345678"
    assert session.status == SessionStatus.ACTIVE
    assert session.room_name == "va-call-_+33612345678_abc"
    assert session.phone_call.direction == "inbound"
    assert session.phone_call.call_status == CallStatus.ANSWERED
    assert livekit_server.state.rooms == rooms_before  # LiveKit made the room, not us
    again = services.inbound_call_start(
        phone_number_id=phone.pk,
        caller_number="+33612345678",
        trunk_number=NUMBER,
        room_name="va-call-_+33612345678_abc",
    )
    assert again.session.pk == session.pk  # a restarted job gets the same session
    services.call_ended(session=session, reason="caller hung up")
    session.refresh_from_db()
    assert session.status == SessionStatus.ENDED
    assert session.phone_call.end_reason == "caller hung up"
    assert session.phone_call.call_status == CallStatus.COMPLETED


def test_an_inbound_call_on_a_pinned_version(published_agent, django_capture_on_commit_callbacks):
    from agents_config.services import agent_publish

    first = published_agent.published_version
    agent_publish(agent=published_agent, version="1.1.0", allow_unchanged=True)
    phone = services.phone_number_create(
        tenant=published_agent.tenant, number=NUMBER, agent=published_agent, pinned_version=first
    )
    decision = services.inbound_call_start(
        phone_number_id=phone.pk, caller_number="+33612345678", trunk_number=NUMBER, room_name="r1"
    )
    assert decision.session.version_label == "1.0.0"


def test_an_inbound_call_over_quota_is_rejected_with_the_configured_message(
    published_agent, django_capture_on_commit_callbacks
):
    tenant = published_agent.tenant
    tenant.max_concurrent_sessions = 1
    tenant.save()
    phone = services.phone_number_create(
        tenant=tenant,
        number=NUMBER,
        agent=published_agent,
        over_quota_message="All our lines are busy, call back later.",
    )
    first = services.inbound_call_start(
        phone_number_id=phone.pk, caller_number="+33600000001", trunk_number=NUMBER, room_name="a"
    )
    assert first.session is not None
    second = services.inbound_call_start(
        phone_number_id=phone.pk, caller_number="+33600000002", trunk_number=NUMBER, room_name="b"
    )
    assert second.session is None
    assert second.reject_message == "All our lines are busy, call back later."
    assert Session.objects.filter(tenant=tenant).count() == 1


def test_however_the_session_ends_the_call_records_it(
    published_agent, django_capture_on_commit_callbacks
):
    from sessions_app.services import session_end

    phone = services.phone_number_create(
        tenant=published_agent.tenant, number=NUMBER, agent=published_agent
    )
    decision = services.inbound_call_start(
        phone_number_id=phone.pk, caller_number="+33600000001", trunk_number=NUMBER, room_name="a"
    )
    with django_capture_on_commit_callbacks(execute=True):
        session_end(session=decision.session, reason="participant disconnected")
    call = decision.session.phone_call
    call.refresh_from_db()
    assert call.call_status == CallStatus.COMPLETED
    assert call.end_reason == "participant disconnected"


def test_deleting_the_agent_removes_its_numbers_from_livekit(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    from agents_config.services import agent_delete

    register(published_agent, django_capture_on_commit_callbacks)
    assert livekit_server.state.dispatch_rules
    with django_capture_on_commit_callbacks(execute=True):
        agent_delete(agent=published_agent)
    assert not PhoneNumber.objects.exists()
    assert livekit_server.state.dispatch_rules == {} and livekit_server.state.inbound_trunks == {}
