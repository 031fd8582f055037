"""OpenTelemetry: one drill, captured with the SDK's in-memory exporter and reader, gives the span tree
Azure would show (drill > decisions and orchestration > stages and activities > ours) and the metrics."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rehearsal.console import DrillConsole
from rehearsal.drill import run_drill
from rehearsal.scenario import DrillOptions, prepare
from replayhost.azurite import AzuriteEndpoints
from tests.durable_world import world_options

_captured: tuple[InMemorySpanExporter, InMemoryMetricReader] | None = None


def capture() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    """The process's providers, set once (OpenTelemetry allows one per process) with in-memory exports."""
    global _captured
    if _captured is None:
        spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _captured = (spans, reader)
    return _captured


def points(data: Any, name: str, **attributes: Any) -> list[Any]:
    """Data points of metric ``name`` in one collection (a gauge's value is collected once) whose
    attributes include ``attributes`` (prefixed hubfailover.)."""
    wanted = {f"hubfailover.{k}": v for k, v in attributes.items()}
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                found += [p for p in metric.data.data_points
                          if all(p.attributes.get(k) == v for k, v in wanted.items())]
    return found


def tree(spans: list[ReadableSpan], root: ReadableSpan) -> dict[int, list[ReadableSpan]]:
    children: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        if span.parent is not None and span.context.trace_id == root.context.trace_id:
            children[span.parent.span_id].append(span)
    for found in children.values():
        found.sort(key=lambda s: s.start_time or 0)
    return children


def test_one_drill_gives_the_span_tree_and_the_metrics(azurite: AzuriteEndpoints) -> None:
    exporter, reader = capture()
    tag = uuid.uuid4().hex[:8]
    options = replace(DrillOptions(jobs=10, artifacts=18, seed=3, chunk_size=4), pair=f"o{tag}",
                      primary=f"pri{tag}", secondary=f"sec{tag}")
    code, report = run_drill(options, DrillConsole(quiet=True), connection_string=azurite.connection_string)
    assert code == 0, report
    spans = list(exporter.get_finished_spans())
    [root] = [s for s in spans if s.name == "drill" and s.attributes.get("hubfailover.pair") == options.pair]
    assert root.attributes["hubfailover.outcome"] == "succeeded"
    children = tree(spans, root)

    under_root = children[root.context.span_id]
    decisions = [s for s in under_root if s.name == "decision probe_decision"]
    [orchestration] = [s for s in under_root if s.name == "orchestration:failover"]
    assert len(under_root) == len(decisions) + 1
    assert [d.attributes["hubfailover.started"] for d in decisions] == [False] * (len(decisions) - 1) + [True]

    # the orchestration: one span per stage, each once (replays emit nothing), in order, at orchestration time
    below = children[orchestration.context.span_id]
    stages = [s for s in below if s.name.startswith("stage ")]
    assert [s.name for s in stages] == [f"stage {st['stage']}" for st in report["stages"]] == [
        "stage plan", "stage readiness", "stage flip", "stage job_dependencies", "stage resubmit_jobs",
        "stage recreate_artifacts", "stage activate"]  # jobs and what they need first
    for span, stage in zip(stages, report["stages"], strict=True):
        assert span.attributes["hubfailover.run"] == report["run"]
        assert (span.start_time, span.end_time) == (_ns(stage["started_at"]), _ns(stage["ended_at"]))
    hosted = [s for s in below if s.name.startswith("activity:")]
    assert len(stages) + len(hosted) == len(below)
    chunks = report["jobs"]["interrupted"] // 4 + (1 if report["jobs"]["interrupted"] % 4 else 0)
    by_name = defaultdict(list)
    for span in hosted:
        by_name[span.name].append(span)
    chunked = ("activity:recreate_artifacts", "activity:activate_state")  # per kind and chunk
    assert {k: len(v) for k, v in by_name.items() if k not in chunked} == {
        "activity:load_plan": 1, "activity:check_readiness": 1, "activity:flip_pointer": 1,
        "activity:resubmit_jobs": chunks, "activity:record_audit": 1}

    # each activity call: our span under the host's, with ids and counts
    recreated = resubmitted = 0
    for span in hosted:
        [ours] = children[span.context.span_id]
        name = span.name.split(":", 1)[1]
        assert ours.name == f"activity {name}" and ours.attributes["hubfailover.pair"] == options.pair
        recreated += int(ours.attributes.get("hubfailover.count.recreated", 0))
        resubmitted += int(ours.attributes.get("hubfailover.count.resubmitted", 0))
    assert recreated == sum(c["recreated"] for c in report["artifacts"].values()) > 0
    assert resubmitted == report["jobs"]["resubmitted"] > 0

    # never a secret or a spec: ids, names, counts
    for span in [root, *(s for group in children.values() for s in group)]:
        for key, value in span.attributes.items():
            assert "spec" not in key and "AccountKey" not in str(value) and "devstoreaccount1" not in str(value)

    # metrics of the run
    collected = reader.get_metrics_data()
    assert sum(p.value for p in points(collected, "hubfailover.failover.runs", pair=options.pair,
                                        outcome="succeeded")) == 1
    for instrument, key in (("detection_time", "detect_s"), ("flip_time", "flip_s"), ("recovery_time", "recover_s"),
                            ("total_time", "total_s")):
        [histogram] = points(collected, f"hubfailover.failover.{instrument}", pair=options.pair)
        assert histogram.count == 1 and abs(histogram.sum - report["durations"][key]) < 1e-6, instrument
    for kind, counts in report["artifacts"].items():
        for result in ("recreated", "already_present"):
            got = sum(p.value for p in points(collected, "hubfailover.recovery.items", pair=options.pair, kind=kind,
                                              result=result))
            assert got == counts[result], (kind, result)
    assert sum(p.value for p in points(collected, "hubfailover.recovery.items", pair=options.pair, kind="job",
                                        result="resubmitted")) == report["jobs"]["resubmitted"]


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000_000)


def test_the_readiness_timer_sets_its_gauges_in_a_decision_span(azurite: AzuriteEndpoints) -> None:
    exporter, reader = capture()
    options = world_options()
    scenario = prepare(options, azurite.connection_string)
    from triggers.readiness import check_all

    [(pair, result)] = [r for r in check_all() if r[0] == scenario.pair]
    assert result["ready"] is True, result["reasons"]
    collected = reader.get_metrics_data()
    [ready] = points(collected, "hubfailover.readiness", pair=pair)
    assert ready.value == 1
    [age] = points(collected, "hubfailover.catalog.age", pair=pair)
    assert age.value == result["catalog"]["age_seconds"]
    [drift] = points(collected, "hubfailover.readiness.drift", pair=pair, kind="model")
    assert drift.value == result["drift"]["to_recreate"]["model"]
    [span] = [s for s in exporter.get_finished_spans()
              if s.name == "decision readiness" and s.attributes.get("hubfailover.pair") == pair]
    assert span.attributes["hubfailover.ready"] is True and span.attributes["hubfailover.reasons"] == 0

    scenario.secondary.set_computes([])  # not ready now: the gauge says 0
    check_all()
    [not_ready] = points(reader.get_metrics_data(), "hubfailover.readiness", pair=pair)
    assert not_ready.value == 0
