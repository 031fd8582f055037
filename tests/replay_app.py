"""A DFApp of small orchestrations that exercise every replay-host feature.

Test code, not product code: the product's orchestrations live in orchestrations/.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

app = df.DFApp()

# Shared test probes (per process): attempts per key, concurrency high-water mark.
ATTEMPTS: dict[str, int] = {}
CONCURRENCY = {"now": 0, "max": 0}
_lock = threading.Lock()
NONDETERMINISTIC_CALLS = {"n": 0}


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="payload")
def slow_double(payload: dict[str, Any]) -> int:
    with _lock:
        CONCURRENCY["now"] += 1
        CONCURRENCY["max"] = max(CONCURRENCY["max"], CONCURRENCY["now"])
    time.sleep(payload.get("sleep", 0.01))
    with _lock:
        CONCURRENCY["now"] -= 1
    return int(payload["value"]) * 2


@app.activity_trigger(input_name="payload")
def flaky(payload: dict[str, Any]) -> str:
    """Fails the first `fail` attempts for its key, then succeeds."""
    key = payload["key"]
    with _lock:
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
        attempt = ATTEMPTS[key]
    if attempt <= payload["fail"]:
        raise RuntimeError(f"attempt {attempt} of {key} failed")
    return f"{key} ok after {attempt}"


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    a = yield context.call_activity("double", 1)
    b = yield context.call_activity("double", a)
    c = yield context.call_activity("double", b)
    return [a, b, c]


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    n = spec["n"] if isinstance(spec, dict) else int(spec)
    activity = spec.get("activity", "double") if isinstance(spec, dict) else "double"
    sleep = spec.get("sleep", 0.0) if isinstance(spec, dict) else 0.0
    if activity == "slow_double":
        tasks = [context.call_activity(activity, {"value": i, "sleep": sleep}) for i in range(n)]
    else:
        tasks = [context.call_activity(activity, i) for i in range(n)]
    results = yield context.task_all(tasks)
    context.set_custom_status({"done": len(results)})
    return results


@app.orchestration_trigger(context_name="context")
def first_of(context: df.DurableOrchestrationContext):
    winner = yield context.task_any([context.call_activity("double", 5), context.call_activity("double", 7)])
    return winner.result


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=spec.get("interval_ms", 1000),
                              max_number_of_attempts=spec["max_attempts"])
    before = yield context.call_activity("double", 1)
    try:
        results = yield context.task_all([
            context.call_activity_with_retry("flaky", options, {"key": k, "fail": f})
            for k, f in spec["plan"].items()
        ])
    except Exception as exc:  # the final failure surfaces as a plain exception
        return {"before": before, "error": str(exc), "at": context.current_utc_datetime.isoformat()}
    after = yield context.call_activity("double", before)
    return {"before": before, "results": results, "after": after, "at": context.current_utc_datetime.isoformat()}


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(hours=2))
    return (context.current_utc_datetime - start).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    deadline = context.current_utc_datetime + timedelta(minutes=30)
    timer = context.create_timer(deadline)
    answer = context.wait_for_external_event("approval")
    context.set_custom_status({"stage": "awaiting_approval"})
    winner = yield context.task_any([answer, timer])
    if winner == answer:
        timer.cancel()
        return {"decision": answer.result}
    return {"decision": "timeout"}


@app.orchestration_trigger(context_name="context")
def early_event(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("double", 2)
    go = yield context.wait_for_external_event("go")
    return {"first": first, "go": go}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    child = yield context.call_sub_orchestrator("fan_out", {"n": 3}, f"{context.instance_id}-child")
    try:
        yield context.call_sub_orchestrator("boom", None)
    except Exception as exc:
        return {"child": child, "failed_child": str(exc).split("\n")[0]}
    return {"child": child}


@app.orchestration_trigger(context_name="context")
def boom(context: df.DurableOrchestrationContext):
    yield context.call_activity("double", 1)
    raise ValueError("boom: the orchestrator failed")


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    n = context.get_input() or 0
    value = yield context.call_activity("double", n)
    if n < 3:
        context.continue_as_new(n + 1)
        return None
    return {"n": n, "value": value}


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    NONDETERMINISTIC_CALLS["n"] += 1
    # A bug on purpose: the activity depends on process state, not on history.
    name = "double" if NONDETERMINISTIC_CALLS["n"] % 2 else "slow_double"
    first = yield context.call_activity(name, 1 if name == "double" else {"value": 1})
    second = yield context.call_activity("double", first)
    return second
