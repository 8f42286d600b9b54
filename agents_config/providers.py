"""A tenant's provider keys and the policed OpenAI client: part of an agent's configuration.

Every process that runs an agent version needs them — the worker's ``AgentFactory``, the test
suites' judge, the post-call analysis — so they live here, below the worker, which imports
them (``worker.factory`` re-uses these names). Nothing here imports livekit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenants.secrets import ProviderKey


class ProviderConfigError(Exception):
    """A provider in the version cannot be built (unknown, missing key, bad option)."""


@dataclass(frozen=True)
class ProviderKeys:
    openai: str = ""
    deepgram: str = ""
    openai_base_url: str = ""
    """Environment default for OpenAI-compatible servers (``llm_config.base_url`` wins)."""
    openai_own: bool = False
    """``openai`` is the tenant's own key (else the platform's: it only goes to the
    endpoints ``tenants.secrets.platform_key_refusal`` allows)."""
    anthropic: str = ""
    cartesia: str = ""
    together: str = ""
    groq: str = ""
    openrouter: str = ""
    anthropic_base_url: str = ""
    """Environment endpoint for the Anthropic API (a proxy or a test server); "" for its own."""
    cartesia_base_url: str = ""
    """Environment endpoint for the Cartesia API; "" for its own."""

    def for_credential(self, credential: str) -> str:
        """The key named by a provider's ``credential`` (``agents_config.contracts``)."""
        return getattr(self, credential, "") if credential in EXTRA_PROVIDER_KEYS else ""

    @classmethod
    def from_keys(cls, keys: Mapping[str, ProviderKey]) -> ProviderKeys:
        """Built from :func:`tenant_provider_keys` (the worker reads them off the event loop)."""
        from django.conf import settings

        return cls(
            openai=keys["openai"].value,
            deepgram=keys["deepgram"].value,
            openai_base_url=settings.OPENAI_BASE_URL,
            openai_own=keys["openai"].own,
            **extra_provider_keys(lambda name: keys[name].value),
        )

    @classmethod
    def for_tenant(cls, tenant_id: int | None) -> ProviderKeys:
        """The tenant's keys (own credentials, else the environment's). Synchronous ORM."""
        return cls.from_keys(tenant_provider_keys(tenant_id))


EXTRA_PROVIDER_KEYS = ("anthropic", "cartesia", "together", "groq", "openrouter")
"""Provider keys beyond OpenAI and Deepgram, looked up like them (tenant, then environment)."""

KEYED_PROVIDERS = ("openai", "deepgram", "langfuse", *EXTRA_PROVIDER_KEYS)
"""Every provider whose key a session may need (Langfuse for tracing)."""


def tenant_provider_keys(tenant_id: int | None) -> dict[str, ProviderKey]:
    """THE assembly of a tenant's keys: per provider, its own credential else the
    environment's, each saying whether it is the tenant's own. Synchronous ORM."""
    from tenants.secrets import provider_keys

    return provider_keys(tenant_id=tenant_id, providers=KEYED_PROVIDERS)


def extra_provider_keys(lookup: Any) -> dict[str, Any]:
    """``ProviderKeys`` keyword arguments for the extra providers: ``lookup(name) -> key``
    for the keys, the environment's settings for their endpoints."""
    from django.conf import settings

    return {
        **{name: lookup(name) or "" for name in EXTRA_PROVIDER_KEYS},
        "anthropic_base_url": getattr(settings, "ANTHROPIC_BASE_URL", ""),
        "cartesia_base_url": getattr(settings, "CARTESIA_BASE_URL", ""),
    }


def openai_client(*, api_key: str, base_url: str) -> Any:
    """An ``openai.AsyncClient`` for a tenant-supplied ``base_url``: every connection goes
    through the outbound-URL policy (checked on the resolved address, at connect time) and
    redirects are not followed."""
    import openai

    from tenants.outbound import async_httpx_client

    return openai.AsyncClient(
        api_key=api_key, base_url=base_url, max_retries=0, http_client=async_httpx_client()
    )


__all__ = [
    "EXTRA_PROVIDER_KEYS",
    "KEYED_PROVIDERS",
    "ProviderConfigError",
    "ProviderKeys",
    "extra_provider_keys",
    "openai_client",
    "tenant_provider_keys",
]
