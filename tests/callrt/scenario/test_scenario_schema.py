"""The scenario file's JSON Schema: every real file fits it, malformed ones are refused with their JSON path,
and the schema agrees with the code that reads what it describes (the loader, the sims, `expect`, the report)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from callrt.scenario import ScenarioError, load_scenario, parse_scenario
from callrt.scenario.expect import unmet_expectations
from callrt.scenario.report import build_report
from callrt.scenario.schema import scenario_schema, schema_problem
from callrt.sim.peer_script import PEER_FAULT_KINDS
from callrt.sim.signals import NOISE_KINDS
from callrt.testing import scenarios
from tests.support.paths import SCENARIOS_DIR, SHIPPED_SCENARIOS_DIR

SCENARIO_FILES = sorted(SCENARIOS_DIR.glob("*.json")) + sorted(SHIPPED_SCENARIOS_DIR.glob("*.json"))
BASE: dict[str, Any] = json.loads((SCENARIOS_DIR / "booking-en.json").read_text(encoding="utf-8"))


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(scenario_schema())


def test_there_are_scenario_files_to_check() -> None:
    assert len(SCENARIO_FILES) >= 40


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_scenario_file_fits_the_schema_and_loads(path: Path) -> None:
    assert schema_problem(json.loads(path.read_text(encoding="utf-8"))) is None
    load_scenario(path)


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    change(document)
    return document


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], object], str, str]] = [
    ("no name", lambda d: d.pop("name"), "$", "'name' is a required property"),
    ("a language callrt does not speak", lambda d: d.update(language="fr"), "$.language", "'fr'"),
    ("now without an offset", lambda d: d.update(now="2026-11-24T10:00:00"), "$.now", "UTC offset"),
    ("a misspelt field", lambda d: d.update(scirpt=[]), "$", "'scirpt' was unexpected"),
    ("say without ms", lambda d: d["script"][2].pop("ms"), "$.script[2]", "'ms' is a required property"),
    ("say of zero ms", lambda d: d["script"][2].update(ms=0), "$.script[2].ms", "0"),
    ("blank say", lambda d: d["script"][2].update(say="  "), "$.script[2].say", "non-blank"),
    ("two kinds in one step", lambda d: d["script"][2].update(wait="ai_done"), "$.script[2]", "'wait' was unexpected"),
    ("a step of no kind", lambda d: d["script"].append({"ms": 3}), "$.script[5]", "exactly one of say, noise"),
    ("an unknown wait", lambda d: d["script"][0].update(wait="ai_finished"), "$.script[0].wait", "'ai_finished'"),
    ("hangup false", lambda d: d["script"].append({"hangup": False}), "$.script[5].hangup", "True was expected"),
    (
        "an unknown noise",
        lambda d: d["script"].append({"noise": "sneeze", "ms": 100, "rms": 300}),
        "$.script[5].noise",
        "'sneeze'",
    ),
    ("noise without rms", lambda d: d["script"].append({"noise": "cough", "ms": 100}), "$.script[5]", "'rms'"),
    ("a step that is text", lambda d: d["script"].append("say hi"), "$.script[5]", "not of type 'object'"),
    ("crash of no actor", lambda d: d["faults"].append({"kind": "crash"}), "$.faults[0]", "'actor'"),
    ("db_down for no time", lambda d: d["faults"].append({"kind": "db_down"}), "$.faults[0]", "'ms'"),
    ("an unknown fault", lambda d: d["faults"].append({"kind": "explode"}), "$.faults[0].kind", "'explode'"),
    (
        "a negative at_ms",
        lambda d: d["faults"].append({"kind": "ai_false_claim", "at_ms": -1}),
        "$.faults[0].at_ms",
        "-1",
    ),
    ("expect on no report field", lambda d: d["expect"].update(apointments=[]), "$.expect", "'apointments'"),
    ("an unknown check", lambda d: d["expect"].update(appointments={"cnt": 1}), "$.expect.appointments", "'cnt'"),
    (
        "an hour without its leading zero",
        lambda d: d["business"]["opening_hours"].update(sun=[["9:00", "19:00"]]),
        "$.business.opening_hours.sun[0][0]",
        "HH:MM",
    ),
    (
        "a misspelt weekday",
        lambda d: d["business"]["opening_hours"].update(sunnday=[]),
        "$.business.opening_hours",
        "'sunnday'",
    ),
    ("a slot of 3 minutes", lambda d: d["business"].update(slot_size_min=3), "$.business.slot_size_min", "5"),
    (
        "an appointment with no start",
        lambda d: d["appointments"].append({"minutes": 30}),
        "$.appointments[0]",
        "'start'",
    ),
    ("not an object", lambda d: d.clear(), "$", "required property"),
    ("now on a day that does not exist", lambda d: d.update(now="2026-02-30T10:00:00+02:00"), "$.now", "2026-02-30"),
]


@pytest.mark.parametrize(("change", "path", "what"), [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_a_malformed_file_is_refused_naming_its_json_path(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], path: str, what: str
) -> None:
    scenario_file = tmp_path / "bad.json"
    scenario_file.write_text(json.dumps(mutated(change)), encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(scenario_file)
    message = str(refused.value)
    assert message.startswith(f"{scenario_file}: {path}: "), message
    assert what in message.removeprefix(f"{scenario_file}: {path}: "), message
    assert "\n" not in message


def test_a_file_that_is_not_json_or_not_an_object_is_refused(tmp_path: Path) -> None:
    scenario_file = tmp_path / "bad.json"
    scenario_file.write_text('{"name": "x",', encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(scenario_file)
    with pytest.raises(ScenarioError, match=re.escape("<scenario>: $: [1] is not of type 'object'")):
        parse_scenario([1])


@settings(max_examples=200, deadline=None)
@given(document=st.sampled_from(["he", "en"]).flatmap(lambda language: scenarios(language=language)))
def test_every_generated_scenario_fits_the_schema_and_parses(document: dict[str, Any]) -> None:
    """`callrt.testing.scenarios` (what users fuzz with) and the schema agree on what a scenario is."""
    assert schema_problem(document) is None
    parsed = parse_scenario(document)
    assert len(parsed.script) == len(document["script"])
    assert [fault.kind for fault in parsed.faults] == [fault["kind"] for fault in document["faults"]]


def definitions() -> dict[str, Any]:
    defs: dict[str, Any] = scenario_schema()["$defs"]
    return defs


def step_kind_schema(kind: str) -> dict[str, Any]:
    (then,) = [rule["then"] for rule in definitions()["step"]["allOf"] if rule["if"]["required"] == [kind]]
    return dict(then)


def test_the_noise_kinds_are_those_the_simulated_caller_makes() -> None:
    assert step_kind_schema("noise")["properties"]["noise"]["enum"] == list(NOISE_KINDS)


def test_the_simulated_models_faults_are_scenario_faults() -> None:
    assert set(PEER_FAULT_KINDS) <= set(definitions()["fault"]["properties"]["kind"]["enum"])


def test_the_expect_checks_are_those_expect_understands() -> None:
    report = {"ai_turns": [{"text": "hello"}]}
    for check, operand in {"count": 1, "min": 1, "max": 1, "contains": "he", "not_contains": "x"}.items():
        assert check in definitions()["checks"]["properties"]
        assert unmet_expectations(report, {"ai_turns": {check: operand}}) == []
    assert len(definitions()["checks"]["properties"]) == 5
    with pytest.raises(ValueError, match="unknown expectation check"):
        unmet_expectations(report, {"ai_turns": {"cnt": 1}})


def test_expect_paths_start_with_exactly_the_fields_of_a_report() -> None:
    report = build_report(scenario_name="x", events=[], appointments=[], violations=[], trace_path=None)
    pattern = definitions()["expect"]["propertyNames"]["pattern"]
    named = re.match(r"\^\(([^)]*)\)", pattern)
    assert named is not None
    assert set(named[1].split("|")) == set(report)
    for path in ("hangup.by", "appointments[0].start", "ai_turns[1].text", "violations"):
        assert re.search(pattern, path), path
