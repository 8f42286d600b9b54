"""Webhooks: signed HTTP deliveries of agent and session events to tenants' endpoints.

They consume ``agents_config.events`` and ``sessions_app.events`` (``receivers``, connected in
``SessionsAppConfig.ready``), so they live in the sessions app, above both. The endpoint and
delivery models stay in the ``tenants`` tables (``tenants.models``): moving model classes
across apps would rewrite migration state for no behaviour change. ``services`` signs, sends
and records; ``tasks`` delivers with retries; ``admin`` manages endpoints and deliveries.
"""
