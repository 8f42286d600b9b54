"""The demo agent: the seed's visa-interview officer."""

from __future__ import annotations

from typing import Any

from agents_config.schema import DEMO_FIELDS

DEMO_TENANT_SLUG = "demo"
DEMO_AGENT_ID = "visa-interview-officer"

DEMO_INSTRUCTIONS = """You are {{ officer_name }}, a consular officer conducting a student visa \
interview for {{ destination_country }} with {{ applicant_name }}.

Conduct a realistic, polite but rigorous interview. Move through the stages in order: \
document check, background inquiry, academic assessment, financial review, intent evaluation \
and a final decision. Ask one short question at a time and react to what the applicant says.

Reply with a JSON object only. Put exactly what you say aloud in system_response (one or two \
short sentences, no markup), how it should sound in voice_instructions, your private notes in \
internal_assessment, the current stage in interview_stage, your running credibility_score from \
1 to 10, and every concern noticed so far in red_flags (keep earlier ones)."""


def demo_document() -> dict[str, Any]:
    """The demo agent's configuration document (validated by the contracts on load)."""
    fields = [
        {
            "field_name": spec.name,
            "field_type": spec.type,
            "description": spec.description,
            "required": spec.required,
            "default": spec.default,
            "constraints": dict(spec.constraints),
            "metadata": {
                "spoken": spec.spoken,
                "tts_instructions": spec.tts_instructions,
                "hidden": spec.hidden,
            },
        }
        for spec in DEMO_FIELDS
    ]
    return {
        "agent_id": DEMO_AGENT_ID,
        "agent_type": "interview",
        "name": "Visa interview officer",
        "enabled": True,
        "reload_policy": "keep",
        "prompt_config": {
            "template_id": "visa_interview",
            "instructions": DEMO_INSTRUCTIONS,
            "dynamic_vars": {
                "officer_name": "Officer Reyes",
                "destination_country": "the United States",
                "applicant_name": "the applicant",
            },
            "examples": [
                {
                    "user": "Good morning, officer.",
                    "assistant": {
                        "voice_instructions": "Formal, neutral, moderate pace.",
                        "system_response": "Good morning. May I see your passport and your "
                        "admission letter, please?",
                        "internal_assessment": "Interview starting; nothing to assess yet.",
                        "interview_stage": "document_check",
                        "credibility_score": 5,
                        "red_flags": [],
                    },
                }
            ],
        },
        "schema_config": {
            "schema_id": "visa_interview_turn",
            "schema_version": "1.0.0",
            "fields": fields,
            "custom_validators": ["non_empty_spoken"],
        },
        "llm_config": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.7},
        "stt_config": {"provider": "deepgram", "model": "nova-3", "language": "en"},
        "tts_config": {
            "provider": "openai",
            "model": "gpt-4o-mini-tts",
            "voice": "ash",
            "default_instructions": "Speak like a calm, formal consular officer.",
            "instruction_field": "voice_instructions",
        },
        "tracing_config": {
            "enabled": False,
            "provider": "langfuse",
            "sample_rate": 1.0,
            "metadata_fields": ["interview_stage", "credibility_score"],
        },
        "pipeline_config": {
            "vad_enabled": True,
            "turn_detection": True,
            "noise_cancellation": False,
            "custom_nodes": ["pii_redaction"],
        },
    }
