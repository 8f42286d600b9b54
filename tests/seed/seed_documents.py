"""The design document's own configuration documents, verbatim (``load_prompt(...)`` replaced
by the prompt text, which is the only non-JSON part of the migration script)."""

from __future__ import annotations

import copy
from typing import Any

SEED_INTERVIEW_PROMPT = (
    "You are a visa interview officer conducting a formal interview. Ask one question at a "
    "time, assess the applicant's credibility and answer in the required structure."
)

# ``migrate_existing_agent()`` in the design document (section 6.2), key for key.
_SEED_MIGRATION_DOCUMENT: dict[str, Any] = {
    "agent_id": "pte-interview-agent-v1",
    "agent_type": "interview",
    "version": "1.0.0",
    "enabled": True,
    "prompt_config": {
        "template_id": "pte_interview",
        "instructions": SEED_INTERVIEW_PROMPT,
        "dynamic_vars": {},
    },
    "schema_config": {
        "schema_id": "interview_turn_json_v1",
        "schema_version": "1.0.0",
        "fields": [
            {
                "field_name": "voice_instructions",
                "field_type": "str",
                "description": "Specific TTS directive for tone, pace, and emphasis",
                "required": False,
                "metadata": {"use_in_tts": True},
            },
            {
                "field_name": "system_response",
                "field_type": "str",
                "description": "The officer's spoken response",
                "required": True,
            },
            {
                "field_name": "internal_assessment",
                "field_type": "str",
                "description": "Private evaluation of interaction",
                "required": False,
            },
            {
                "field_name": "interview_stage",
                "field_type": "Literal['document_check', 'background_inquiry', "
                "'academic_assessment', 'financial_review', 'intent_evaluation', "
                "'final_decision']",
                "description": "Current phase of the interview process",
                "required": False,
            },
            {
                "field_name": "credibility_score",
                "field_type": "int",
                "description": "Running assessment score (1–10)",
                "required": False,
                "constraints": {"ge": 1, "le": 10},
            },
            {
                "field_name": "red_flags",
                "field_type": "list[str]",
                "description": "Specific concerns identified",
                "required": False,
                "default": [],
            },
        ],
    },
    "llm_config": {
        "provider": "openai",
        "model": "gpt-5-nano",
        "temperature": 0.7,
        "supports_structured_output": True,
    },
    "tts_config": {
        "provider": "deepgram",
        "instruction_field": "voice_instructions",
        "streaming": True,
    },
    "tracing_config": {
        "enabled": True,
        "provider": "langfuse",
        "sample_rate": 1.0,
    },
    "pipeline_config": {
        "vad_enabled": True,
        "noise_cancellation": True,
        "transcription_enabled": True,
    },
    "tenant_config": {
        "tenant_id": "default",
        "isolation_level": "session",
    },
}


def seed_migration_document() -> dict[str, Any]:
    """A fresh copy of the seed's migration document."""
    return copy.deepcopy(_SEED_MIGRATION_DOCUMENT)
