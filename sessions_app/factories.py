"""Test data builders for sessions (used by the test suite)."""

from __future__ import annotations

import factory

from sessions_app.models import Session, Turn


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    tenant = factory.LazyAttribute(lambda s: s.agent.tenant)
    agent_version = factory.LazyAttribute(lambda s: s.agent.published_version)
    agent_slug = factory.LazyAttribute(lambda s: s.agent.agent_id)
    version_label = factory.LazyAttribute(
        lambda s: s.agent_version.version if s.agent_version else ""
    )
    user_id = factory.Sequence(lambda n: f"end-user-{n}")


class TurnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Turn

    session = factory.SubFactory(SessionFactory)
    index = factory.Sequence(lambda n: n)
    user_text = "I have my admission letter."
    spoken_text = "Thank you. How will you fund your studies?"
    structured_output = factory.LazyAttribute(
        lambda t: {"system_response": t.spoken_text, "interview_stage": "financial_review"}
    )
