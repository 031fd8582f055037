"""What hubfailover emits through OpenTelemetry: spans and metrics, API calls only.

The OpenTelemetry API is a plain library: without a configured SDK every call here is a no-op.
The exporter (Azure Monitor, to Application Insights) is configured at the entry point
(function_app.py, or the Python worker itself with PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY),
never here. docs/telemetry.md lists every span, attribute and metric, and the Kusto queries.

Attributes carry ids, names, counts and outcomes: never a spec, a secret, a connection string or
a free-text error body (errors are counted; their text stays in the report and the audit).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

SCOPE = "hubfailover"
PREFIX = "hubfailover."

_tracer = trace.get_tracer(SCOPE)
_meter = metrics.get_meter(SCOPE)

# Durations of a run (seconds): how long detection, the flip and recovery took, and the whole (the RTO).
DETECTION_TIME = _meter.create_histogram("hubfailover.failover.detection_time", unit="s",
                                         description="Outage (first failed probe or alert) to detection")
FLIP_TIME = _meter.create_histogram("hubfailover.failover.flip_time", unit="s",
                                    description="Run start to the pointer flip")
RECOVERY_TIME = _meter.create_histogram("hubfailover.failover.recovery_time", unit="s",
                                        description="Flip (or start) to the end of recovery")
TOTAL_TIME = _meter.create_histogram("hubfailover.failover.total_time", unit="s",
                                     description="Outage (or start) to the end: the measured RTO")
RUNS = _meter.create_counter("hubfailover.failover.runs", unit="{run}", description="Finished runs by outcome")
ITEMS = _meter.create_counter("hubfailover.recovery.items", unit="{item}",
                              description="Items a run handled, per kind and result")
CATALOG_AGE = _meter.create_gauge("hubfailover.catalog.age", unit="s",
                                  description="Age of the active hub's catalog (the metadata RPO)")
READINESS_METRIC = "hubfailover.readiness"  # infra/modules/readiness-alert.bicep alerts on it
READINESS = _meter.create_gauge(READINESS_METRIC, unit="1",
                                description="1 when the standby could take over now, 0 when not")
READINESS_REASONS = _meter.create_gauge("hubfailover.readiness.reasons", unit="{reason}",
                                        description="Reasons the standby could not take over now")
DRIFT = _meter.create_gauge("hubfailover.readiness.drift", unit="{item}",
                            description="Items a failover would have to recreate now, per kind")

Value = str | bool | int | float


def attributes(values: Mapping[str, Any]) -> dict[str, Value]:
    """``hubfailover.``-prefixed attributes; None dropped, anything not a plain value turned into a string."""
    out: dict[str, Value] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = key if key.startswith(PREFIX) else PREFIX + key
        out[name] = value if isinstance(value, str | bool | int | float) else str(value)
    return out


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


@contextmanager
def span(name: str, *, span_kind: SpanKind = SpanKind.INTERNAL, **values: Any) -> Iterator[Span]:
    """A span around a block, current while it runs; an exception marks it failed (type only, never the text)."""
    with _tracer.start_as_current_span(name, kind=span_kind, attributes=attributes(values),
                                       record_exception=False, set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            current.set_attribute(PREFIX + "error.type", type(exc).__name__)
            raise


def annotate(current: Span, **values: Any) -> None:
    """More attributes on a span, once known (counts, outcome)."""
    current.set_attributes(attributes(values))


# -- trigger decisions -----------------------------------------------------------------------------

def decision(kind: str, pair: str | None, **values: Any) -> Any:
    """The span of one trigger decision (probe, alert, operator, failback, readiness)."""
    return span(f"decision {kind}", pair=pair, decision=kind, **values)


# -- orchestration stages --------------------------------------------------------------------------

def stage_span(stage: Mapping[str, Any]) -> None:
    """A finished stage of a run, as a span with its orchestration-time start and end.

    The orchestrator calls this once per stage, when the stage ends and only when it is not replaying;
    the span is created and ended at once (an orchestrator episode can't hold a span open).
    """
    start, end = stage.get("started_at"), stage.get("ended_at")
    if not start or not end:
        return
    current = _tracer.start_span(f"stage {stage['stage']}", start_time=_ns(datetime.fromisoformat(start)),
                                 attributes=attributes({"stage": stage["stage"], "pair": stage.get("pair"),
                                                        "instance_id": stage.get("instance_id"),
                                                        "run": stage.get("run")}))
    current.end(end_time=_ns(datetime.fromisoformat(end)))


# -- activities --------------------------------------------------------------------------------------

_ACTIVITY_IDS = ("pair", "instance_id", "run", "kind", "chunk", "source", "target")


def activity(name: str, payload: Mapping[str, Any]) -> Any:
    """The span of one activity call, with the ids of its input (never the input itself)."""
    ids: dict[str, Any] = {key: payload.get(key) for key in _ACTIVITY_IDS}
    return span(f"activity {name}", activity=name, **ids)


def counted(current: Span, result: Mapping[str, Any]) -> None:
    """An activity's counts (and only its counts) on its span."""
    counts = {f"count.{key}": value for key, value in result.items()
              if isinstance(value, int) and not isinstance(value, bool)}
    errors = result.get("errors")
    if isinstance(errors, list):
        counts["count.errors"] = len(errors)
    annotate(current, **counts)


# -- run and readiness metrics --------------------------------------------------------------------

def record_run(report: Mapping[str, Any]) -> None:
    """The metrics of a finished run, from its report: durations, outcome, items per kind and result."""
    base = attributes({"pair": report.get("pair"), "mode": report.get("mode"), "trigger": report.get("trigger"),
                       "dry_run": bool(report.get("dry_run")), "drill": bool(report.get("drill"))})
    durations = report.get("durations") or {}
    for instrument, key in ((DETECTION_TIME, "detect_s"), (FLIP_TIME, "flip_s"), (RECOVERY_TIME, "recover_s"),
                            (TOTAL_TIME, "total_s")):
        value = durations.get(key)
        if isinstance(value, int | float):
            instrument.record(float(value), base)
    RUNS.add(1, {**base, PREFIX + "outcome": str(report.get("outcome"))})
    jobs = report.get("jobs") or {}
    for result in ("resubmitted", "already_present", "failed", "skipped"):
        if jobs.get(result):
            ITEMS.add(int(jobs[result]), {**base, PREFIX + "kind": "job", PREFIX + "result": result})
    for kind, counts in (report.get("artifacts") or {}).items():
        for result in ("recreated", "already_present", "failed"):
            if counts.get(result):
                ITEMS.add(int(counts[result]), {**base, PREFIX + "kind": kind, PREFIX + "result": result})
    for kind, counts in (report.get("activation") or {}).items():
        for result in ("activated", "already_active", "pending", "failed"):
            if counts.get(result):
                ITEMS.add(int(counts[result]), {**base, PREFIX + "kind": kind, PREFIX + "result": result})


def record_readiness(pair: str, readiness: Mapping[str, Any]) -> None:
    """A readiness check's gauges: ready (1/0), the number of reasons, catalog age, drift per kind."""
    base = attributes({"pair": pair})
    READINESS.set(1 if readiness.get("ready") else 0, base)
    READINESS_REASONS.set(len(readiness.get("reasons") or []), base)
    catalog = readiness.get("catalog") or {}
    if isinstance(catalog.get("age_seconds"), int | float):
        CATALOG_AGE.set(float(catalog["age_seconds"]), {**base, PREFIX + "hub": str(catalog.get("hub"))})
    for kind, count in ((readiness.get("drift") or {}).get("to_recreate") or {}).items():
        DRIFT.set(int(count), {**base, PREFIX + "kind": kind})
