"""Encryption at rest for per-tenant provider credentials (Fernet, key from the environment).

The key is ``settings.SECRETS_ENCRYPTION_KEY`` (urlsafe base64 of 32 bytes). Storing a secret
without it is a configuration error naming the setting; reading falls back to the
environment's provider keys, so a worker without the key still runs on the global keys.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from tenants.models import ProviderCredential, Tenant

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


def encrypt_secret(value: str) -> str:
    """The encrypted token for ``value`` (ASCII, safe to store in a text column)."""
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The plain value of a token made by :func:`encrypt_secret`."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise SecretDecryptionError("the stored secret cannot be decrypted with this key") from exc


def credential_set(*, tenant: Tenant, provider: str, value: str) -> ProviderCredential:
    """Store (or replace) the tenant's credential for ``provider``, encrypted."""
    from tenants.models import ProviderCredential

    value = (value or "").strip()
    if not value:
        raise ValueError("A credential value is required.")
    encrypted = encrypt_secret(value)
    credential, _ = ProviderCredential.objects.update_or_create(
        tenant=tenant, provider=provider, defaults={"encrypted_value": encrypted}
    )
    return credential


def provider_api_key(*, tenant_id: int | None, provider: str) -> str:
    """The tenant's own key for ``provider`` if stored, else the environment's (maybe "").

    A stored key that cannot be decrypted is logged and skipped (the environment key is used).
    """
    from tenants.models import ProviderCredential

    if tenant_id is not None:
        credential = ProviderCredential.objects.filter(
            tenant_id=tenant_id, provider=provider
        ).first()
        if credential is not None:
            try:
                return decrypt_secret(credential.encrypted_value)
            except (SecretDecryptionError, ImproperlyConfigured) as exc:
                logger.error(
                    "tenant %s: cannot use the stored %s credential (%s); "
                    "falling back to the environment key",
                    tenant_id,
                    provider,
                    exc,
                )
    setting = ENVIRONMENT_KEYS.get(provider)
    return getattr(settings, setting, "") if setting else ""
