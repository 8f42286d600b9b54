"""Default list prices (US dollars per million units), effective 2025-01-01.

Operators edit or supersede them in the admin (a newer ``effective_from`` wins from that day).
"""

import datetime as dt
from decimal import Decimal

from django.db import migrations

EFFECTIVE_FROM = dt.date(2025, 1, 1)

DEFAULT_PRICES = [
    # provider, model, metric, usd per million units
    ("openai", "gpt-4o-mini", "prompt_tokens", "0.15"),
    ("openai", "gpt-4o-mini", "cached_tokens", "0.075"),
    ("openai", "gpt-4o-mini", "completion_tokens", "0.60"),
    ("openai", "gpt-4o", "prompt_tokens", "2.50"),
    ("openai", "gpt-4o", "cached_tokens", "1.25"),
    ("openai", "gpt-4o", "completion_tokens", "10.00"),
    ("openai", "gpt-4.1-mini", "prompt_tokens", "0.40"),
    ("openai", "gpt-4.1-mini", "cached_tokens", "0.10"),
    ("openai", "gpt-4.1-mini", "completion_tokens", "1.60"),
    ("openai", "gpt-4.1", "prompt_tokens", "2.00"),
    ("openai", "gpt-4.1", "cached_tokens", "0.50"),
    ("openai", "gpt-4.1", "completion_tokens", "8.00"),
    ("openai", "tts-1", "tts_characters", "15.00"),
    ("openai", "tts-1-hd", "tts_characters", "30.00"),
    ("openai", "*", "tts_characters", "15.00"),
    ("openai", "whisper-1", "stt_seconds", "100.00"),
    ("openai", "*", "stt_seconds", "100.00"),
    ("deepgram", "*", "tts_characters", "30.00"),
    ("deepgram", "nova-3", "stt_seconds", "128.333333"),
    ("deepgram", "nova-2", "stt_seconds", "96.666667"),
    ("deepgram", "*", "stt_seconds", "128.333333"),
    ("platform", "*", "session_minutes", "0"),
]


def load(apps, schema_editor):
    ModelPrice = apps.get_model("sessions_app", "ModelPrice")
    for provider, model, metric, price in DEFAULT_PRICES:
        ModelPrice.objects.get_or_create(
            tenant=None,
            provider=provider,
            model=model,
            metric=metric,
            effective_from=EFFECTIVE_FROM,
            defaults={"usd_per_million": Decimal(price)},
        )


def unload(apps, schema_editor):
    ModelPrice = apps.get_model("sessions_app", "ModelPrice")
    ModelPrice.objects.filter(tenant=None, effective_from=EFFECTIVE_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0012_economics")]
    operations = [migrations.RunPython(load, unload)]
