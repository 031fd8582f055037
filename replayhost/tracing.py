"""The Durable extension's distributed tracing (V2), played locally: the spans it emits for our instances.

On Azure, with ``extensions.durableTask.tracing`` on (host.json), the extension emits one span per
orchestration instance (``orchestration:{name}``, child of whatever started it) and one per activity
call (``activity:{name}``, child of the orchestration's), and the Python worker makes the invocation's
span current while our code runs. So a span our code starts in an activity (failover.telemetry)
lands under ``activity:{name}``, and a stage span the orchestrator emits lands under
``orchestration:{name}``. The replay host does the same here, so a drill produces the tree Azure would.

OpenTelemetry API only: without a configured SDK this is a no-op. An instance resumed from storage by
another process gets a new orchestration span (the first one's process is gone).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

_tracer = trace.get_tracer("replayhost.durabletask")


class DurableTracing:
    def __init__(self) -> None:
        self._spans: dict[str, Span] = {}
        self._lock = threading.Lock()

    def started(self, instance_id: str, name: str, parent: otel_context.Context | None = None) -> None:
        """An instance was created (``parent``: the caller's context at start_new, or the parent instance's)."""
        span = _tracer.start_span(f"orchestration:{name}", context=parent, kind=SpanKind.SERVER, attributes={
            "durabletask.type": "orchestration", "durabletask.task.name": name,
            "durabletask.task.instance_id": instance_id})
        with self._lock:
            previous = self._spans.pop(instance_id, None)
            self._spans[instance_id] = span
        if previous is not None:
            previous.end()  # continued as new, or restarted: the old execution's span ends here

    def context_of(self, instance_id: str) -> otel_context.Context | None:
        with self._lock:
            span = self._spans.get(instance_id)
        return trace.set_span_in_context(span) if span is not None else None

    def finished(self, instance_id: str, status: str, failed: bool = False) -> None:
        with self._lock:
            span = self._spans.pop(instance_id, None)
        if span is None:
            return
        span.set_attribute("durabletask.runtime_status", status)
        if failed:
            span.set_status(Status(StatusCode.ERROR, status))
        span.end()

    def _ensure(self, instance_id: str, name: str) -> otel_context.Context | None:
        context = self.context_of(instance_id)
        if context is None:  # resumed from storage by this process
            self.started(instance_id, name)
            context = self.context_of(instance_id)
        return context

    @contextmanager
    def orchestrator(self, instance_id: str, name: str) -> Iterator[None]:
        """An orchestrator episode runs with its instance's span current (as the worker attaches it)."""
        token = otel_context.attach(self._ensure(instance_id, name) or otel_context.get_current())
        try:
            yield
        finally:
            otel_context.detach(token)

    @contextmanager
    def activity(self, instance_id: str, orchestration: str, name: str, task_id: int) -> Iterator[Span]:
        """One activity call: its span, child of the instance's, current while the activity runs."""
        parent = self._ensure(instance_id, orchestration)
        with _tracer.start_as_current_span(f"activity:{name}", context=parent, kind=SpanKind.SERVER, attributes={
                "durabletask.type": "activity", "durabletask.task.name": name,
                "durabletask.task.instance_id": instance_id, "durabletask.task.task_id": task_id},
                record_exception=False) as span:
            yield span
