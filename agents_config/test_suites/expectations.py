"""The test-case contract: scripted user turns and expectations on the agent's structured turn.

An expectation is a JSON object with a ``kind``; ``evaluate`` checks it against one finished
turn and says why it passed or failed. ``llm_judge`` needs a model call, so the runner
(``agents_config.test_suites.runner``) evaluates it; everything else is pure.

``field`` is a dotted path into the structured turn (``red_flags.0`` indexes a list). Patterns
(``matches``) are compiled when the case is saved and run by ``agents_config.user_regex``
(RE2: linear time, length caps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from agents_config.contracts import ContractError
from agents_config.user_regex import (
    MAX_PATTERN_LENGTH,
    UserRegexError,
    compile_user_regex,
    user_regex_search,
)

MAX_TURNS = 50
MAX_EXPECTATIONS = 30
FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z0-9_]{1,64}){0,5}$"
_MISSING = object()


@dataclass
class TurnView:
    """What an expectation looks at: the structured turn, its spoken text and its errors."""

    data: dict[str, Any]
    spoken_text: str
    errors: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    passed: bool
    detail: str
    actual: Any = None


def field_value(data: Any, path: str) -> Any:
    """The value at a dotted path, or ``_MISSING``."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


class _Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def describe(self) -> str:
        raise NotImplementedError

    def evaluate(self, turn: TurnView) -> Outcome:
        raise NotImplementedError


class _FieldExpectation(_Expectation):
    field: str = Field(pattern=FIELD_PATH)

    def evaluate(self, turn: TurnView) -> Outcome:
        value = field_value(turn.data, self.field)
        if value is _MISSING:
            return Outcome(False, f"{self.field} is missing")
        passed, detail = self.check(value)
        return Outcome(passed, detail, value)

    def check(self, value: Any) -> tuple[bool, str]:
        raise NotImplementedError


class Equals(_FieldExpectation):
    kind: Literal["equals"]
    value: Any

    def describe(self) -> str:
        return f"{self.field} == {self.value!r}"

    def check(self, value: Any) -> tuple[bool, str]:
        return value == self.value, f"{self.field} is {value!r}"


class OneOf(_FieldExpectation):
    kind: Literal["one_of"]
    values: list[Any] = Field(min_length=1, max_length=100)

    def describe(self) -> str:
        return f"{self.field} in {self.values!r}"

    def check(self, value: Any) -> tuple[bool, str]:
        return value in self.values, f"{self.field} is {value!r}"


class Range(_FieldExpectation):
    kind: Literal["range"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError("max is below min")
        return self

    def describe(self) -> str:
        if self.min is None:
            return f"{self.field} <= {self.max:g}"
        if self.max is None:
            return f"{self.field} >= {self.min:g}"
        return f"{self.min:g} <= {self.field} <= {self.max:g}"

    def check(self, value: Any) -> tuple[bool, str]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False, f"{self.field} is {value!r}, not a number"
        passed = (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        return passed, f"{self.field} is {value!r}"


class Contains(_FieldExpectation):
    kind: Literal["contains"]
    value: Any

    def describe(self) -> str:
        return f"{self.field} contains {self.value!r}"

    def check(self, value: Any) -> tuple[bool, str]:
        if isinstance(value, str):
            return isinstance(self.value, str) and self.value in value, f"{self.field}: {value!r}"
        if isinstance(value, list):
            return self.value in value, f"{self.field} is {value!r}"
        return False, f"{self.field} is {value!r}, neither text nor a list"


class Matches(_FieldExpectation):
    kind: Literal["matches"]
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_LENGTH)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_user_regex(value)
        except UserRegexError as exc:
            raise ValueError(str(exc)) from None
        return value

    def describe(self) -> str:
        return f"{self.field} matches /{self.pattern}/"

    def check(self, value: Any) -> tuple[bool, str]:
        if not isinstance(value, str):
            return False, f"{self.field} is {value!r}, not text"
        return user_regex_search(self.pattern, value), f"{self.field}: {value!r}"


class Present(_Expectation):
    kind: Literal["present"]
    field: str = Field(pattern=FIELD_PATH)

    def describe(self) -> str:
        return f"{self.field} is present"

    def evaluate(self, turn: TurnView) -> Outcome:
        value = field_value(turn.data, self.field)
        if value is _MISSING or value is None:
            return Outcome(False, f"{self.field} is missing")
        return Outcome(True, f"{self.field} is {value!r}", value)


class Absent(_Expectation):
    kind: Literal["absent"]
    field: str = Field(pattern=FIELD_PATH)

    def describe(self) -> str:
        return f"{self.field} is absent"

    def evaluate(self, turn: TurnView) -> Outcome:
        value = field_value(turn.data, self.field)
        if value is _MISSING or value is None:
            return Outcome(True, f"{self.field} is absent")
        return Outcome(False, f"{self.field} is {value!r}", value)


class _SpokenExpectation(_Expectation):
    value: str = Field(min_length=1, max_length=1000)
    case_sensitive: bool = False

    def _found(self, turn: TurnView) -> bool:
        if self.case_sensitive:
            return self.value in turn.spoken_text
        return self.value.casefold() in turn.spoken_text.casefold()


class SpokenContains(_SpokenExpectation):
    kind: Literal["spoken_contains"]

    def describe(self) -> str:
        return f"spoken text contains {self.value!r}"

    def evaluate(self, turn: TurnView) -> Outcome:
        return Outcome(self._found(turn), f"said {turn.spoken_text!r}", turn.spoken_text)


class SpokenNotContains(_SpokenExpectation):
    kind: Literal["spoken_not_contains"]

    def describe(self) -> str:
        return f"spoken text does not contain {self.value!r}"

    def evaluate(self, turn: TurnView) -> Outcome:
        return Outcome(not self._found(turn), f"said {turn.spoken_text!r}", turn.spoken_text)


class Valid(_Expectation):
    kind: Literal["valid"]

    def describe(self) -> str:
        return "the turn validates without errors"

    def evaluate(self, turn: TurnView) -> Outcome:
        if turn.errors:
            return Outcome(False, "; ".join(turn.errors), turn.errors)
        return Outcome(True, "no validation errors", [])


class LLMJudge(_Expectation):
    """An intent judged by a model: it sees the user text and the structured turn and answers
    JSON ``{"pass": bool, "reason": str}``."""

    kind: Literal["llm_judge"]
    intent: str = Field(min_length=1, max_length=1000)
    judge_model: str | None = Field(default=None, min_length=1, max_length=100)

    def describe(self) -> str:
        return f"judge: {self.intent}"

    def evaluate(self, turn: TurnView) -> Outcome:  # pragma: no cover - the runner judges
        raise RuntimeError("llm_judge expectations are evaluated by the suite runner")


Expectation = Annotated[
    Equals
    | OneOf
    | Range
    | Contains
    | Matches
    | Present
    | Absent
    | SpokenContains
    | SpokenNotContains
    | Valid
    | LLMJudge,
    Field(discriminator="kind"),
]
EXPECTATION_KINDS = (
    "equals",
    "one_of",
    "range",
    "contains",
    "matches",
    "present",
    "absent",
    "spoken_contains",
    "spoken_not_contains",
    "valid",
    "llm_judge",
)


class ScriptedTurn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=4000)
    expect: list[Expectation] = Field(default_factory=list, max_length=MAX_EXPECTATIONS)


_TURNS = TypeAdapter(list[ScriptedTurn])


def parse_turns(data: Any) -> list[ScriptedTurn]:
    """Validated scripted turns; ``ContractError`` with paths like ``turns[0].expect[1]``."""
    if not isinstance(data, list) or not data:
        raise ContractError({"turns": ["Expected a non-empty list of turns."]})
    if len(data) > MAX_TURNS:
        raise ContractError({"turns": [f"At most {MAX_TURNS} turns."]})
    try:
        return _TURNS.validate_python(data)
    except ValidationError as exc:
        raise ContractError.from_pydantic(exc, prefix=("turns",)) from None
