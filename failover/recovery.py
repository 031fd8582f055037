"""What each failover step does, as plain functions over the ports.

Activities call these; the orchestrator only sees their small dict results. Every write
is checked first (name, version, content hash; a job's deterministic resubmission name),
so running any step twice leaves the same state as running it once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from failover.domain.config import FailoverConfig, HubPair
from failover.domain.model import (
    HELD_JOB_STATUSES,
    TAG_GENERATION,
    TAG_SOURCE_JOB,
    TERMINAL_JOB_STATUSES,
    Artifact,
    ArtifactKind,
    JobRecord,
    resubmission_name,
)
from failover.domain.ports import ErrorCategory, HubClient, HubError
from failover.domain.secret_map import SecretResolver, SecretsUnresolved, catalog_form
from failover.domain.secrets import scrub
from failover.hubs.hub_retry import call_hub
from failover.hubs.hub_specs import is_anonymous_component

T = TypeVar("T")


def chunk(items: Sequence[T], index: int, size: int) -> Sequence[T]:
    return items[index * size:(index + 1) * size]


def sorted_artifacts(artifacts: Iterable[Artifact]) -> list[Artifact]:
    """Chunks are cut from this order, so every activity agrees on what chunk i holds."""
    return sorted(artifacts, key=lambda a: a.key)


def compute_map_from(pair: HubPair, source: str) -> dict[str, str]:
    """The compute map in the direction of travel: as configured from the primary, inverted on failback."""
    if source == pair.primary.name:
        return dict(pair.compute_map)
    return {secondary: primary for primary, secondary in pair.compute_map.items()}


def interrupted_jobs(jobs: Iterable[JobRecord], pair: HubPair) -> list[JobRecord]:
    wanted = set(pair.policy.interrupted_statuses)
    return sorted((j for j in jobs if j.status in wanted), key=lambda j: j.name)


# ---------------------------------------------------------------------------- plan


def plan_failover(config: FailoverConfig, pair_name: str, *, pointer: Any, snapshot: Any | None,
                  target: str | None, require_approval: bool, primary_reachable: bool,
                  now: datetime, catalog_error: str | None = None) -> dict[str, Any]:
    """Stage 1: where the pointer is, where it should go, and what there is to recover.

    ``snapshot`` is the active hub's catalog (possibly a fallback: its ``describe`` says so), None
    when there is none, and ``catalog_error`` why none could be read. A flip-only (hot-hot)
    failover needs no catalog: without one it goes on, and the plan says why there is none.
    """
    pair = config.pair(pair_name)
    target = target or pointer.standby
    hub_names = {pair.primary.name, pair.secondary.name}
    base: dict[str, Any] = {
        "pair": pair.name, "mode": pair.mode, "source": pointer.active, "target": target,
        "generation": pointer.generation, "noop": False, "error": None,
        "approval_required": pair.approval_required or require_approval,
        "approval_timeout_minutes": pair.policy.approval_timeout_minutes,
        "on_approval_timeout": pair.policy.on_approval_timeout,
        "chunk_size": pair.policy.chunk_size, "recover": pair.mode != "hot-hot",
        "artifact_kinds": [k.value for k in pair.policy.artifact_kinds],
        "primary_reachable": primary_reachable,
        "catalog": {"snapshot": None, "taken_at": None, "age_seconds": None, "fallback": None, "missing": None},
        "inventory": {"jobs": 0, "artifacts": {k.value: 0 for k in pair.policy.artifact_kinds}},
    }
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
    base["catalog"] = {**snapshot.describe(now), "missing": None}
    base["inventory"] = {
        "jobs": len(interrupted_jobs(snapshot.job_records(), pair)),
        "artifacts": {k.value: len(snapshot.artifact_list(k)) for k in pair.policy.artifact_kinds},
    }
    return base


# ---------------------------------------------------------------------------- readiness

_ARM_REFERENCE = re.compile(r"/(?P<segment>environments|codes|data|components|models)/(?P<name>[^/]+)"
                            r"/versions/(?P<version>[^/]+)$")
_SHORT_REFERENCE = re.compile(r"^(?:azureml:)?(?P<name>[A-Za-z0-9][\w.-]*):(?P<version>[\w.-]+)$")
_KIND_OF_SEGMENT = {"environments": ArtifactKind.ENVIRONMENT, "codes": ArtifactKind.CODE,
                    "data": ArtifactKind.DATA, "components": ArtifactKind.COMPONENT, "models": ArtifactKind.MODEL}


def _reference(value: Any, kind: ArtifactKind) -> tuple[ArtifactKind, str, str] | None:
    """An artifact version named by ARM id or ``[azureml:]name:version``; None for anything else
    (curated ``@latest`` environments, registry and datastore URIs, plain URLs)."""
    if not isinstance(value, str) or "@" in value or "://" in value:
        return None
    arm = _ARM_REFERENCE.search(value)
    if arm:
        return _KIND_OF_SEGMENT[arm.group("segment")], arm.group("name"), arm.group("version")
    short = _SHORT_REFERENCE.match(value)
    return (kind, short.group("name"), short.group("version")) if short else None


def job_dependencies(spec: dict[str, Any]) -> set[tuple[ArtifactKind, str, str]]:
    """Artifact versions a job (REST JobBase form) needs in the workspace it runs in."""
    props = spec.get("properties") or {}
    component = props.get("componentId")
    candidates = [_reference(props.get("environmentId"), ArtifactKind.ENVIRONMENT),
                  _reference(props.get("codeId"), ArtifactKind.CODE),
                  None if is_anonymous_component(component) else _reference(component, ArtifactKind.COMPONENT)]
    for job_input in (props.get("inputs") or {}).values():
        if isinstance(job_input, dict):
            candidates.append(_reference(job_input.get("uri"), ArtifactKind.DATA))
    return {c for c in candidates if c is not None}


def check_readiness(pair: HubPair, target: HubClient, jobs: Sequence[JobRecord],
                    artifacts: Iterable[Artifact], compute_map: dict[str, str]) -> dict[str, Any]:
    """Stage 2: the target answers, mapped computes exist, every job's dependencies resolve."""
    reasons: list[str] = []
    try:
        call_hub(target.ping)
    except HubError as exc:
        return {"ready": False, "reasons": [f"target {target.hub_id} unreachable: {exc}"], "checked": {}}
    computes = set(call_hub(target.list_computes))
    needed = sorted({compute_map.get(j.compute, j.compute) for j in jobs if j.compute})
    missing_computes = [c for c in needed if c not in computes]
    if missing_computes:
        reasons.append(f"compute missing on {target.hub_id}: {', '.join(missing_computes[:10])}")
    cataloged = {(a.kind, a.name, a.version or "") for a in artifacts}
    unresolved: list[str] = []
    for kind, name, version in sorted({d for j in jobs for d in job_dependencies(j.spec)}):
        if (kind, name, version) in cataloged:
            continue  # recreated in stage 5, before any job is resubmitted
        try:
            call_hub(partial(target.get_asset, kind, name, version))
        except HubError as exc:
            if exc.category is not ErrorCategory.NOT_FOUND:
                raise
            unresolved.append(f"{kind.value}:{name}:{version}")
    if unresolved:
        reasons.append(f"job dependencies neither cataloged nor on {target.hub_id}: {', '.join(unresolved[:10])}")
    return {"ready": not reasons, "reasons": reasons,
            "checked": {"computes": len(needed), "jobs": len(jobs), "missing_dependencies": len(unresolved)}}


# ---------------------------------------------------------------------------- recovery

Remember = Callable[[Callable[[], dict[str, Any]]], dict[str, Any]]


def _no_journal(classify: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return classify()


def _parallel(items: Sequence[T], work: Callable[[T], str], concurrency: int) -> list[str]:
    if concurrency <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(concurrency, len(items))) as pool:
        return list(pool.map(work, items))


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


def recreate_artifacts(target: HubClient, artifacts: Sequence[Artifact], *, dry_run: bool, concurrency: int,
                       remember: Remember = _no_journal, secrets: SecretResolver = _NO_SECRETS) -> dict[str, Any]:
    """Stage 5, one chunk: classify each artifact on the target (name/version/hash), then write the absent ones.

    Hashes compare in catalog form (secrets as markers), and a secret the catalog withheld is
    resolved from the pair's mapping before the write, or the artifact fails by name."""
    connections: dict[str, Artifact] | None = None

    def state(artifact: Artifact) -> str:
        nonlocal connections
        try:
            if artifact.kind is ArtifactKind.CONNECTION:
                if connections is None:
                    connections = {c.name: c for c in call_hub(target.list_connections)}
                existing = connections.get(artifact.name)
                if existing is None:
                    return "absent"
            else:
                existing = call_hub(partial(target.get_asset, artifact.kind, artifact.name, artifact.version))
        except HubError as exc:
            return "absent" if exc.category is ErrorCategory.NOT_FOUND else "unknown"
        same = (existing.content_hash == artifact.content_hash
                or catalog_form(existing).content_hash == artifact.content_hash)
        return "present" if same else "conflict"

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
            call_hub(partial(put, secrets.artifact(artifact)))
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
                  remember: Remember = _no_journal, secrets: SecretResolver = _NO_SECRETS) -> dict[str, Any]:
    """Stage 6, one chunk: deterministic names, looked up before created; compute map applied; secrets
    the catalog withheld resolved from the pair's mapping, or the job fails by name (never a placeholder)."""

    def state(job: JobRecord) -> str:
        if primary is not None and _finished_on_primary(primary, job):
            return "skipped"
        try:
            call_hub(partial(target.get_job, resubmission_name(job.name, generation)))
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
        try:
            call_hub(partial(target.submit_job, secrets.job(job), new_name=resubmission_name(job.name, generation),
                             compute=compute, tags={TAG_SOURCE_JOB: job.name, TAG_GENERATION: str(generation)}))
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
