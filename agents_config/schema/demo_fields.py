"""Output schema of the demo agent: a visa-interview officer."""

from __future__ import annotations

from .spec import FieldSpec

DEMO_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        name="voice_instructions",
        type="str",
        description=(
            "How the officer's next line should sound, as short delivery instructions for the "
            "text-to-speech voice, e.g. 'Calm, formal, slightly sceptical; moderate pace.'"
        ),
        required=False,
        tts_instructions=True,
    ),
    FieldSpec(
        name="system_response",
        type="str",
        description=(
            "Exactly what the visa officer says aloud to the applicant next: one or two short "
            "spoken sentences, usually a single question. No stage directions or markup."
        ),
        required=True,
        spoken=True,
    ),
    FieldSpec(
        name="internal_assessment",
        type="str",
        description=(
            "The officer's private notes on the applicant's last answer: consistency, "
            "plausibility and anything to probe further. Never shown to the applicant."
        ),
        required=False,
        hidden=True,
    ),
    FieldSpec(
        name="interview_stage",
        type=(
            "Literal['document_check', 'background_inquiry', 'academic_assessment', "
            "'financial_review', 'intent_evaluation', 'final_decision']"
        ),
        description="The stage of the interview this turn belongs to.",
        required=False,
    ),
    FieldSpec(
        name="credibility_score",
        type="int",
        description=(
            "Overall credibility of the applicant so far, from 1 (not credible) to 10 "
            "(fully credible)."
        ),
        required=False,
        constraints={"ge": 1, "le": 10},
    ),
    FieldSpec(
        name="red_flags",
        type="list[str]",
        description=(
            "Short labels for concerns raised so far, e.g. 'vague study plan' or "
            "'insufficient funds'. Empty when there are none."
        ),
        required=False,
        default=[],
    ),
)
