"""The replay host: runs DFApp orchestrations the way the Durable extension does.

Each episode sends the SDK the context JSON (history so far + new events), reads the
cumulative action list back, checks the replayed actions against history, appends the
new scheduled events and dispatches the work. Activities run on a bounded pool and come
back as completion events; timers fire on a virtual clock (or real time); retries are the
host's job, as on Azure. State is saved after every episode, so a killed process resumes
from the store and runs again whatever was in flight (at-least-once).
"""

from __future__ import annotations

import heapq
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from opentelemetry import context as otel_context

from replayhost.clock import Clock, VirtualClock
from replayhost.functions import function_table, host_max_concurrent_activities
from replayhost.history import (
    SCHEDULING_ACTIONS,
    ActionType,
    EventType,
    action_name,
    event,
    execution_started,
    flatten_actions,
    format_timestamp,
    parse_timestamp,
    scheduled_name,
)
from replayhost.state import InstanceState, InstanceStatus, RetryChain, RuntimeStatus
from replayhost.store import InstanceStore, MemoryStore
from replayhost.tracing import DurableTracing

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
_INSTANCE_ID = re.compile(r"^[^/\\#?\x00-\x1f\x7f]{1,100}$")


class ReplayHostError(Exception):
    """Base of the errors the host's client operations raise."""


class InstanceAlreadyRunning(ReplayHostError):
    pass


class InstanceNotFound(ReplayHostError):
    pass


class InstanceNotRunning(ReplayHostError):
    pass


class UnknownOrchestrator(ReplayHostError):
    pass


@dataclass(frozen=True)
class Delivery:
    """How completions reach the orchestrator: all at once (Azure's batching) or in small batches.

    Small batches and shuffling are for tests: the final state must not depend on them.
    """

    batch_size: int | None = None
    shuffle_seed: int | None = None
    # Hold an instance's completions up to this long while more of its activities are in
    # flight: fewer, larger episodes. Each episode replays the whole history, so a fan-out
    # of n delivered one by one costs O(n^2) replayed events; coalesced, O(n).
    coalesce_ms: float = 0.0


class ReplayHost:
    def __init__(
        self,
        app: df.DFApp,
        *,
        store: InstanceStore | None = None,
        clock: Clock | None = None,
        max_activity_workers: int | None = None,
        delivery: Delivery | None = None,
        check_inputs: bool = False,
        on_activity_done: Callable[[str, str, int], None] | None = None,
        resume: bool = True,
    ) -> None:
        self.functions = function_table(app)
        self.tracing = DurableTracing()  # the spans the Durable extension's tracing V2 emits
        self.store: InstanceStore = store or MemoryStore()
        self.clock: Clock = clock or VirtualClock()
        self.max_activity_workers = max_activity_workers or host_max_concurrent_activities()
        self.delivery = delivery or Delivery()
        self.check_inputs = check_inputs
        self.on_activity_done = on_activity_done
        self._rng = random.Random(self.delivery.shuffle_seed)
        self._pool = ThreadPoolExecutor(self.max_activity_workers, thread_name_prefix="activity")
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._instances: dict[str, InstanceState] = {}
        self._in_flight: set[tuple[str, int]] = set()
        self._pending_since: dict[str, float] = {}  # first undelivered completion, for coalescing
        self._timers: list[tuple[datetime, str, str, int]] = []  # (fire_at, instance, execution, id)
        self._background: threading.Thread | None = None
        self._stopping = False
        self.activities_completed = 0
        if resume:
            self._resume_from_store()

    # ------------------------------------------------------------------ client operations

    def start_new(self, name: str, instance_id: str | None = None, client_input: Any = None, *,
                  override: bool = False) -> str:
        if name not in self.functions.orchestrators:
            raise UnknownOrchestrator(f"no orchestrator named {name!r} is registered")
        instance_id = instance_id or uuid.uuid4().hex
        if not _INSTANCE_ID.match(instance_id):
            raise ValueError(f"instance id {instance_id!r} is not valid (1-100 chars, none of / \\ # ?)")
        with self._lock:
            existing = self._find(instance_id)
            if existing is not None and not existing.status.is_terminal and not override:
                raise InstanceAlreadyRunning(
                    f"instance {instance_id!r} is {existing.status.value}; start refused (singleton)")
            self._create(name, instance_id, json.dumps(client_input), parent=None,
                         caller=otel_context.get_current())
        return instance_id

    def get_status(self, instance_id: str, *, show_history: bool = False) -> InstanceStatus | None:
        with self._lock:
            state = self._find(instance_id)
            return self._status_of(state, show_history) if state else None

    def _running(self, instance_id: str) -> InstanceState:
        """The instance, if it exists and still runs (else the error the Durable API gives)."""
        state = self._find(instance_id)
        if state is None:
            raise InstanceNotFound(f"no instance {instance_id!r}")
        if state.status.is_terminal:
            raise InstanceNotRunning(f"instance {instance_id!r} is {state.status.value}")
        return state

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        with self._lock:
            state = self._running(instance_id)
            state.inbox.append(event(EventType.EVENT_RAISED, self.clock.now(), Name=event_name,
                                     Input=json.dumps(data)))
            self.store.save(state)  # raised events can't be re-derived: persist before answering
            self._changed.notify_all()

    def terminate(self, instance_id: str, reason: str = "") -> None:
        with self._lock:
            state = self._running(instance_id)
            state.status = RuntimeStatus.TERMINATED
            state.output = reason
            self.tracing.finished(instance_id, state.status.value, failed=True)
            state.inbox.clear()
            state.last_updated_at = self.clock.now()
            self.store.save(state)
            self._changed.notify_all()

    def list_instances(self, statuses: set[RuntimeStatus] | None = None) -> list[InstanceStatus]:
        with self._lock:
            by_id = {s.instance_id: s for s in self.store.load_all()}
            by_id.update(self._instances)
            return [self._status_of(s, False) for s in sorted(by_id.values(), key=lambda s: s.created_at)
                    if statuses is None or s.status in statuses]

    def purge(self, instance_id: str) -> bool:
        with self._lock:
            state = self._find(instance_id)
            if state is None:
                return False
            if not state.status.is_terminal:
                raise InstanceNotRunning(f"instance {instance_id!r} is {state.status.value}; terminate it first")
            self._instances.pop(instance_id, None)
            self.store.delete(instance_id)
            return True

    # ------------------------------------------------------------------ drivers

    def run_until_idle(self, timeout: float | None = 300.0,
                       stop_when: Callable[[], bool] | None = None) -> None:
        """Run episodes, activities and timers until nothing can make progress.

        Idle means: no new events, no activity in flight, and no timer left (virtual clock)
        or only instances waiting for external events. ``stop_when`` is checked after every
        step, before a virtual timer fires, so a test can act (e.g. raise an approval).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if stop_when is not None and stop_when():
                    return
                if self._step():
                    continue
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("replay host still busy at timeout")
                if self._in_flight:
                    self._changed.wait(0.01 if self.delivery.coalesce_ms else 0.05)
                    continue
                if not self._fire_next_timer(wait=True):
                    return

    def wait_for(self, instance_id: str, timeout: float = 300.0) -> InstanceStatus:
        """Drive (or, with a background loop, wait) until the instance is terminal."""
        if self._background is None:
            self.run_until_idle(timeout, stop_when=lambda: self._is_terminal(instance_id))
        else:
            deadline = time.monotonic() + timeout
            with self._lock:
                while not self._is_terminal(instance_id) and time.monotonic() < deadline:
                    self._changed.wait(0.05)
        status = self.get_status(instance_id)
        if status is None:
            raise InstanceNotFound(instance_id)
        return status

    def start_background(self) -> None:
        """Run the loop on a thread (for `serve`): episodes, activities and timers as they come."""
        if self._background is not None:
            return
        self._stopping = False
        self._background = threading.Thread(target=self._run_forever, name="replayhost", daemon=True)
        self._background.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
        if self._background is not None:
            self._background.join(timeout=10)
            self._background = None
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run_forever(self) -> None:
        with self._lock:
            while not self._stopping:
                if self._step():
                    continue
                if not self._in_flight and self._fire_next_timer(wait=False):
                    continue
                self._changed.wait(self._seconds_to_next_timer())

    # ------------------------------------------------------------------ scheduling core

    def _step(self) -> bool:
        """Run one episode of one instance with pending events. False when none is ready."""
        for state in self._instances.values():
            if state.inbox and not state.status.is_terminal and self._ready(state):
                self._episode(state)
                return True
        return False

    def _ready(self, state: InstanceState) -> bool:
        window = self.delivery.coalesce_ms / 1000
        if window <= 0 or not any(iid == state.instance_id for iid, _ in self._in_flight):
            return True
        since = self._pending_since.setdefault(state.instance_id, time.monotonic())
        return time.monotonic() - since >= window

    def _fire_next_timer(self, *, wait: bool) -> bool:
        while self._timers:
            fire_at, instance_id, execution_id, timer_id = self._timers[0]
            state = self._instances.get(instance_id)
            if (state is None or state.execution_id != execution_id or state.status.is_terminal
                    or timer_id in state.canceled_timers):
                heapq.heappop(self._timers)
                continue
            if not self.clock.virtual:
                remaining = (fire_at - self.clock.now()).total_seconds()
                if remaining > 0:
                    if not wait:
                        return False
                    self._changed.wait(min(remaining, 0.5))
                    return True
            heapq.heappop(self._timers)
            self.clock.advance_to(fire_at)
            state.inbox.append(event(EventType.TIMER_FIRED, fire_at, TimerId=timer_id,
                                     FireAt=format_timestamp(fire_at)))
            return True
        return False

    def _seconds_to_next_timer(self) -> float:
        if not self._timers or self.clock.virtual:
            return 0.5
        return max(0.0, min(0.5, (self._timers[0][0] - self.clock.now()).total_seconds()))

    def _episode(self, state: InstanceState) -> None:
        now = self.clock.now()
        self._pending_since.pop(state.instance_id, None)
        batch = self._take_batch(state)
        chains = _chains_by_id(state)
        allocating = [e for e in batch if _allocates(e, chains)]
        normal = [e for e in batch if not _allocates(e, chains)]
        # The SDK gives retry timers and re-attempts the next sequence id *when it processes*
        # the failure or the timer; keeping those events last makes the ids it takes the ones
        # after this episode's new actions, which is how the host numbers them below.
        new_events = [event(EventType.ORCHESTRATOR_STARTED, now), *normal, *allocating]
        sdk_history = state.history + new_events
        result, error = self._invoke(state, sdk_history)
        state.episodes += 1
        state.events_replayed += len(sdk_history)

        appended: list[dict[str, Any]] = []
        leaves = flatten_actions(result.get("actions") or [])
        try:
            new_actions, leaf_ids = self._match_history(state, leaves, error is not None)
        except NonDeterminism as exc:
            self._finish(state, new_events, [], RuntimeStatus.FAILED, str(exc), now)
            return

        work: list[Callable[[], None]] = []
        sequence = state.next_sequence()
        for action in new_actions:
            appended.append(self._schedule(state, action, sequence, now, work))
            leaf_ids.append(sequence)
            sequence += 1
        for ev in allocating:
            appended.append(self._schedule_retry(state, chains[_completion_id(ev)], ev, sequence, now, work))
            sequence += 1
        scheduling = [a for a in leaves if a.get("actionType") in SCHEDULING_ACTIONS]
        for leaf, leaf_id in zip(scheduling, leaf_ids, strict=False):
            if leaf.get("actionType") == ActionType.CREATE_TIMER and leaf.get("isCanceled"):
                state.canceled_timers.add(leaf_id)

        if "customStatus" in result:
            state.custom_status = result["customStatus"]
        continue_as_new = next((a for a in leaves if a.get("actionType") == ActionType.CONTINUE_AS_NEW), None)
        if error is not None:
            self._finish(state, new_events, appended, RuntimeStatus.FAILED, error, now)
        elif result.get("isDone") and continue_as_new is not None:
            self._continue_as_new(state, continue_as_new.get("input"), now)
        elif result.get("isDone"):
            self._finish(state, new_events, appended, RuntimeStatus.COMPLETED, result.get("output"), now)
        else:
            self._append(state, new_events, appended, now)
            state.status = RuntimeStatus.RUNNING
            self.store.save(state)
            for start in work:  # after the save: work is only dispatched once it is on record
                start()

    def _invoke(self, state: InstanceState, history: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
        context = {
            "history": history, "input": state.input, "instanceId": state.instance_id,
            "isReplaying": len(state.history) > 0, "parentInstanceId": state.parent_instance_id,
            "upperSchemaVersion": 1, "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00", "maximumShortTimerDuration": "6.00:00:00",
        }
        handle = self.functions.orchestrators[state.name]
        try:
            with self.tracing.orchestrator(state.instance_id, state.name):
                return json.loads(handle(func.OrchestrationContext(json.dumps(context)))), None
        except Exception as exc:  # the SDK reports orchestrator failures as exceptions
            message = str(exc)
            if OUT_OF_PROC_MARKER in message:
                head, data = message.split(OUT_OF_PROC_MARKER, 1)
                payload = json.loads(data)
                return payload, payload.get("error") or head
            return {"isDone": False, "actions": []}, f"{type(exc).__name__}: {message}"

    def _match_history(self, state: InstanceState, leaves: list[dict[str, Any]],
                       failing: bool) -> tuple[list[dict[str, Any]], list[int]]:
        """Compare replayed actions with recorded ones; return the new actions and known ids."""
        recorded = [e for i, e in sorted(state.scheduled().items()) if i not in state.host_ids]
        scheduling = [a for a in leaves if a.get("actionType") in SCHEDULING_ACTIONS]
        for index, recorded_event in enumerate(recorded):
            if index >= len(scheduling):
                if failing:
                    break
                raise NonDeterminism(
                    f"Non-deterministic orchestrator {state.name!r} ({state.instance_id}): history has "
                    f"{len(recorded)} scheduled tasks but the replay produced only {len(scheduling)}")
            action = scheduling[index]
            expected = (EventType(recorded_event["EventType"]).name, scheduled_name(recorded_event))
            got = (SCHEDULING_ACTIONS[ActionType(action["actionType"])].name, action_name(action))
            if expected != got:
                raise NonDeterminism(
                    f"Non-deterministic orchestrator {state.name!r} ({state.instance_id}) at task "
                    f"{recorded_event['EventId']}: history has {expected[0]} {expected[1]!r}, "
                    f"replay produced {got[0]} {got[1]!r}")
            if (self.check_inputs and "input" in action
                    and action.get("input") != recorded_event.get("Input")):
                raise NonDeterminism(
                    f"Non-deterministic orchestrator {state.name!r} ({state.instance_id}) at task "
                    f"{recorded_event['EventId']} {expected[1]!r}: input differs from history")
        return scheduling[len(recorded):], [int(e["EventId"]) for e in recorded]

    def _schedule(self, state: InstanceState, action: dict[str, Any], sequence: int, now: datetime,
                  work: list[Callable[[], None]]) -> dict[str, Any]:
        kind = ActionType(action["actionType"])
        retry = action.get("retryOptions")
        if kind == ActionType.CREATE_TIMER:
            fire_at = parse_timestamp(action["fireAt"])
            if not action.get("isCanceled"):
                work.append(lambda: self._add_timer(state, fire_at, sequence))
            return event(EventType.TIMER_CREATED, now, sequence, FireAt=action["fireAt"])
        name = str(action["functionName"])
        payload = action.get("input")
        if kind in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
            if retry:
                state.retry_chains[sequence] = _chain("activity", name, payload, retry, sequence, None)
            work.append(lambda: self._dispatch_activity(state, sequence, name, payload))
            return event(EventType.TASK_SCHEDULED, now, sequence, Name=name, Input=payload)
        if kind in (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            child_id = action.get("instanceId") or f"{state.instance_id}:{sequence}"
            if retry:
                state.retry_chains[sequence] = _chain("suborchestration", name, payload, retry, sequence, child_id)
            work.append(lambda: self._start_child(state, sequence, name, child_id, payload))
            return event(EventType.SUB_ORCHESTRATION_CREATED, now, sequence, Name=name, InstanceId=child_id,
                         Input=payload)
        raise ReplayHostError(f"action type {kind.name} is not supported by the replay host")

    def _schedule_retry(self, state: InstanceState, chain: RetryChain, failure_or_timer: dict[str, Any],
                        sequence: int, now: datetime, work: list[Callable[[], None]]) -> dict[str, Any]:
        state.host_ids.add(sequence)
        if failure_or_timer["EventType"] in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
            fire_at = now + timedelta(milliseconds=chain.delay_ms())
            chain.timers.append(sequence)
            work.append(lambda: self._add_timer(state, fire_at, sequence))
            return event(EventType.TIMER_CREATED, now, sequence, FireAt=format_timestamp(fire_at))
        chain.attempts.append(sequence)
        if chain.kind == "activity":
            work.append(lambda: self._dispatch_activity(state, sequence, chain.name, chain.input))
            return event(EventType.TASK_SCHEDULED, now, sequence, Name=chain.name, Input=chain.input)
        child_id = str(chain.instance_id)
        work.append(lambda: self._start_child(state, sequence, chain.name, child_id, chain.input))
        return event(EventType.SUB_ORCHESTRATION_CREATED, now, sequence, Name=chain.name, InstanceId=child_id,
                     Input=chain.input)

    def _append(self, state: InstanceState, new_events: list[dict[str, Any]], appended: list[dict[str, Any]],
                now: datetime) -> None:
        for ev in new_events:
            ev["IsPlayed"] = True
        state.history.extend(new_events)
        state.history.extend({**ev, "IsPlayed": True} for ev in appended)
        state.history.append(event(EventType.ORCHESTRATOR_COMPLETED, now))
        state.last_updated_at = now

    def _finish(self, state: InstanceState, new_events: list[dict[str, Any]], appended: list[dict[str, Any]],
                status: RuntimeStatus, output: Any, now: datetime) -> None:
        self._append(state, new_events, appended, now)
        state.history.append(event(EventType.EXECUTION_COMPLETED, now, OrchestrationStatus=status.value,
                                   Result=json.dumps(output)))
        state.status = status
        state.output = output
        self.store.save(state)
        self.tracing.finished(state.instance_id, status.value, failed=status != RuntimeStatus.COMPLETED)
        self._notify_parent(state)
        self._changed.notify_all()

    def _continue_as_new(self, state: InstanceState, new_input: str | None, now: datetime) -> None:
        state.execution_id = uuid.uuid4().hex
        state.input = new_input
        state.history = []
        state.retry_chains = {}
        state.host_ids = set()
        state.canceled_timers = set()
        # Events raised but not yet delivered carry over to the new execution.
        raised = [e for e in state.inbox if e["EventType"] == EventType.EVENT_RAISED]
        state.inbox = [execution_started(now, state.name, state.instance_id, state.execution_id, new_input,
                                         self._parent_ref(state)), *raised]
        state.status = RuntimeStatus.RUNNING
        state.last_updated_at = now
        self.store.save(state)
        self.tracing.started(state.instance_id, state.name)

    # ------------------------------------------------------------------ work

    def _dispatch_activity(self, state: InstanceState, sequence: int, name: str, payload: str | None) -> None:
        key = (state.instance_id, sequence)
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        self._pool.submit(self._run_activity, state.instance_id, state.execution_id, sequence, name, payload,
                          state.name)

    def _run_activity(self, instance_id: str, execution_id: str, sequence: int, name: str,
                      payload: str | None, orchestration: str = "") -> None:
        activity = self.functions.activities.get(name)
        try:
            if activity is None:
                raise LookupError(f"no activity named {name!r} is registered")
            with self.tracing.activity(instance_id, orchestration, name, sequence):
                result = activity(json.loads(payload) if payload is not None else None)
            done = event(EventType.TASK_COMPLETED, self.clock.now(), TaskScheduledId=sequence,
                         Result=json.dumps(result))
        except Exception as exc:  # an activity failure is data for the orchestrator, not a host crash
            done = event(EventType.TASK_FAILED, self.clock.now(), TaskScheduledId=sequence,
                         Reason=str(exc) or type(exc).__name__, Details=type(exc).__name__)
        with self._lock:
            self._in_flight.discard((instance_id, sequence))
            state = self._instances.get(instance_id)
            if state is not None and state.execution_id == execution_id and not state.status.is_terminal:
                state.inbox.append(done)
                self._pending_since.setdefault(instance_id, time.monotonic())
            self.activities_completed += 1
            self._changed.notify_all()
        if self.on_activity_done is not None:
            self.on_activity_done(instance_id, name, self.activities_completed)

    def _add_timer(self, state: InstanceState, fire_at: datetime, timer_id: int) -> None:
        heapq.heappush(self._timers, (fire_at, state.instance_id, state.execution_id, timer_id))

    def _start_child(self, parent: InstanceState, sequence: int, name: str, child_id: str,
                     payload: str | None) -> None:
        if name not in self.functions.orchestrators:
            parent.inbox.append(event(EventType.SUB_ORCHESTRATION_FAILED, self.clock.now(),
                                      TaskScheduledId=sequence, Reason=f"no orchestrator named {name!r}",
                                      Details="UnknownOrchestrator"))
            return
        existing = self._find(child_id)
        if existing is not None and existing.parent_instance_id == parent.instance_id \
                and existing.parent_task_id == sequence:
            if existing.status.is_terminal:  # finished before a crash: deliver its result again
                self._notify_parent(existing)
            return
        self._create(name, child_id, payload, parent=(parent.instance_id, sequence))

    def _notify_parent(self, child: InstanceState) -> None:
        if child.parent_instance_id is None or child.parent_task_id is None:
            return
        parent = self._instances.get(child.parent_instance_id)
        if parent is None or parent.status.is_terminal:
            return
        now = self.clock.now()
        if child.status == RuntimeStatus.COMPLETED:
            parent.inbox.append(event(EventType.SUB_ORCHESTRATION_COMPLETED, now,
                                      TaskScheduledId=child.parent_task_id, Result=json.dumps(child.output)))
        else:
            parent.inbox.append(event(EventType.SUB_ORCHESTRATION_FAILED, now, TaskScheduledId=child.parent_task_id,
                                      Reason=str(child.output), Details=child.status.value))

    # ------------------------------------------------------------------ bookkeeping

    def _create(self, name: str, instance_id: str, input_json: str | None,
                parent: tuple[str, int] | None, caller: otel_context.Context | None = None) -> InstanceState:
        now = self.clock.now()
        execution_id = uuid.uuid4().hex
        state = InstanceState(instance_id=instance_id, name=name, input=input_json, created_at=now,
                              last_updated_at=now, execution_id=execution_id,
                              parent_instance_id=parent[0] if parent else None,
                              parent_task_id=parent[1] if parent else None)
        state.inbox.append(execution_started(now, name, instance_id, execution_id, input_json,
                                             self._parent_ref(state)))
        self._instances[instance_id] = state
        self.store.save(state)
        self.tracing.started(instance_id, name, caller if parent is None else self.tracing.context_of(parent[0]))
        self._changed.notify_all()
        return state

    @staticmethod
    def _parent_ref(state: InstanceState) -> dict[str, Any] | None:
        if state.parent_instance_id is None:
            return None
        return {"OrchestrationInstance": {"InstanceId": state.parent_instance_id}}

    def _find(self, instance_id: str) -> InstanceState | None:
        state = self._instances.get(instance_id)
        if state is None:
            state = self.store.load(instance_id)
            if state is not None:
                self._instances[instance_id] = state
        return state

    def _is_terminal(self, instance_id: str) -> bool:
        state = self._instances.get(instance_id)
        return state is not None and state.status.is_terminal

    def _take_batch(self, state: InstanceState) -> list[dict[str, Any]]:
        inbox = state.inbox
        # ExecutionStarted must open the history: never shuffle it away from the front.
        head = [e for e in inbox if e["EventType"] == EventType.EXECUTION_STARTED]
        rest = [e for e in inbox if e["EventType"] != EventType.EXECUTION_STARTED]
        if self.delivery.shuffle_seed is not None:
            self._rng.shuffle(rest)
        size = self.delivery.batch_size
        taken = rest if size is None else rest[:size]
        state.inbox = rest[len(taken):]
        return head + taken

    def _status_of(self, state: InstanceState, show_history: bool) -> InstanceStatus:
        return InstanceStatus(
            instance_id=state.instance_id, name=state.name, runtime_status=state.status,
            input=json.loads(state.input) if state.input is not None else None, output=state.output,
            custom_status=state.custom_status, created_time=state.created_at,
            last_updated_time=state.last_updated_at, episodes=state.episodes,
            history_events=len(state.history), history=list(state.history) if show_history else None)

    def _resume_from_store(self) -> None:
        """Load unfinished instances and restart what they were waiting on (at-least-once)."""
        with self._lock:
            for state in self.store.load_all():
                self._instances[state.instance_id] = state
            for state in list(self._instances.values()):
                if state.status.is_terminal:
                    continue
                for ev in state.outstanding():
                    kind = ev["EventType"]
                    seq = int(ev["EventId"])
                    if kind == EventType.TASK_SCHEDULED:
                        self._dispatch_activity(state, seq, str(ev["Name"]), ev.get("Input"))
                    elif kind == EventType.TIMER_CREATED:
                        self._add_timer(state, parse_timestamp(ev["FireAt"]), seq)
                    elif kind == EventType.SUB_ORCHESTRATION_CREATED:
                        self._start_child(state, seq, str(ev["Name"]), str(ev["InstanceId"]), ev.get("Input"))


class NonDeterminism(ReplayHostError):
    pass


def _chain(kind: str, name: str, payload: str | None, retry: dict[str, Any], sequence: int,
           instance_id: str | None) -> RetryChain:
    return RetryChain(kind=kind, name=name, input=payload,
                      max_attempts=int(retry.get("maxNumberOfAttempts", 1)),
                      first_interval_ms=int(retry.get("firstRetryIntervalInMilliseconds", 0)),
                      backoff=float(retry.get("backoffCoefficient", 1.0)),
                      max_interval_ms=retry.get("maxRetryIntervalInMilliseconds"),
                      instance_id=instance_id, attempts=[sequence])


def _chains_by_id(state: InstanceState) -> dict[int, RetryChain]:
    by_id: dict[int, RetryChain] = {}
    for chain in state.retry_chains.values():
        for seq in (*chain.attempts, *chain.timers):
            by_id[seq] = chain
    return by_id


def _completion_id(ev: dict[str, Any]) -> int:
    return int(ev["TimerId"] if ev["EventType"] == EventType.TIMER_FIRED else ev["TaskScheduledId"])


def _allocates(ev: dict[str, Any], chains: dict[int, RetryChain]) -> bool:
    """Does the SDK take a sequence id when it processes this event (retry bookkeeping)?"""
    kind = ev["EventType"]
    if kind in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
        chain = chains.get(int(ev["TaskScheduledId"]))
        return chain is not None and int(ev["TaskScheduledId"]) in chain.attempts
    if kind == EventType.TIMER_FIRED:
        chain = chains.get(int(ev["TimerId"]))
        return chain is not None and len(chain.attempts) < chain.max_attempts
    return False
