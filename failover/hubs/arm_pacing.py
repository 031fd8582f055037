"""Pace hub calls to ARM's token bucket: one pacer per subscription, shared by every activity of the process.

ARM throttles per subscription (and principal) with a token bucket per operation class
(simulated_arm.py, docs/throughput.md) and reports the bucket's level on every answer:
``x-ms-ratelimit-remaining-subscription-reads`` / ``-writes``. That bucket *is* the state
every worker of a run shares, so the pacer keeps no state of its own anywhere else:

- an answer says how many tokens the bucket kept when its request arrived. Requests overtake
  each other on the way, so every other request let go since this one's was let go, save those
  already answered by then, may have arrived after it: the remaining minus their number is a
  lower bound of the bucket's level, and the estimate is the best such bound (refilled between
  answers at the documented rate). A request goes only while the estimate holds a token, in
  arrival order. The run stays at the refill rate with a few tokens to spare and, with one
  process, no 429. A 429 means the refill estimate ran ahead: it is halved (once per burst of
  requests) and grows back by 1% of the documented rate per answer.
- ARM's 429 (0 remaining) holds every request of that class in the process until Retry-After
  (capped): no burst of 429s while the bucket is empty. Any other 429 is a resource
  provider's own (a busy resource): only that request waits, in the retry layer.
- a crash loses nothing: a new process knows nothing, and the first answer tells it the level.
  Several processes (Functions scale-out) see the same headers; they overshoot by at most
  each other's in-flight requests, which costs a rare 429 and a hold, not a storm.
- until the first answer, one request goes alone (a probe): a bucket some other worker
  already drained costs one 429, not one per thread. A service whose answers carry no
  header (the flat simulated hub) is not paced after that.

Calls are paced where they become requests: the simulated hub calls ``acquire``/``observe``
around each modelled request; the Azure ML adapter gets ``ArmPacingPolicy`` in its azure-core
pipelines (after the retry slot, so it would see every attempt).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any, Literal

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy

from failover.hubs.hub_errors import retry_after_from_headers
from failover.hubs.hub_retry import RETRY_AFTER_CAP_S

Lane = Literal["read", "write", "delete"]

# Microsoft's documented refill rates (tokens per second): the estimate between two answers.
DEFAULT_RATES: Mapping[Lane, float] = {"read": 25.0, "write": 10.0, "delete": 10.0}
REMAINING_HEADERS: Mapping[Lane, str] = {
    "read": "x-ms-ratelimit-remaining-subscription-reads",
    "write": "x-ms-ratelimit-remaining-subscription-writes",
    "delete": "x-ms-ratelimit-remaining-subscription-deletes",
}
_HOLD_WITHOUT_RETRY_AFTER_S = 1.0
_PROBE_PATIENCE_S = 1.0  # a first request slower than this no longer holds the others
_MIN_RATE = 1.0  # ARM refills at 10 tokens/s or more: a guess below 1/s only stalls a lane nothing else feeds


def lane_of_method(method: str) -> Lane:
    """ARM's operation class of an HTTP method: GET/HEAD read, DELETE deletes, the rest write."""
    upper = method.upper()
    if upper in ("GET", "HEAD"):
        return "read"
    return "delete" if upper == "DELETE" else "write"


class _Waiter:
    __slots__ = ("event", "ticket")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ticket = 0  # set when granted


class _Lane:
    """The estimate of one bucket, and the requests waiting for a token (served in arrival order)."""

    def __init__(self, rate: float) -> None:
        self.nominal = rate  # the documented refill rate
        self.rate = rate  # the refill estimate: halved by ARM's 429 (once per burst), back up by answers
        self.cut_at = 0  # the last ticket let go when the estimate was last halved
        self.tokens: float | None = None  # None: no header seen (yet)
        self.headerless = False  # answers came without a header: not paced
        self.ceiling = 0.0  # the fullest the bucket was reported: its burst, as far as we know
        self.stamp = time.monotonic()
        self.granted = 0  # requests let go (the last ticket)
        self.answers = 0  # answers observed
        self.outstanding: dict[int, int] = {}  # ticket -> answers observed when it was let go
        self.probe_sent = 0.0
        self.held_until = 0.0
        self.queue: deque[_Waiter] = deque()

    def take(self, now: float) -> float:
        """Seconds until a token is ours; 0 means one was taken (and a ticket handed out)."""
        wait = self._delay(now)
        if wait <= 0.0:
            self.granted += 1
            self.outstanding[self.granted] = self.answers
        return wait

    def _delay(self, now: float) -> float:
        if now < self.held_until:
            return self.held_until - now
        if self.tokens is None:
            if self.headerless or not self.outstanding or now - self.probe_sent > _PROBE_PATIENCE_S:
                self.probe_sent = now
                return 0.0
            return _PROBE_PATIENCE_S  # the first answer (observe) wakes the queue sooner
        self.tokens, self.stamp = self._refilled(now), now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def grant(self) -> float:
        """Hand tokens to waiters, first come first served, all at once (no chain of wake-ups);
        wake the new first waiter so it times the next token. Returns the seconds until then."""
        now = time.monotonic()
        head = self.queue[0] if self.queue else None
        wait = 0.0
        while self.queue:
            wait = self.take(now)
            if wait > 0.0:
                break
            waiter = self.queue.popleft()
            waiter.ticket = self.granted
            waiter.event.set()
        if self.queue and self.queue[0] is not head:
            self.queue[0].event.set()
        return wait

    def learn(self, ticket: int, remaining: int | None, empty: bool, now: float, answered: bool = True) -> None:
        """What the answer to ``ticket`` tells about the bucket (``empty``: ARM's 429; not ``answered``: the
        request failed on the way, which says nothing about the bucket, nor that ARM sends no header)."""
        answered_before = self.outstanding.pop(ticket, self.answers)
        self.answers += 1
        if remaining is None and not empty:
            self.headerless = self.headerless or (answered and self.tokens is None)
            return
        uncounted = self.granted - 1 - answered_before  # may have arrived after this request
        if empty or remaining is None:
            self.tokens = -float(uncounted)
            if ticket > self.cut_at:  # one cut per burst: the 429s of requests already out say the same
                self.rate, self.cut_at = max(_MIN_RATE, self.rate / 2), self.granted
        else:
            self.ceiling = max(self.ceiling, remaining + 1.0)
            bound = float(remaining - uncounted)
            self.tokens = bound if self.tokens is None else max(bound, self._refilled(now))
            self.rate = min(self.nominal, self.rate + self.nominal / 100)
        self.stamp = now

    def _refilled(self, now: float) -> float:
        assert self.tokens is not None
        return min(max(self.ceiling, 1.0), self.tokens + (now - self.stamp) * self.rate)


class ArmPacer:
    """The pacer of one subscription: ``acquire`` before a request, ``observe`` its answer."""

    def __init__(self, subscription: str, rates: Mapping[Lane, float] = DEFAULT_RATES) -> None:
        self.subscription = subscription
        self._lanes: dict[Lane, _Lane] = {lane: _Lane(rate) for lane, rate in rates.items()}
        self._lock = threading.Lock()
        self.throttled: Counter[Lane] = Counter()
        self.waited_s: dict[Lane, float] = dict.fromkeys(self._lanes, 0.0)

    def acquire(self, lane: Lane) -> int:
        """Block until this request may go (its turn, a token, no hold in force); returns its ticket."""
        state = self._lanes[lane]
        with self._lock:
            if not state.queue and state.take(time.monotonic()) <= 0.0:
                return state.granted  # the common case: nobody waiting, a token at hand
            me = _Waiter()
            state.queue.append(me)
        began = time.monotonic()
        while True:
            with self._lock:
                wait = state.grant() if not me.ticket else 0.0
                if me.ticket:
                    self.waited_s[lane] += time.monotonic() - began
                    return me.ticket
                me.event.clear()
                first = state.queue[0] is me
            # The first waiter times the next token; the others sleep until granted or first.
            me.event.wait(wait if first else None)

    def observe(self, lane: Lane, ticket: int, *, remaining: int | None, throttled: bool = False,
                retry_after: float | None = None, answered: bool = True) -> None:
        """The answer to the request ``acquire`` let go with ``ticket`` (call exactly once, whatever happened;
        ``answered=False`` when no answer came: a connection error, a timeout)."""
        state = self._lanes[lane]
        with self._lock:
            now = time.monotonic()
            # ARM's bucket is empty when its 429 says 0 remain (or says nothing on a lane ARM's
            # headers pace): nobody in this process asks again before Retry-After. Any other 429
            # is the resource provider's own (a busy resource): that request alone waits, in the
            # retry layer.
            empty = throttled and (remaining == 0 if remaining is not None else state.tokens is not None)
            if throttled:
                self.throttled[lane] += 1
            if empty:
                hold = retry_after if retry_after is not None else _HOLD_WITHOUT_RETRY_AFTER_S
                state.held_until = max(state.held_until, now + min(hold, RETRY_AFTER_CAP_S))
            state.learn(ticket, remaining, empty, now, answered)
            if state.queue:
                state.grant()  # the answer may free tokens: hand them out now
                if state.queue:
                    state.queue[0].event.set()  # and let the first waiter re-time the next one

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"throttled": dict(self.throttled), "waited_s": {k: round(v, 3) for k, v in self.waited_s.items()}}


_pacers: dict[str, ArmPacer] = {}
_pacers_lock = threading.Lock()


def arm_pacer(subscription: str) -> ArmPacer:
    """The process's pacer for a subscription (every hub client of it shares this one)."""
    key = subscription.lower()
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None:
            pacer = _pacers[key] = ArmPacer(key)
        return pacer


class ArmPacingPolicy(HTTPPolicy):
    """azure-core policy: every request of an Azure ML client waits for its pacer, and feeds it the answer."""

    def __init__(self, pacer: ArmPacer) -> None:
        super().__init__()
        self._pacer = pacer

    def send(self, request: PipelineRequest) -> PipelineResponse:
        lane = lane_of_method(request.http_request.method)
        ticket = self._pacer.acquire(lane)
        try:
            response = self.next.send(request)
        except BaseException:
            self._pacer.observe(lane, ticket, remaining=None, answered=False)  # nothing learnt, the slot is free
            raise
        http = response.http_response
        headers = {str(k).lower(): str(v) for k, v in http.headers.items()}
        raw = headers.get(REMAINING_HEADERS[lane], "")
        remaining = int(raw) if raw.strip().isdigit() else None
        self._pacer.observe(lane, ticket, remaining=remaining, throttled=http.status_code == 429,
                            retry_after=retry_after_from_headers(headers))
        return response
