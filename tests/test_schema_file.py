"""Checks for schemas/environment.schema.json (the environment.yml JSON Schema)."""

import json
import pathlib

import jsonschema
import pytest
from jsonschema import Draft202012Validator

SCHEMA_PATH = pathlib.Path(__file__).parents[1] / "schemas" / "environment.schema.json"

EXPECTED_PROPERTIES = {
    "name",
    "prefix",
    "channels",
    "dependencies",
    "variables",
    "platforms",
    "category",
}


@pytest.fixture(scope="module")
def schema():
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema):
    return Draft202012Validator(schema)


def _subschema_validator(schema, subschema):
    # Keep the root's $defs so local "#/$defs/..." references still resolve.
    wrapped = {"$schema": schema["$schema"], "$defs": schema.get("$defs", {}), **subschema}
    return Draft202012Validator(wrapped)


def _walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, path + (index,))


def test_schema_is_valid_draft_2020_12(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_top_level_shape(schema):
    assert schema["title"] == "conda environment file"
    assert schema["type"] == "object"
    assert schema["required"] == ["dependencies"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == EXPECTED_PROPERTIES


def test_no_remote_references_or_formats(schema):
    assert "://" not in schema.get("$id", "")
    for path, node in _walk(schema):
        if not isinstance(node, dict) or (path and path[-1] in ("properties", "examples")):
            continue
        if "$ref" in node:
            assert node["$ref"].startswith("#"), path
        assert "format" not in node, path


@pytest.mark.parametrize("prop", sorted(EXPECTED_PROPERTIES))
def test_property_is_documented(schema, prop):
    sub = schema["properties"][prop]
    assert isinstance(sub.get("title"), str) and sub["title"].strip()
    assert isinstance(sub.get("description"), str) and sub["description"].strip()
    assert isinstance(sub.get("markdownDescription"), str) and sub["markdownDescription"].strip()
    assert isinstance(sub.get("examples"), list) and sub["examples"]


@pytest.mark.parametrize("prop", sorted(EXPECTED_PROPERTIES))
def test_property_examples_validate(schema, validator, prop):
    sub = schema["properties"][prop]
    sub_validator = _subschema_validator(schema, sub)
    for example in sub["examples"]:
        sub_validator.validate(example)
        # ...and inside a minimal document as well.
        document = {"dependencies": []} if prop != "dependencies" else {}
        document[prop] = example
        validator.validate(document)


def test_nested_examples_validate(schema):
    """Every subschema that carries examples accepts them."""
    checked = 0
    for path, node in _walk(schema):
        if not isinstance(node, dict) or "examples" not in node:
            continue
        if path and path[-1] in ("properties", "$defs", "patternProperties", "examples"):
            continue
        assert node["examples"], path
        sub_validator = _subschema_validator(schema, node)
        for example in node["examples"]:
            sub_validator.validate(example)
        checked += 1
    assert checked > len(EXPECTED_PROPERTIES)


VALID_DOCUMENTS = [
    {"dependencies": []},
    {"dependencies": ["numpy"]},
    {
        "name": "data-science",
        "channels": ["conda-forge", "nodefaults"],
        "dependencies": [
            "python=3.11",
            "numpy>=1.26,<2",
            "conda-forge::scipy",
            "pip",
            {"pip": ["requests==2.32.3", "-e ."]},
        ],
    },
    {
        "name": "cross",
        "dependencies": ["python", {"sel(linux)": "pyinotify"}, {"sel(win)": "pywin32"}],
    },
    {
        "prefix": "/home/alice/miniforge3/envs/analysis",
        "dependencies": ["pandas"],
        "variables": {"OMP_NUM_THREADS": 4, "RATIO": 0.5, "DEBUG": True, "MPLBACKEND": "Agg"},
    },
    {
        "channels": ["conda-forge"],
        "dependencies": ["pytest"],
        "platforms": ["linux-64", "osx-arm64", "win-64", "emscripten-wasm32"],
        "category": "dev",
    },
    # Unknown installers are reported by envls's own `unknown-installer` rule,
    # not by the schema.
    {"dependencies": ["nodejs", {"npm": ["left-pad"]}]},
]


@pytest.mark.parametrize("document", VALID_DOCUMENTS)
def test_valid_documents(validator, document):
    errors = list(validator.iter_errors(document))
    assert errors == [], [e.message for e in errors]


INVALID_DOCUMENTS = [
    pytest.param({"dependencies": "numpy"}, id="dependencies-string"),
    pytest.param({"channels": [1], "dependencies": []}, id="channel-int"),
    pytest.param({"name": "env", "channels": ["conda-forge"]}, id="missing-dependencies"),
    pytest.param({"dependencies": [], "platforms": ["linux64"]}, id="bad-platform"),
    pytest.param({"dependencies": [1]}, id="dependency-int"),
    pytest.param({"dependencies": [{"pip": "requests"}]}, id="pip-not-list"),
    pytest.param({"dependencies": [{"pip": [1]}]}, id="pip-item-int"),
    pytest.param({"dependencies": [{"sel(linux)": ["pyinotify"]}]}, id="selector-list"),
    pytest.param({"dependencies": [{}]}, id="empty-mapping"),
    pytest.param({"dependencies": [], "variables": {"A": [1]}}, id="variable-list"),
    pytest.param({"dependencies": [], "name": 3}, id="name-int"),
    pytest.param({"dependencies": [], "category": ["dev"]}, id="category-list"),
    pytest.param({"dependencies": [], "depencencies": []}, id="unknown-key"),
]


@pytest.mark.parametrize("document", INVALID_DOCUMENTS)
def test_invalid_documents(validator, document):
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(document)


def test_wrong_dependency_type_gives_one_clear_error(validator):
    errors = list(validator.iter_errors({"dependencies": [1]}))
    assert len(errors) == 1
    assert list(errors[0].absolute_path) == ["dependencies", 0]
    assert errors[0].validator == "type"


def test_bad_platform_error_points_at_item(validator):
    errors = list(validator.iter_errors({"dependencies": [], "platforms": ["linux64"]}))
    assert len(errors) == 1
    assert list(errors[0].absolute_path) == ["platforms", 0]
    assert errors[0].validator == "enum"
