"""Encryption at rest for per-tenant provider credentials (Fernet, key from the environment).

The key is ``settings.SECRETS_ENCRYPTION_KEY`` (urlsafe base64 of 32 bytes). Storing a secret
without it is a configuration error naming the setting; reading falls back to the
environment's provider keys, so a worker without the key still runs on the global keys.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# Environment settings used when a tenant has no credential of its own.
ENVIRONMENT_KEYS: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "deepgram": "DEEPGRAM_API_KEY",
    "langfuse": "LANGFUSE_SECRET_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "cartesia": "CARTESIA_API_KEY",
    "together": "TOGETHER_API_KEY",
    "groq": "GROQ_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted (wrong or rotated key, corrupted value)."""


def _fernet() -> Fernet:
    key = getattr(settings, "SECRETS_ENCRYPTION_KEY", "")
    if not key:
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEY is not set: it is required to store provider credentials "
            "(generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)."
        )
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEY is not a valid Fernet key (urlsafe base64 of 32 bytes)."
        ) from exc


def encryption_problem() -> str | None:
    """Why secrets cannot be stored right now (the key is missing or invalid), else None:
    forms report it instead of failing with a server error."""
    try:
        _fernet()
    except ImproperlyConfigured as exc:
        return str(exc)
    return None


def encrypt_secret(value: str) -> str:
    """The encrypted token for ``value`` (ASCII, safe to store in a text column)."""
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The plain value of a token made by :func:`encrypt_secret`."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise SecretDecryptionError("the stored secret cannot be decrypted with this key") from exc


@dataclass(frozen=True)
class ProviderKey:
    """A provider key and whether it is the tenant's own (else the platform's, or empty)."""

    value: str = ""
    own: bool = False


def provider_key(*, tenant_id: int | None, provider: str) -> ProviderKey:
    """The tenant's own key for ``provider`` if stored, else the environment's (maybe "").

    A stored key that cannot be decrypted is logged and skipped (the environment key is used).
    """
    return provider_keys(tenant_id=tenant_id, providers=(provider,))[provider]


def provider_keys(*, tenant_id: int | None, providers: Sequence[str]) -> dict[str, ProviderKey]:
    """:func:`provider_key` for each of ``providers``, in one query (a job's start reads all
    of them)."""
    from tenants.models import ProviderCredential

    stored: dict[str, str] = {}
    if tenant_id is not None:
        stored = dict(
            ProviderCredential.objects.filter(
                tenant_id=tenant_id, provider__in=list(providers)
            ).values_list("provider", "encrypted_value")
        )
    keys: dict[str, ProviderKey] = {}
    for provider in providers:
        if provider in stored:
            try:
                keys[provider] = ProviderKey(decrypt_secret(stored[provider]), own=True)
                continue
            except (SecretDecryptionError, ImproperlyConfigured) as exc:
                logger.error(
                    "tenant %s: cannot use the stored %s credential (%s); "
                    "falling back to the environment key",
                    tenant_id,
                    provider,
                    exc,
                )
        setting = ENVIRONMENT_KEYS.get(provider)
        keys[provider] = ProviderKey(getattr(settings, setting, "") if setting else "", own=False)
    return keys


def provider_api_key(*, tenant_id: int | None, provider: str) -> str:
    """The value of :func:`provider_key`."""
    return provider_key(tenant_id=tenant_id, provider=provider).value


def tenant_has_credential(*, tenant_id: int | None, provider: str) -> bool:
    from tenants.models import ProviderCredential

    return (
        tenant_id is not None
        and ProviderCredential.objects.filter(tenant_id=tenant_id, provider=provider).exists()
    )


# --- Where platform keys may go ------------------------------------------------------------

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com"


def platform_key_endpoints(provider: str) -> list[str]:
    """URL prefixes that may receive the platform's ``provider`` key: the provider's own
    endpoint (api.openai.com or ``OPENAI_BASE_URL``; ``LANGFUSE_HOST``) and
    ``PLATFORM_KEY_ALLOWED_BASE_URLS``."""
    return [*_provider_endpoints(provider), *settings.PLATFORM_KEY_ALLOWED_BASE_URLS]


def _provider_endpoints(provider: str) -> list[str]:
    own = {
        "openai": [settings.OPENAI_BASE_URL or OPENAI_DEFAULT_BASE_URL],
        "langfuse": [settings.LANGFUSE_HOST],
    }.get(provider, [])
    return [entry for entry in own if entry]


def url_matches_prefix(url: str, prefix: str) -> bool:
    """Same scheme and host; the prefix's port if it names one (else any port); and the
    URL's path is the prefix's path or below it."""
    try:
        got, want = urlsplit(url.strip()), urlsplit(prefix.strip())
        got_port = got.port or (443 if got.scheme == "https" else 80)
        want_port = want.port
    except ValueError:
        return False
    if got.scheme != want.scheme or (got.hostname or "") != (want.hostname or "x"):
        return False
    if got.username or got.password or (want_port is not None and want_port != got_port):
        return False
    base = want.path.rstrip("/")
    path = got.path.rstrip("/")
    return not base or path == base or path.startswith(base + "/")


@dataclass(frozen=True)
class KeyRefusal:
    """Why a platform key may not go to the URL set in ``field``."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def platform_key_refusal(*, provider: str, url: str | None, field: str) -> KeyRefusal | None:
    """THE rule for platform keys: why the platform's ``provider`` key may not be sent to
    ``url`` (set in ``field``), or ``None`` when it may (no custom URL, or an allowed one).

    A tenant's own key may go to any URL the outbound policy allows; callers ask this only
    when the key they would send is the platform's.
    """
    if not url:
        return None
    if any(url_matches_prefix(url, prefix) for prefix in platform_key_endpoints(provider)):
        return None
    own = ", ".join(_provider_endpoints(provider)) or "the provider's own endpoint"
    return KeyRefusal(
        field,
        f"a custom endpoint needs the tenant's own {provider} credential; platform keys are "
        f"only sent to {own} and the endpoints the deployment lists in "
        "PLATFORM_KEY_ALLOWED_BASE_URLS.",
    )
