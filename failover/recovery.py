"""What each failover step does, as plain functions over the ports.

Activities call these; the orchestrator only sees their small dict results. Every write
is checked first (name, version, content hash; a job's deterministic resubmission name),
so running any step twice leaves the same state as running it once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from failover.domain.config import FailoverConfig, HubPair
from failover.domain.model import (
    ACTIVATION_WAVES,
    HELD_JOB_STATUSES,
    MUTABLE_KINDS,
    TAG_GENERATION,
    TAG_SOURCE_JOB,
    TERMINAL_JOB_STATUSES,
    Artifact,
    ArtifactKind,
    JobRecord,
    resubmission_name,
)
from failover.domain.ports import ErrorCategory, HubClient, HubError, WriteOutcome
from failover.domain.resource_maps import ResourceMaps
from failover.domain.run import ACTIVATION_OUTCOMES
from failover.domain.secret_map import SecretResolver, SecretsUnresolved, catalog_form
from failover.domain.secrets import scrub
from failover.domain.serving import (
    DEPLOYMENT_KIND_OF,
    creation_form,
    routed_deployments,
    routes_of,
    size_for,
    state_form,
    with_schedule_enabled,
    with_state_of,
)
from failover.hubs.hub_retry import CHUNK_RETRY_DEADLINE_S, call_hub
from failover.recovery_order import RecoveryStage, job_dependencies, recovery_stages

T = TypeVar("T")
R = TypeVar("R")


def chunk(items: Sequence[T], index: int, size: int) -> Sequence[T]:
    return items[index * size:(index + 1) * size]


def sorted_artifacts(artifacts: Iterable[Artifact]) -> list[Artifact]:
    """Chunks are cut from this order, so every activity agrees on what chunk i holds."""
    return sorted(artifacts, key=lambda a: a.key)


def compute_map_from(pair: HubPair, source: str) -> dict[str, str]:
    """The compute map in the direction of travel: as configured from the primary, inverted on failback."""
    return dict(ResourceMaps.of_pair(pair, source).compute)


def recoverable(pair: HubPair, source: str, kind: ArtifactKind, artifacts: Iterable[Artifact]) -> list[Artifact]:
    """The cataloged artifacts of ``kind`` to recreate: a connection the connection map replaces is not
    recreated on the target (its counterpart is used instead, and readiness checks that it exists)."""
    replaced = ResourceMaps.of_pair(pair, source).connection if kind is ArtifactKind.CONNECTION else {}
    return sorted_artifacts(a for a in artifacts if a.name not in replaced)


def target_form(pair: HubPair, source: str, target: str, *, flipped: bool) -> Callable[[Artifact], Artifact]:
    """What recovery writes for a cataloged artifact: maps applied in the direction of travel; endpoints,
    deployments and schedules in their creation form (warm and disabled while the pointer stays put)."""
    maps = ResourceMaps.of_pair(pair, source)

    def form(artifact: Artifact) -> Artifact:
        mapped = Artifact(artifact.kind, artifact.name, artifact.version, maps.apply(artifact.spec))
        if artifact.kind not in MUTABLE_KINDS:
            return mapped
        return creation_form(mapped, size_for(pair, target, artifact), warm=not flipped)

    return form


def activation_form(pair: HubPair, source: str, target: str) -> Callable[[Artifact], Artifact]:
    """The state the activation stage asks of the target: cataloged routes and enabled flag, full scale."""
    maps = ResourceMaps.of_pair(pair, source)

    def form(artifact: Artifact) -> Artifact:
        mapped = Artifact(artifact.kind, artifact.name, artifact.version, maps.apply(artifact.spec))
        return state_form(mapped, size_for(pair, target, artifact))

    return form


def interrupted_jobs(jobs: Iterable[JobRecord], pair: HubPair) -> list[JobRecord]:
    wanted = set(pair.policy.interrupted_statuses)
    return sorted((j for j in jobs if j.status in wanted), key=lambda j: j.name)


def recovery_inventory(snapshot: Any, pair: HubPair, source: str) -> tuple[list[JobRecord], list[Artifact]]:
    """What a recovery from a catalog snapshot of ``source`` covers: its interrupted jobs, and its recoverable
    artifacts of the pair's kinds."""
    artifacts = [a for kind in pair.policy.artifact_kinds
                 for a in recoverable(pair, source, kind, snapshot.artifact_list(kind))]
    return interrupted_jobs(snapshot.job_records(), pair), artifacts


def stages_of(snapshot: Any, pair: HubPair, source: str) -> list[RecoveryStage]:
    """The recovery stages of a catalog snapshot of ``source`` (recovery_order.py): the plan's view and
    every chunk's."""
    return recovery_stages(*recovery_inventory(snapshot, pair, source), pair.policy.priority)


# ---------------------------------------------------------------------------- plan


def plan_failover(config: FailoverConfig, pair_name: str, *, pointer: Any, snapshot: Any | None,
                  target: str | None, require_approval: bool, primary_reachable: bool,
                  now: datetime, catalog_error: str | None = None,
                  stages: Sequence[RecoveryStage] | None = None) -> dict[str, Any]:
    """Stage 1: where the pointer is, where it should go, and what there is to recover.

    ``snapshot`` is the active hub's catalog (possibly a fallback: its ``describe`` says so), None
    when there is none, and ``catalog_error`` why none could be read. A flip-only (hot-hot)
    failover needs no catalog: without one it goes on, and the plan says why there is none.
    ``stages`` are the snapshot's recovery stages when the caller has them already.
    """
    pair = config.pair(pair_name)
    target = target or pointer.standby
    hub_names = {pair.primary.name, pair.secondary.name}
    base = _plan_base(pair, source=pointer.active, target=target, generation=pointer.generation,
                      approval_required=pair.approval_required or require_approval,
                      primary_reachable=primary_reachable)
    if target not in hub_names:
        return {**base, "error": f"target {target!r} is not a hub of pair {pair.name!r} ({sorted(hub_names)})"}
    if target == pointer.active:
        return {**base, "noop": True}
    if snapshot is None:
        missing = catalog_error or f"no catalog snapshot for hub {pointer.active!r}: run a catalog sync first"
        if base["recover"]:
            return {**base, "error": missing}
        base["catalog"]["missing"] = f"{missing} (not needed: a {pair.mode} failover only flips the pointer)"
        return base
    return _with_catalog(base, pair, snapshot, now, stages)


def plan_recovery(config: FailoverConfig, pair_name: str, *, pointer: Any, last_flip: dict[str, Any] | None,
                  completes: str, snapshot: Any | None, catalog_error: str | None, primary_reachable: bool,
                  now: datetime) -> dict[str, Any]:
    """The plan of a `recover`: the failover run ``completes`` again, against the snapshot it used, from the
    hub it failed over from to the hub it made active (which must still be active, at the generation it
    flipped to: its resubmissions' names carry that generation). The pointer is never flipped."""
    pair = config.pair(pair_name)
    flip = last_flip or {}
    base = _plan_base(pair, source=str(flip.get("source") or pointer.standby), target=pointer.active,
                      generation=pointer.generation, approval_required=False, primary_reachable=primary_reachable)
    base["active"] = pointer.active  # the pointer stays where the failover put it
    base["completes"] = {k: flip.get(k) for k in ("instance_id", "run", "outcome", "source", "target",
                                                   "generation", "snapshot", "completed_at")}
    if flip.get("run") != completes:
        return {**base, "error": f"failover {completes} is no longer the last run that moved the pointer "
                                 f"(that is {flip.get('run')}): start the recover again"}
    if (flip.get("target"), flip.get("generation")) != (pointer.active, pointer.generation):
        return {**base, "error": f"the pointer moved since failover {completes} ({pointer.active} is active at "
                                 f"generation {pointer.generation}): nothing to complete"}
    if snapshot is None:
        return {**base, "error": catalog_error or f"catalog snapshot {flip.get('snapshot')} can't be read"}
    return _with_catalog(base, pair, snapshot, now)


def _plan_base(pair: HubPair, *, source: str, target: str, generation: int, approval_required: bool,
               primary_reachable: bool) -> dict[str, Any]:
    return {
        "pair": pair.name, "mode": pair.mode, "source": source, "target": target,
        "generation": generation, "noop": False, "error": None,
        "approval_required": approval_required,
        "approval_timeout_minutes": pair.policy.approval_timeout_minutes,
        "on_approval_timeout": pair.policy.on_approval_timeout,
        "chunk_size": pair.policy.chunk_size, "recover": pair.mode != "hot-hot",
        "artifact_kinds": [k.value for k in pair.policy.artifact_kinds],
        "primary_reachable": primary_reachable,
        "catalog": {"snapshot": None, "taken_at": None, "age_seconds": None, "fallback": None, "missing": None},
        "inventory": {"jobs": 0, "artifacts": {k.value: 0 for k in pair.policy.artifact_kinds}},
        "activation_kinds": activation_kinds(pair),
        "activation_timeout_minutes": pair.policy.activation_timeout_minutes,
        "activation_poll_seconds": pair.policy.activation_poll_seconds,
        "objectives": {"rto_minutes": pair.policy.rto_minutes, "rpo_minutes": pair.policy.rpo_minutes},
        "stages": [],
    }


def _with_catalog(base: dict[str, Any], pair: HubPair, snapshot: Any, now: datetime,
                  stages: Sequence[RecoveryStage] | None = None) -> dict[str, Any]:
    """The plan with the snapshot it recovers from (which, its RPO, any fallback), what it holds, and its
    recovery stages (``stages`` when the caller has them already)."""
    source = base["source"]
    if stages is None:
        stages = stages_of(snapshot, pair, source)
    return {**base, "catalog": {**snapshot.describe(now), "missing": None}, "inventory": {
        "jobs": len(interrupted_jobs(snapshot.job_records(), pair)),
        "artifacts": {k.value: len(recoverable(pair, source, k, snapshot.artifact_list(k)))
                      for k in pair.policy.artifact_kinds}},
        "stages": [stage.counts() for stage in stages]}


def activation_kinds(pair: HubPair) -> list[str]:
    """Kinds whose state the activation stage switches, in ACTIVATION_WAVES order. Hot-hot pairs serve from
    both hubs (their endpoints are left alone), but a schedule runs in one hub only, whatever the mode."""
    wanted = set(pair.policy.artifact_kinds)
    if pair.mode == "hot-hot":
        wanted &= {ArtifactKind.SCHEDULE}
    return [k.value for wave in ACTIVATION_WAVES for k in wave if k in wanted]


# ---------------------------------------------------------------------------- readiness


READINESS_CONCURRENCY = 16  # dependencies no catalog entry covers: usually none, a handful at most


def check_readiness(pair: HubPair, target: HubClient, jobs: Sequence[JobRecord],
                    artifacts: Iterable[Artifact], compute_map: dict[str, str],
                    maps: ResourceMaps | None = None, expected_computes: Iterable[str] = ()) -> dict[str, Any]:
    """Stage 2: the target answers, mapped computes, connections and datastores exist, every job's
    dependencies resolve.

    The failover asks for the computes its interrupted jobs need; the readiness timer also names
    ``expected_computes`` (every mapped one), since tomorrow's interrupted jobs may need any of them.
    """
    # Every check is a read of the target, independent of the others: asked at once, with the ping, they cost
    # one round trip before the flip instead of one each (readiness is on the RTO's path: no write starts
    # before it ends). Beside the ping each is tried once: when the ping fails the target is unreachable and
    # nothing else is asked again (a down target costs the ping's retries, not four times them); a try that
    # failed while the ping got through is asked again, with retries.
    pinged = _hub_calls.submit(call_hub, target.ping)
    asked = {what: (_hub_calls.submit(call_hub, fn, attempts=1), fn) for what, fn in _target_lists(target, maps)}
    cataloged = {(a.kind, a.name, a.version or "") for a in artifacts}
    uncataloged = sorted({d for j in jobs for d in job_dependencies(j.spec)} - cataloged)  # the rest: recreated
    try:
        pinged.result()
    except HubError as exc:
        return {"ready": False, "reasons": [f"target {target.hub_id} unreachable: {exc}"], "checked": {}}
    found = _parallel(uncataloged, partial(_dependency_missing, target), READINESS_CONCURRENCY)  # usually none
    has = {what: _names(future, fn) for what, (future, fn) in asked.items()}
    reasons: list[str] = []
    needed = sorted({compute_map.get(j.compute, j.compute) for j in jobs if j.compute} | set(expected_computes))
    missing_computes = [c for c in needed if c not in has["compute"]]
    if missing_computes:
        reasons.append(f"compute missing on {target.hub_id}: {', '.join(missing_computes[:10])}")
    unresolved = [f"{kind.value}:{name}:{version}" for (kind, name, version), missing
                  in zip(uncataloged, found, strict=True) if missing]
    if unresolved:
        reasons.append(f"job dependencies neither cataloged nor on {target.hub_id}: {', '.join(unresolved[:10])}")
    for what, mapped in (("connection", maps.connection if maps else {}),
                         ("datastore", maps.datastore if maps else {})):
        if names := sorted(set(mapped.values()) - has.get(what, set())):
            reasons.append(f"mapped {what} missing on {target.hub_id}: {', '.join(names[:10])}")
    return {"ready": not reasons, "reasons": reasons,
            "checked": {"computes": len(needed), "jobs": len(jobs), "missing_dependencies": len(unresolved),
                        "connections": len(maps.connection) if maps else 0,
                        "datastores": len(maps.datastore) if maps else 0}}


def _target_lists(target: HubClient, maps: ResourceMaps | None) -> list[tuple[str, Callable[[], list[str]]]]:
    """The names readiness needs from the target: its computes, and the connections and datastores the maps
    point at (only when they point at some)."""
    lists: list[tuple[str, Callable[[], list[str]]]] = [("compute", target.list_computes)]
    if maps and maps.connection:
        lists.append(("connection", lambda: [c.name for c in target.list_connections()]))
    if maps and maps.datastore:
        lists.append(("datastore", target.list_datastores))
    return lists


def _names(asked: Future[list[str]], fn: Callable[[], list[str]]) -> set[str]:
    """What a list tried once answered; when that try failed, the list again, with the retry layer's retries."""
    try:
        return set(asked.result())
    except HubError:
        return set(call_hub(fn))


def _dependency_missing(target: HubClient, dependency: tuple[ArtifactKind, str, str]) -> bool:
    """Whether a job's dependency that no catalog entry recreates is absent from the target."""
    kind, name, version = dependency
    try:
        call_hub(partial(target.get_asset, kind, name, version))
    except HubError as exc:
        if exc.category is not ErrorCategory.NOT_FOUND:
            raise
        return True
    return False


# ---------------------------------------------------------------------------- recovery

Remember = Callable[[Callable[[], dict[str, Any]]], dict[str, Any]]


def _no_journal(classify: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return classify()


# Hub calls of every chunk in the process run on one pool of long-lived threads: starting a
# pool per chunk costs a thread start per call, each waiting to be scheduled. It also caps the
# calls in flight per process; the pacer (hubs/arm_pacing.py) decides how many actually go.
HUB_CALL_THREADS = 256
_hub_calls = ThreadPoolExecutor(HUB_CALL_THREADS, thread_name_prefix="hub-call")


def _parallel(items: Sequence[T], work: Callable[[T], R], concurrency: int) -> list[R]:
    """``work`` on every item, at most ``concurrency`` at once; results in item order."""
    if concurrency <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    results: dict[int, R] = {}
    waiting = iter(enumerate(items))
    running: dict[Future[R], int] = {}

    def start_next() -> None:
        if (step := next(waiting, None)) is not None:
            running[_hub_calls.submit(work, step[1])] = step[0]

    for _ in range(min(concurrency, len(items))):
        start_next()
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            results[running.pop(future)] = future.result()
            start_next()
    return [results[i] for i in range(len(items))]


def _error(item: str, exc: HubError | SecretsUnresolved) -> dict[str, str]:
    category = exc.category.value if isinstance(exc, HubError) else "unresolved"
    return {"item": item, "error": scrub(f"{category}: {exc}")}  # results land in history, reports, audit


_NO_SECRETS = SecretResolver()  # nothing mapped: an item that needs a secret fails by name


def _dry_run(item: str, check: Callable[[], object], counts: dict[str, int], would: str,
             errors: list[dict[str, str]]) -> None:
    """A dry run counts an item it would write, or as failed when its secrets aren't mapped (no Key Vault read)."""
    try:
        check()
    except SecretsUnresolved as exc:
        counts["failed"] += 1
        errors.append(_error(item, exc))
        return
    counts[would] += 1


def same_definition(existing: Artifact, wanted: Artifact) -> bool:
    """Whether what the target holds is what recovery would write (``wanted``: in target form). Endpoints,
    deployments and schedules: the same definition, whatever their traffic, scale or enabled flag; compared
    in catalog form too (secrets as markers)."""
    return (existing.definition_hash == wanted.definition_hash
            or catalog_form(existing).definition_hash == wanted.definition_hash)


def recreate_artifacts(target: HubClient, artifacts: Sequence[Artifact], *, dry_run: bool, concurrency: int,
                       remember: Remember = _no_journal, prepare: Callable[[Artifact], Artifact] | None = None,
                       secrets: SecretResolver = _NO_SECRETS) -> dict[str, Any]:
    """Stage 5, one chunk: classify each artifact on the target (name/version/definition), then write the
    absent ones. ``prepare`` turns a cataloged artifact into what the target gets (``target_form``).

    Definitions compare in catalog form (secrets as markers), and a secret the catalog withheld is
    resolved from the pair's mapping before the write, or the artifact fails by name."""
    if prepare is not None:
        artifacts = [prepare(a) for a in artifacts]
    connections: dict[str, Artifact] | None = None
    deadline = time.monotonic() + CHUNK_RETRY_DEADLINE_S

    def state(artifact: Artifact) -> str:
        nonlocal connections
        try:
            if artifact.kind is ArtifactKind.CONNECTION:
                if connections is None:
                    connections = {c.name: c for c in call_hub(target.list_connections, deadline=deadline)}
                existing = connections.get(artifact.name)
                if existing is None:
                    return "absent"
            else:
                existing = call_hub(partial(target.get_asset, artifact.kind, artifact.name, artifact.version),
                                    deadline=deadline)
        except HubError as exc:
            return "absent" if exc.category is ErrorCategory.NOT_FOUND else "unknown"
        return "present" if same_definition(existing, artifact) else "conflict"

    def classify() -> dict[str, Any]:
        if any(a.kind is ArtifactKind.CONNECTION for a in artifacts):
            state(next(a for a in artifacts if a.kind is ArtifactKind.CONNECTION))  # one list, before the pool
        return {"states": _parallel(artifacts, state, concurrency)}

    states: list[str] = (classify() if dry_run else remember(classify))["states"]
    counts = {"expected": len(artifacts), "recreated": 0, "already_present": 0, "failed": 0}
    errors: list[dict[str, str]] = []
    to_write = [a for a, s in zip(artifacts, states, strict=True) if s in ("absent", "unknown")]
    for artifact, found in zip(artifacts, states, strict=True):
        if found == "present":
            counts["already_present"] += 1
        elif found == "conflict":
            counts["failed"] += 1
            errors.append({"item": artifact.key, "error": f"exists on {target.hub_id} with other content"})
        elif dry_run:
            _dry_run(artifact.key, partial(secrets.artifact, artifact, fetch=False), counts, "recreated", errors)

    def write(artifact: Artifact) -> str:
        put = target.put_connection if artifact.kind is ArtifactKind.CONNECTION else target.put_asset
        try:
            call_hub(partial(put, secrets.artifact(artifact)), deadline=deadline)
        except (HubError, SecretsUnresolved) as exc:
            errors.append(_error(artifact.key, exc))
            return "failed"
        return "recreated"  # created now, or by an earlier run of this chunk: absent when the run began

    if not dry_run:
        for outcome in _parallel(to_write, write, concurrency):
            counts[outcome] += 1
    return {**counts, "errors": errors}


def resubmit_jobs(target: HubClient, primary: HubClient | None, jobs: Sequence[JobRecord], *,
                  generation: int, compute_map: dict[str, str], dry_run: bool, concurrency: int,
                  remember: Remember = _no_journal, maps: ResourceMaps | None = None,
                  secrets: SecretResolver = _NO_SECRETS) -> dict[str, Any]:
    """Stage 6, one chunk: deterministic names, looked up before created; compute map applied, and the
    connection and datastore maps (``maps``) to the spec; secrets the catalog withheld resolved from the
    pair's mapping, or the job fails by name (never a placeholder)."""
    deadline = time.monotonic() + CHUNK_RETRY_DEADLINE_S

    def state(job: JobRecord) -> str:
        if primary is not None and _finished_on_primary(primary, job):
            return "skipped"
        try:
            call_hub(partial(target.get_job, resubmission_name(job.name, generation)), deadline=deadline)
        except HubError as exc:
            return "absent" if exc.category is ErrorCategory.NOT_FOUND else "unknown"
        return "present"

    def classify() -> dict[str, Any]:
        return {"states": _parallel(jobs, state, concurrency)}

    states: list[str] = (classify() if dry_run else remember(classify))["states"]
    counts = {"expected": len(jobs), "resubmitted": 0, "already_present": 0, "failed": 0, "skipped": 0}
    errors: list[dict[str, str]] = []
    for job, found in zip(jobs, states, strict=True):
        if found == "present":
            counts["already_present"] += 1
        elif found == "skipped":
            counts["skipped"] += 1
        elif dry_run:
            _dry_run(job.name, partial(secrets.job, job, fetch=False), counts, "resubmitted", errors)

    def submit(job: JobRecord) -> str:
        compute = compute_map.get(job.compute, job.compute) if job.compute else None
        if maps:
            job = replace(job, spec=maps.apply(job.spec))
        try:
            call_hub(partial(target.submit_job, secrets.job(job), new_name=resubmission_name(job.name, generation),
                             compute=compute, tags={TAG_SOURCE_JOB: job.name, TAG_GENERATION: str(generation)}),
                     deadline=deadline)
        except (HubError, SecretsUnresolved) as exc:
            errors.append(_error(job.name, exc))
            return "failed"
        return "resubmitted"

    if not dry_run:
        pending = [j for j, s in zip(jobs, states, strict=True) if s in ("absent", "unknown")]
        for outcome in _parallel(pending, submit, concurrency):
            counts[outcome] += 1
    return {**counts, "errors": errors}


def _finished_on_primary(primary: HubClient, job: JobRecord) -> bool:
    """Live refresh where the primary still answers: a job that finished there, or that someone
    paused or asked to cancel since the catalog was taken, is not resubmitted."""
    try:
        live = primary.get_job(job.name)
    except HubError:
        return False  # down or gone: trust the catalog
    return live.status in TERMINAL_JOB_STATUSES | HELD_JOB_STATUSES


# ---------------------------------------------------------------------------- activation

# What the activation stage leaves alone while the pointer does not name the target (a drill keeps the
# standby warm): scale-up and schedules. Routes are set whatever the pointer says: they serve nobody yet.
_DEFERRED_UNTIL_FLIP = frozenset({ArtifactKind.ONLINE_DEPLOYMENT, ArtifactKind.SCHEDULE})


def activate(target: HubClient, source: HubClient | None, items: Sequence[Artifact], *,
             desired: Callable[[Artifact], Artifact], flipped: bool, dry_run: bool, concurrency: int,
             remember: Remember = _no_journal) -> dict[str, Any]:
    """Activation, one chunk of one kind: set the target's state (scale, routes, enabled) to ``desired``.

    A schedule enabled in the catalog is first disabled on ``source`` (None: the source does not answer;
    the catalog sync disables it there once it does), then enabled on the target: a schedule runs in one
    hub, never in both. Each item's state on both hubs is classified and journaled before any write.
    ``pending_items`` (indices into ``items``) are still provisioning: the orchestrator asks again later.
    """
    wanted = [desired(a) for a in items]

    def target_state(item: Artifact) -> str:
        if not flipped and item.kind in _DEFERRED_UNTIL_FLIP:
            return "deferred"
        try:
            current = call_hub(partial(target.get_asset, item.kind, item.name, item.version))
        except HubError as exc:
            return "absent" if exc.category is ErrorCategory.NOT_FOUND else "unknown"
        return "active" if with_state_of(current, item).content_hash == current.content_hash else "due"

    def source_state(item: Artifact, on_target: str) -> str | None:
        if item.kind is not ArtifactKind.SCHEDULE or on_target == "deferred":
            return None
        if not (item.spec.get("properties") or {}).get("isEnabled"):
            return None  # disabled in the catalog: nothing to move
        if source is None:
            return "unreachable"
        try:
            live = call_hub(partial(source.get_asset, item.kind, item.name, item.version))
        except HubError as exc:
            return "absent" if exc.category is ErrorCategory.NOT_FOUND else "unreachable"
        return "enabled" if (live.spec.get("properties") or {}).get("isEnabled") else "disabled"

    def state(item: Artifact) -> str:
        on_target = target_state(item)
        return f"{on_target}|{source_state(item, on_target) or ''}"

    def classify() -> dict[str, Any]:
        return {"states": _parallel(wanted, state, concurrency)}

    states: list[str] = (classify() if dry_run else remember(classify))["states"]
    errors: list[dict[str, str]] = []

    def switch(pair: tuple[Artifact, str]) -> list[str]:
        """The item's outcomes: on the source (schedules), then on the target. A dry run writes nothing.

        A schedule is stopped on the source only when the target has it to start: one the target lacks
        keeps running on the source, and one the target refuses to enable is enabled on the source again.
        A schedule runs in one hub: twice is wrong, and so is never."""
        item, found = pair
        on_target, on_source = found.split("|")
        if on_target == "absent":
            kept = f" (still enabled on {source.hub_id}: it keeps running there)" if (
                source is not None and on_source == "enabled") else ""
            errors.append({"item": item.key, "error": f"not on {target.hub_id}: nothing to activate{kept}"})
            return ["failed"]
        outcomes: list[str] = []
        if on_source == "unreachable" or (on_source == "enabled" and dry_run):
            outcomes.append("source_pending" if on_source == "unreachable" else "source_disabled")
        elif on_source == "enabled":
            outcomes.append(_disable_on_source(source, item, errors))
        if on_target in ("deferred", "active"):
            return [*outcomes, "deferred" if on_target == "deferred" else "already_active"]
        if dry_run:
            return [*outcomes, "activated"]  # would be activated
        try:
            written = call_hub(partial(target.apply_state, item))
        except HubError as exc:
            error = _error(item.key, exc)
            if "source_disabled" in outcomes and on_source == "enabled":
                outcomes.remove("source_disabled")
                error["error"] += _enable_on_source_again(source, item)
            errors.append(error)
            return [*outcomes, "failed"]
        if written is WriteOutcome.PENDING:
            return [*outcomes, "pending"]
        if item.kind in DEPLOYMENT_KIND_OF:
            _report_rerouting(target, item, errors)
        return [*outcomes, "activated"]

    counts = {"expected": len(items), **dict.fromkeys(ACTIVATION_OUTCOMES, 0)}
    pending: list[int] = []
    for index, outcomes in enumerate(_parallel(list(zip(wanted, states, strict=True)), switch, concurrency)):
        for outcome in outcomes:
            counts[outcome] += 1
        if "pending" in outcomes:
            pending.append(index)
    return {**counts, "errors": errors, "pending_items": pending}


def _disable_on_source(source: HubClient | None, item: Artifact, errors: list[dict[str, str]]) -> str:
    assert source is not None  # classified "enabled": the source answered
    try:
        call_hub(partial(source.apply_state, with_schedule_enabled(item, False)))
    except HubError as exc:
        if exc.category is ErrorCategory.NOT_FOUND:
            return "source_disabled"  # gone since: it runs nowhere there
        # It still runs there: the catalog sync disables it once the source answers again.
        errors.append({"item": item.key, "error": f"still enabled on {source.hub_id}: {exc.category.value}: {exc}"})
        return "source_pending"
    return "source_disabled"


def _report_rerouting(target: HubClient, endpoint: Artifact, errors: list[dict[str, str]]) -> None:
    """An endpoint whose routed deployments are not all usable on the target routes to the others (the
    adapters do): say so, with the split the target now has."""
    try:
        current = call_hub(partial(target.get_asset, endpoint.kind, endpoint.name, endpoint.version))
    except HubError:
        return  # switched a moment ago: the next look (a replay, recover) says it
    if routes_of(current) == routes_of(endpoint):
        return
    lost = sorted(routed_deployments(endpoint) - routed_deployments(current))
    errors.append({"item": endpoint.key, "error": (
        f"deployments {lost} are missing or failed on {target.hub_id}: their traffic goes to the others, "
        f"traffic {routes_of(current)['traffic']} instead of {routes_of(endpoint)['traffic']}")})


def _enable_on_source_again(source: HubClient | None, item: Artifact) -> str:
    """The target refused to enable a schedule this run had just disabled on the source: start it there again.
    What the error then says."""
    assert source is not None  # it was disabled there: the source answered
    try:
        call_hub(partial(source.apply_state, with_schedule_enabled(item, True)))
    except HubError as exc:
        return (f"; disabled on {source.hub_id} and could not be enabled there again ({exc.category.value}): "
                "it runs nowhere")
    return f"; enabled on {source.hub_id} again: it keeps running there"


def fence_standby_schedules(standby: HubClient, enabled_on_active: Iterable[Artifact]) -> dict[str, Any]:
    """Disable, on the standby, every schedule that is enabled on the active hub (by name), so a schedule
    runs in one hub only: after a failover whose source did not answer, this is where its schedules stop.

    Run by the catalog sync. A standby that does not answer is left for the next sync.
    """
    counts = {"checked": 0, "disabled": 0, "already_disabled": 0, "absent": 0, "unreachable": 0}
    errors: list[dict[str, str]] = []
    for schedule in sorted(enabled_on_active, key=lambda a: a.name):
        if schedule.kind is not ArtifactKind.SCHEDULE or not (schedule.spec.get("properties") or {}).get("isEnabled"):
            continue
        counts["checked"] += 1
        try:
            outcome = call_hub(partial(standby.apply_state, with_schedule_enabled(schedule, False)))
        except HubError as exc:
            if exc.category is ErrorCategory.NOT_FOUND:
                counts["absent"] += 1
                continue
            counts["unreachable"] += 1
            errors.append(_error(schedule.key, exc))
            if exc.category.retryable:
                break  # the standby is down: the next sync tries again
            continue
        counts["disabled" if outcome is WriteOutcome.UPDATED else "already_disabled"] += 1
    return {**counts, "errors": errors}
