"""The field_type parser: accepted forms, canonical text, and clean errors for bad input."""

import ast
import time
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents_config.schema import FieldTypeError, TypeSpec, parse_field_type
from agents_config.schema.grammar import MAX_TYPE_LENGTH


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("str", "str"),
        ("int", "int"),
        ("float", "float"),
        ("bool", "bool"),
        ("dict", "dict"),
        ("list[str]", "list[str]"),
        ("  list [ int ]  ", "list[int]"),
        ("list[float]", "list[float]"),
        ("list[bool]", "list[bool]"),
        ("Literal[\"a\", 'b']", "Literal['a', 'b']"),
        ("Literal['a',]", "Literal['a']"),
        ("Literal[1, -2, 0, True, False]", "Literal[1, -2, 0, True, False]"),
        ("list[Literal['x', 'y']]", "list[Literal['x', 'y']]"),
        ("Literal[\n 'a' ,\t'b'\n]", "Literal['a', 'b']"),
        ('Literal[\'it\\\'s\', "say \\"hi\\""]', "Literal['it\\'s', 'say \"hi\"']"),
        ("Literal['a\\\\b', 'tab\\there', 'nl\\n']", "Literal['a\\\\b', 'tab\\there', 'nl\\n']"),
        ("Literal['\\u00e9', '\\ud83d\\ude00', 'ü']", "Literal['é', '😀', 'ü']"),
        ("Literal['']", "Literal['']"),
    ],
)
def test_valid_forms_and_canonical_text(text: str, canonical: str) -> None:
    spec = parse_field_type(text)
    assert str(spec) == canonical
    assert parse_field_type(canonical) == spec


def test_typespec_structure() -> None:
    assert parse_field_type("list[int]") == TypeSpec("list", item=TypeSpec("int"))
    spec = parse_field_type("Literal['a', 1, True]")
    assert spec == TypeSpec("literal", choices=("a", 1, True))
    assert type(spec.choices[2]) is bool


def test_python_types() -> None:
    assert parse_field_type("str").python_type() is str
    assert parse_field_type("dict").python_type() == dict[str, Any]
    assert parse_field_type("list[int]").python_type() == list[int]
    assert parse_field_type("Literal['a', 'b']").python_type() == Literal["a", "b"]
    assert parse_field_type("list[Literal['a']]").python_type() == list[Literal["a"]]


def test_true_and_one_are_distinct_literals() -> None:
    assert parse_field_type("Literal[1, True, 0, False]").choices == (1, True, 0, False)


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "expected a type name"),
        ("   ", 3, "expected a type name"),
        ("list[]", 5, "expected a type name"),
        ("Literal[]", 8, "expected a literal value"),
        ("Literal[__import__('os').system('id')]", 8, "expected a literal value"),
        ("list[list[str]]", 5, "unsupported type 'list' as a list item"),
        ("list[dict]", 5, "unsupported type 'dict' as a list item"),
        ("tuple[int]", 0, "unsupported type 'tuple'"),
        ("Str", 0, "unsupported type 'Str'"),
        ("str]", 3, "expected end of type"),
        ("list[str", 8, "expected ']'"),
        ("list str", 5, "expected '['"),
        ("Literal['a' 'b']", 12, "expected ']'"),
        ("Literal['a', 'a']", 13, "duplicate literal value 'a'"),
        ("Literal[1, 2, 1]", 14, "duplicate literal value 1"),
        ("Literal[True, True]", 14, "duplicate literal value True"),
        ("Literal['abc", 12, "unterminated string"),
        ("Literal['a\nb']", 10, "unterminated string"),
        ("Literal['\\x41']", 9, "unsupported escape"),
        ("Literal['\\u12']", 11, "expected 4 hex digits"),
        ("Literal['\\ud83d']", 9, "unpaired surrogate"),
        ("Literal['\\ude00']", 9, "unpaired surrogate"),
        ("Literal[1.5]", 8, "expected a literal value"),
        ("Literal[01]", 8, "expected a literal value"),
        ("Literal[None]", 8, "expected a literal value"),
        ("Literal[true]", 8, "expected a literal value"),
        ("Literal['a',,]", 12, "expected a literal value"),
        ("int | None", 4, "expected end of type"),
        ("__import__('os')", 0, "unsupported type '__import__'"),
    ],
)
def test_errors_say_what_and_where(text: str, position: int, fragment: str) -> None:
    with pytest.raises(FieldTypeError) as info:
        parse_field_type(text)
    assert info.value.position == position
    assert fragment in info.value.message
    assert str(info.value) == f"{info.value.message} at character {position}"
    assert isinstance(info.value, ValueError)


def test_exact_error_text_for_type_name() -> None:
    with pytest.raises(FieldTypeError, match=r"^expected a type name at character 8$"):
        parse_field_type("list[   ]")


@pytest.mark.parametrize(
    "text",
    [
        "list[" * 1000 + "str" + "]" * 1000,
        "Literal[" * 1000,
        "x" * 1_000_000,
        "Literal['" + "a" * 1_000_000 + "']",
        "[" * 100_000,
    ],
)
def test_hostile_inputs_fail_fast(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(FieldTypeError):
        parse_field_type(text)
    assert time.perf_counter() - start < 0.05


def test_length_cap_is_checked_before_parsing() -> None:
    ok = "Literal['" + "a" * (MAX_TYPE_LENGTH - 11) + "']"
    assert len(ok) == MAX_TYPE_LENGTH
    parse_field_type(ok)
    with pytest.raises(FieldTypeError, match="too long"):
        parse_field_type(ok + " ")


def test_non_text_input() -> None:
    with pytest.raises(FieldTypeError):
        parse_field_type(None)  # type: ignore[arg-type]


def test_no_dynamic_evaluation_in_package() -> None:
    """The engine must never evaluate or import anything by name."""
    import pathlib

    import agents_config.schema as package

    builtins = {"eval", "exec", "compile", "__import__"}
    by_name = {"literal_eval", "import_module", "__import__"}
    for path in pathlib.Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                assert node.id not in builtins | by_name, f"{path.name} uses {node.id}"
            if isinstance(node, ast.Attribute):  # re.compile is fine, ast.literal_eval is not
                assert node.attr not in by_name, f"{path.name} uses {node.attr}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                assert all(alias.name != "importlib" for alias in node.names)
                assert getattr(node, "module", None) != "importlib"


_literal_values = st.one_of(st.text(max_size=8), st.integers(-(10**6), 10**6), st.booleans())


@given(st.lists(_literal_values, min_size=1, max_size=6, unique_by=lambda v: (type(v), v)))
def test_canonical_text_round_trips(choices: list[str | int | bool]) -> None:
    spec = TypeSpec("literal", choices=tuple(choices))
    assert parse_field_type(str(spec)) == spec
    listed = TypeSpec("list", item=spec)
    assert parse_field_type(str(listed)) == listed
