from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover.domain.config import ConfigError, FailoverConfig, json_schema, load_config, parse_config
from failover.domain.model import DEFAULT_INTERRUPTED_JOB_STATUSES, RECOVERY_ORDER, ArtifactKind

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "failover.sample.json"


def hub(name: str, workspace: str, region: str = "swedencentral") -> dict:
    return {"name": name, "subscription_id": "aaaaaaaa-0000-0000-0000-000000000001",
            "resource_group": "rg-ml", "workspace_name": workspace, "region": region}


def minimal() -> dict:
    return {"pairs": [{"name": "ml", "mode": "hot-warm", "primary": hub("east", "ws-east"),
                       "secondary": hub("west", "ws-west", "northeurope")}]}


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(json.dumps(data))
    return info.value.problems


def test_the_sample_loads_and_is_documented() -> None:
    config = load_config({"FAILOVER_CONFIG": str(SAMPLE)})
    assert [p.name for p in config.pairs] == ["ml-prod", "genai-studio"]
    prod, genai = config.pairs
    assert prod.primary.arm_id == ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                                   "rg-ml-prod-swc/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod-swc")
    assert prod.approval_required is False and genai.approval_required is True  # derived from the mode
    assert genai.policy.artifact_kinds == [ArtifactKind.ENVIRONMENT, ArtifactKind.DATA, ArtifactKind.MODEL,
                                           ArtifactKind.CONNECTION]
    assert config.alert_target_hubs(prod.primary.arm_id.upper()) == [(prod, prod.primary.name)]
    assert config.alert_target_hubs(prod.secondary.arm_id) == [(prod, prod.secondary.name)]  # the hub it names
    assert config.alert_target_hubs("GENAI-EUS2-OPENAI-AVAILABILITY") == [(genai, genai.primary.name)]
    assert config.alert_target_hubs("something-else") == []
    assert prod.policy.priority == ["tag:tier=critical", "fraud-*"] and genai.policy.priority == []
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for field in ["probe_failure_threshold", "compute_map", "alert_targets", "interrupted_statuses",
                  "chunk_size", "log_query", "backend", "on_approval_timeout", "alert_max_age_minutes",
                  "rto_minutes", "rpo_minutes", "predeployed_kinds", "priority"]:
        assert f"`{field}`" in doc, field


def test_defaults() -> None:
    pair = parse_config(json.dumps(minimal())).pairs[0]
    assert pair.policy.probe_failure_threshold == 3
    assert pair.policy.chunk_size == 50 and pair.policy.max_concurrency == 8
    assert set(pair.policy.interrupted_statuses) == DEFAULT_INTERRUPTED_JOB_STATUSES
    assert tuple(pair.policy.artifact_kinds) == RECOVERY_ORDER
    assert pair.approval_required is False and pair.auto_failover is True
    assert pair.instance_id == "failover-ml"
    assert pair.primary.backend == "azureml"


def test_every_status_of_the_service_enum_is_accepted() -> None:
    """The JobStatus enum of the REST spec (tests/samples/azureml_rest/job_status_enum.json) and the
    "Created" that fine-tuning job examples report: each is a status config accepts."""
    enum = json.loads((ROOT / "tests" / "samples" / "azureml_rest" / "job_status_enum.json").read_text())["enum"]
    statuses = [*enum, "Created"]
    data = minimal()
    data["pairs"][0]["policy"] = {"interrupted_statuses": statuses}
    assert parse_config(json.dumps(data)).pairs[0].policy.interrupted_statuses == statuses
    assert {"Scheduled", "Unknown", "Created"} <= set(statuses)


def test_artifact_kinds_are_put_in_recovery_order_and_targets_lowercased() -> None:
    data = minimal()
    data["pairs"][0]["policy"] = {"artifact_kinds": ["connection", "model", "environment"]}
    data["pairs"][0]["alert_targets"] = ["/Subscriptions/X/ResourceGroups/RG", " Rule-A "]
    data["pairs"][0]["primary"]["subscription_id"] = "AAAAAAAA-0000-0000-0000-000000000001"
    pair = parse_config(json.dumps(data)).pairs[0]
    assert pair.policy.artifact_kinds == [ArtifactKind.ENVIRONMENT, ArtifactKind.MODEL, ArtifactKind.CONNECTION]
    assert pair.alert_targets == ["/subscriptions/x/resourcegroups/rg", "rule-a"]
    assert pair.primary.subscription_id == "aaaaaaaa-0000-0000-0000-000000000001"


def test_maps_and_deployment_sizes() -> None:
    data = minimal()
    data["pairs"][0].update({
        "connection_map": {"aoai-eastus": "aoai-westus"}, "datastore_map": {"workspaceblobstore": "replica_blob"},
        "deployment_map": {"churn/blue": {"secondary": {"instance_type": "Standard_DS2_v2", "instance_count": 2}}}})
    pair = parse_config(json.dumps(data)).pairs[0]
    sizing = pair.deployment_map["churn/blue"]
    assert (sizing.secondary.instance_type, sizing.secondary.instance_count, sizing.secondary.warm_instance_count) \
        == ("Standard_DS2_v2", 2, 1)
    assert (sizing.primary.instance_type, sizing.primary.instance_count) == (None, None)  # as cataloged
    assert pair.connection_map == {"aoai-eastus": "aoai-westus"}
    assert pair.policy.artifact_kinds[-1] is ArtifactKind.SCHEDULE  # every kind by default, schedules last


def test_explicit_approval_overrides_the_mode_default() -> None:
    data = minimal()
    data["pairs"][0]["mode"] = "hot-cold"
    assert parse_config(json.dumps(data)).pairs[0].approval_required is True
    data["pairs"][0]["policy"] = {"approval_required": False}
    assert parse_config(json.dumps(data)).pairs[0].approval_required is False


def _set(path: str, value: object):
    def edit(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[last] = value
    return edit


def _second_pair(**changes: object):
    def edit(data: dict) -> None:
        pair = copy.deepcopy(data["pairs"][0])
        pair.update(changes)
        data["pairs"].append(pair)
    return edit


BAD = [
    (_set("pairs.0.policy.chunk_size", 0), "pairs[0].policy.chunk_size: 0 is not >= 1"),
    (_set("pairs.0.policy.chunk_size", 501), "pairs[0].policy.chunk_size: 501 is not <= 500"),
    (_set("pairs.0.policy.max_concurrency", 65), "pairs[0].policy.max_concurrency: 65 is not <= 64"),
    (_set("pairs.0.policy.probe_failure_threshold", 0), "pairs[0].policy.probe_failure_threshold: 0 is not >= 1"),
    (_set("pairs.0.policy.chunk_sise", 10), "pairs[0].policy.chunk_sise: unknown field"),
    (_set("pairs.0.mode", "hot-lukewarm"), 'pairs[0].mode: "hot-lukewarm" is not one of'),
    (_set("pairs.0.policy.on_approval_timeout", "wait"), 'pairs[0].policy.on_approval_timeout: "wait" is not one of'),
    (_set("pairs.0.name", "ML_Prod"), 'pairs[0].name: "ML_Prod" is not a valid slug'),
    (_set("pairs.0.primary.subscription_id", "not-a-guid"), 'pairs[0].primary.subscription_id: "not-a-guid" is not'),
    (_set("pairs.0.secondary.region", "North Europe"), 'pairs[0].secondary.region: "North Europe" is not'),
    (_set("pairs.0.secondary.backend", "fake"), 'pairs[0].secondary.backend: "fake" is not one of'),
    (_set("pairs.0.secondary.name", "east"), 'pairs[0].secondary.name: "east" is also the primary'),
    (_set("pairs.0.secondary.workspace_name", "ws-east"), "pairs[0].secondary.workspace_name: primary and secondary"),
    (_set("pairs.0.policy.interrupted_statuses", ["Running", "Runing"]),
     'pairs[0].policy.interrupted_statuses[1]: "Runing" is not an Azure ML job status'),
    (_set("pairs.0.policy.interrupted_statuses", ["Running", "Running"]),
     'pairs[0].policy.interrupted_statuses[1]: "Running" is listed twice'),
    (_set("pairs.0.policy.artifact_kinds", ["model", "notebook"]),
     'pairs[0].policy.artifact_kinds[1]: "notebook" is not one of'),
    (_set("pairs.0.policy.log_query", {"kql": "x | count", "threshold": 1}),
     "pairs[0].policy.log_query: needs primary.log_analytics_workspace_id"),
    (_set("pairs.0.primary.ai_services_endpoint", "https://ais.example.com/?api-key=abc123"),
     "pairs[0].primary.ai_services_endpoint: must not carry credentials"),
    (_set("pairs.0.compute_map", {"gpu cluster": "gpu"}), "pairs[0].compute_map.gpu cluster"),
    (_set("pairs.0.connection_map", {"aoai eus": "aoai-wus"}),
     'pairs[0].connection_map.aoai eus.[key]: "aoai eus" is not a valid connection name'),
    (_set("pairs.0.datastore_map", {"workspaceblobstore": "a/b"}),
     'pairs[0].datastore_map.workspaceblobstore: "a/b" is not a valid datastore name'),
    (_set("pairs.0.deployment_map", {"churn-blue": {}}),
     "pairs[0].deployment_map.churn-blue.[key]: \"churn-blue\" is not a valid 'endpoint/deployment' name pair"),
    (_set("pairs.0.deployment_map", {"churn/blue": {"secondary": {"instance_count": 2, "warm_instance_count": 3}}}),
     "pairs[0].deployment_map.churn/blue.secondary.warm_instance_count: 3 is more than instance_count 2"),
    (_set("pairs.0.deployment_map", {"churn/blue": {"secondary": {"instance_count": 0}}}),
     "pairs[0].deployment_map.churn/blue.secondary.instance_count: 0 is not >= 1"),
    (_set("pairs.0.deployment_map", {"churn/blue": {"secondary": {"instance_type": "Standard DS3"}}}),
     'pairs[0].deployment_map.churn/blue.secondary.instance_type: "Standard DS3" is not a valid instance type'),
    (_set("pairs.0.deployment_map", {"churn/blue": {"tertiary": {}}}),
     "pairs[0].deployment_map.churn/blue.tertiary: unknown field"),
    (_set("pairs.0.policy.activation_timeout_minutes", 0), "pairs[0].policy.activation_timeout_minutes: 0 is not >= 1"),
    (_set("pairs.0.primary.workspace_name", None), "pairs[0].primary.workspace_name: input should be a valid string"),
    (lambda d: d["pairs"][0].pop("mode"), "pairs[0].mode: required field is missing"),
    (_second_pair(), 'pairs[1].name: "ml" is also pairs[0].name'),
    (_second_pair(name="ml2", secondary=hub("west", "ws-other")),
     'pairs[1].secondary.name: "west" is defined differently'),
    (_second_pair(name="ml2", primary=hub("east2", "ws-east"), secondary=hub("west2", "ws-w2")),
     "pairs[1].primary.workspace_name: same workspace as pairs[0].primary"),
    (lambda d: (_set("pairs.0.alert_targets", ["rule-a"])(d),
                _second_pair(name="ml2", primary=hub("e2", "ws-e2"), secondary=hub("w2", "ws-w2"),
                             alert_targets=["RULE-A"])(d)),
     'pairs[1].alert_targets[0]: "rule-a" already maps to pair "ml"'),
    (_set("pairs", []), "pairs: list should have at least 1 item"),
    (_set("pairs.0.auto_failover", "yes"), 'pairs[0].auto_failover: input should be a valid boolean (got "yes")'),
    (_set("pairs.0.policy.alert_max_age_minutes", "60"),
     'pairs[0].policy.alert_max_age_minutes: input should be a valid'),
    (_set("pairs.0.policy.alert_max_age_minutes", 7 * 24 * 60 + 1),
     "pairs[0].policy.alert_max_age_minutes: 10081 is not <= 10080"),
    # the cooldown lost its timer: a config that still sets one is told what to do, not "unknown field"
    (_set("pairs.0.policy.cooldown_minutes", 60),
     "pairs[0].policy.cooldown_minutes: no longer used: the cooldown after a failover lasts until an operator "
     "acknowledges it"),
    (_set("pairs.0.policy.priority", ["fraud-*", "tag:"]), 'pairs[0].policy.priority[1]: "tag:" names no tag'),
    (_set("pairs.0.policy.priority", ["tag:=high"]), 'pairs[0].policy.priority[0]: "tag:=high" names no tag'),
    (_set("pairs.0.policy.priority", ["fraud-*", "fraud-*"]), 'pairs[0].policy.priority[1]: "fraud-*" is listed twice'),
    (_set("pairs.0.policy.priority", [" fraud-*"]), 'pairs[0].policy.priority[0]: " fraud-*" must not start or end'),
    (_set("pairs.0.policy.priority", [""]), "pairs[0].policy.priority[0]: string should have at least 1 character"),
    (_set("pairs.0.policy.priority", "fraud-*"), "pairs[0].policy.priority: input should be a valid array"),
]


@pytest.mark.parametrize(("edit", "expected"), BAD, ids=[e for _, e in BAD])
def test_bad_config_names_the_field_and_value(edit, expected: str) -> None:
    data = minimal()
    edit(data)
    problems = problems_of(data)
    assert any(expected in p for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_every_problem_is_reported_one_line_each() -> None:
    data = minimal()
    data["pairs"][0]["policy"] = {"chunk_size": 0, "max_concurrency": 0, "alert_max_age_minutes": 0}
    problems = problems_of(data)
    assert len(problems) == 3
    with pytest.raises(ConfigError) as info:
        parse_config(json.dumps(data))
    assert str(info.value).count("\n") == 3  # a header line plus one line per problem


def test_unknown_field_value_is_not_echoed() -> None:
    data = minimal()
    data["pairs"][0]["primary"]["api_key"] = "s3cr3t-value"
    problems = problems_of(data)
    assert problems == ["pairs[0].primary.api_key: unknown field (check the spelling)"]


def test_objectives_and_pre_deployed_kinds_per_mode() -> None:
    pair = parse_config(json.dumps(minimal())).pairs[0]
    assert (pair.policy.rto_minutes, pair.policy.rpo_minutes) == (60, 30)
    assert pair.predeployed_kinds == [  # hot-warm: image builds are the slow part; serving stays warm
        ArtifactKind.ENVIRONMENT, ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT,
        ArtifactKind.ONLINE_DEPLOYMENT, ArtifactKind.BATCH_DEPLOYMENT, ArtifactKind.SCHEDULE]
    for mode, expected in (("hot-hot", list(RECOVERY_ORDER)), ("hot-cold", [])):
        config = minimal()
        config["pairs"][0]["mode"] = mode
        assert parse_config(json.dumps(config)).pairs[0].predeployed_kinds == expected
    config = minimal()
    config["pairs"][0]["policy"] = {"predeployed_kinds": ["model", "environment"], "artifact_kinds": ["model"],
                                    "rto_minutes": 15, "rpo_minutes": 5}
    pair = parse_config(json.dumps(config)).pairs[0]
    assert pair.policy.predeployed_kinds == [ArtifactKind.ENVIRONMENT, ArtifactKind.MODEL]  # recovery order
    assert pair.predeployed_kinds == [ArtifactKind.MODEL]  # only kinds the pair recovers at all
    config["pairs"][0]["policy"] = {"predeployed_kinds": ["model", "model"]}
    assert problems_of(config) == ['pairs[0].policy.predeployed_kinds[1]: "model" is listed twice (also at [0])']
    config["pairs"][0]["policy"] = {"predeployed_kinds": ["notebook"]}
    assert problems_of(config)[0].startswith('pairs[0].policy.predeployed_kinds[0]: "notebook" is not one of')


@settings(max_examples=40, deadline=None)
@given(field=st.sampled_from([("chunk_size", 1, 500), ("max_concurrency", 1, 64),
                              ("probe_failure_threshold", 1, None), ("approval_timeout_minutes", 1, None),
                              ("rto_minutes", 1, 10_080), ("rpo_minutes", 1, 10_080)]),
       data=st.data())
def test_out_of_range_numbers_are_rejected_with_their_value(field, data) -> None:
    name, low, high = field
    below = st.integers(max_value=low - 1)
    value = data.draw(below | st.integers(min_value=high + 1) if high is not None else below)
    config = minimal()
    config["pairs"][0]["policy"] = {name: value}
    problems = problems_of(config)
    bound = f">= {low}" if value < low else f"<= {high}"
    assert problems == [f"pairs[0].policy.{name}: {value} is not {bound}"]


@settings(max_examples=40, deadline=None)
@given(value=st.one_of(st.text(max_size=5), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                       st.just("50"), st.none(), st.lists(st.integers(1, 5), max_size=2)))
def test_non_integer_chunk_size_is_rejected_not_coerced(value) -> None:
    config = minimal()
    config["pairs"][0]["policy"] = {"chunk_size": value}
    problems = problems_of(config)
    assert len(problems) == 1 and problems[0].startswith("pairs[0].policy.chunk_size: "), problems
    assert "valid integer" in problems[0] or "is not" in problems[0]


def test_inline_json_and_file_path_load_the_same(tmp_path: Path) -> None:
    text = json.dumps(minimal())
    path = tmp_path / "cfg.json"
    path.write_text(text)
    assert load_config({"FAILOVER_CONFIG": text}) == load_config({"FAILOVER_CONFIG": str(path)})
    assert load_config({"FAILOVER_CONFIG": "  " + text}).pairs[0].name == "ml"


def test_missing_setting_unreadable_file_and_bad_json() -> None:
    with pytest.raises(ConfigError, match="FAILOVER_CONFIG is not set"):
        load_config({})
    with pytest.raises(ConfigError, match=r"cannot read '/nonexistent/cfg\.json'"):
        load_config({"FAILOVER_CONFIG": "/nonexistent/cfg.json"})
    with pytest.raises(ConfigError, match=r"inline JSON.*\n.*not valid JSON: .* line 1 column"):
        load_config({"FAILOVER_CONFIG": '{"pairs": ['})


def test_checked_in_schema_is_the_generated_one() -> None:
    assert (ROOT / "docs" / "config.schema.json").read_text() == json_schema()
    schema = json.loads(json_schema())
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["FailoverPolicy"]["properties"]["chunk_size"]["maximum"] == 500


def test_schema_command_prints_it() -> None:
    out = subprocess.run([sys.executable, "-m", "failover.domain.config", "--schema"], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout == json_schema()


def test_check_command_reports_problems(tmp_path: Path) -> None:
    data = minimal()
    data["pairs"][0]["policy"] = {"chunk_size": 0}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = subprocess.run([sys.executable, "-m", "failover.domain.config", "--check", str(bad)], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 1
    assert "pairs[0].policy.chunk_size: 0 is not >= 1" in out.stderr


def test_models_are_frozen() -> None:
    config = FailoverConfig.model_validate(minimal())
    with pytest.raises(ValueError, match="frozen"):
        config.pairs[0].policy.chunk_size = 3  # type: ignore[misc]
