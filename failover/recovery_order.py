"""What comes back first: the order of recovery, as stages.

ARM's write bucket makes recovery take as long as it takes (docs/throughput.md), so the order
decides what an outage costs: the jobs it interrupted are what people wait for. Stages run one
after the other; within a stage, waves run one after the other (a component needs its
environment and code first); within a wave everything runs at once:

1. ``priority_artifacts``: what the pair's ``policy.priority`` list names (artifacts, and the
   dependencies of the jobs and artifacts it names);
2. ``priority_jobs``: the interrupted jobs it names;
3. ``job_dependencies``: every other interrupted job's dependencies (environments, code, data,
   components, and what those components need);
4. ``resubmit_jobs``: the other interrupted jobs;
5. ``recreate_artifacts``: the rest of the inventory.

Empty stages and waves are left out. Pure: the plan and every chunk activity compute the same
stages from the same catalog snapshot and config.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from failover.domain.model import RECOVERY_WAVES, Artifact, ArtifactKind, JobRecord
from failover.domain.serving import ENDPOINT_KIND_OF, endpoint_of
from failover.hubs.hub_specs import is_anonymous_component, references

JOBS = "jobs"  # the key of a wave of jobs (artifact waves are keyed by kind)
TAG_PREFIX = "tag:"

Dependency = tuple[ArtifactKind, str, str]

# ---------------------------------------------------------------------------- a job's dependencies

_ARM_REFERENCE = re.compile(r"/(?P<segment>environments|codes|data|components|models)/(?P<name>[^/]+)"
                            r"/versions/(?P<version>[^/]+)$")
_SHORT_REFERENCE = re.compile(r"^(?:azureml:)?(?P<name>[A-Za-z0-9][\w.-]*):(?P<version>[\w.-]+)$")
_KIND_OF_SEGMENT = {"environments": ArtifactKind.ENVIRONMENT, "codes": ArtifactKind.CODE,
                    "data": ArtifactKind.DATA, "components": ArtifactKind.COMPONENT, "models": ArtifactKind.MODEL}


def _reference(value: Any, kind: ArtifactKind) -> Dependency | None:
    """An artifact version named by ARM id or ``[azureml:]name:version``; None for anything else
    (curated ``@latest`` environments, registry and datastore URIs, plain URLs)."""
    if not isinstance(value, str) or "@" in value or "://" in value:
        return None
    arm = _ARM_REFERENCE.search(value)
    if arm:
        return _KIND_OF_SEGMENT[arm.group("segment")], arm.group("name"), arm.group("version")
    short = _SHORT_REFERENCE.match(value)
    return (kind, short.group("name"), short.group("version")) if short else None


def job_dependencies(spec: dict[str, Any]) -> set[Dependency]:
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


# ---------------------------------------------------------------------------- the priority list


def _tags_of(artifact: Artifact) -> dict[str, str]:
    tags = artifact.spec.get("tags")
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def matches(entry: str, name: str, tags: dict[str, str]) -> bool:
    """One ``policy.priority`` entry: ``tag:KEY`` / ``tag:KEY=VALUE``, else a name glob (fnmatch, case-sensitive)."""
    if entry.startswith(TAG_PREFIX):
        key, sep, value = entry[len(TAG_PREFIX):].partition("=")
        return key in tags and (not sep or tags[key] == value)
    return fnmatch.fnmatchcase(name, entry)


def _named(priority: Sequence[str], name: str, tags: dict[str, str]) -> bool:
    return any(matches(entry, name, tags) for entry in priority)


# ---------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class RecoveryStage:
    """A named step of recovery: waves of items, each wave a mapping kind (or ``jobs``) -> items in chunk order."""

    name: str
    waves: tuple[dict[str, list[Any]], ...]

    def counts(self) -> dict[str, Any]:
        """The stage as the plan carries it: names and counts, never specs."""
        return {"name": self.name, "waves": [{what: len(items) for what, items in wave.items()}
                                             for wave in self.waves]}

    def items(self, wave: int, what: str) -> list[Any]:
        return self.waves[wave][what]

    def of_kind(self, what: str) -> list[Any]:
        """Every item of one kind in the stage (a kind belongs to one wave)."""
        return [item for wave in self.waves for item in wave.get(what, [])]


def stage_items(stages: Iterable[RecoveryStage], *, jobs: bool) -> Iterator[Any]:
    """Every job (``jobs``) or every artifact the stages hold: together, the plan's whole recovery."""
    for stage in stages:
        for wave in stage.waves:
            for what, items in wave.items():
                if (what == JOBS) is jobs:
                    yield from items


def wave_chunks(wave: dict[str, int], chunk_size: int) -> list[tuple[str, int, int]]:
    """A wave's chunks as (kind or ``jobs``, index, size), kinds taken in turn: chunk 0 of every
    kind, then chunk 1... Activities start in this order, so kinds that write (code, data) run
    alongside kinds that mostly find what they need already there (pre-deployed environments)."""
    chunks = {what: math.ceil(count / chunk_size) for what, count in wave.items()}
    return [(what, i, min(chunk_size, wave[what] - i * chunk_size))
            for i in range(max(chunks.values(), default=0)) for what in wave if i < chunks[what]]


def needs(artifact: Artifact) -> list[Dependency]:
    """What must exist before ``artifact`` can be written: what it references, and a deployment's endpoint."""
    needed = list(references(artifact))
    if artifact.kind in ENDPOINT_KIND_OF:
        needed.append((ENDPOINT_KIND_OF[artifact.kind], endpoint_of(artifact.name), ""))
    return needed


def closure(roots: Iterable[Dependency], by_key: dict[Dependency, Artifact]) -> set[Dependency]:
    """The cataloged artifacts ``roots`` name, and what those need, transitively."""
    seen: set[Dependency] = set()
    pending = [r for r in roots if r in by_key]
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        pending.extend(r for r in needs(by_key[key]) if r in by_key and r not in seen)
    return seen


def dependency_key(artifact: Artifact) -> Dependency:
    return artifact.kind, artifact.name, artifact.version or ""


def _artifact_waves(artifacts: Iterable[Artifact]) -> tuple[dict[str, list[Any]], ...]:
    waves: list[dict[str, list[Any]]] = []
    chosen = sorted(artifacts, key=lambda a: a.key)
    for wave_kinds in RECOVERY_WAVES:
        wave = {kind.value: [a for a in chosen if a.kind is kind] for kind in wave_kinds}
        wave = {kind: items for kind, items in wave.items() if items}
        if wave:
            waves.append(wave)
    return tuple(waves)


def recovery_stages(jobs: Sequence[JobRecord], artifacts: Sequence[Artifact],
                    priority: Sequence[str] = ()) -> list[RecoveryStage]:
    """Split the interrupted ``jobs`` and the cataloged ``artifacts`` into ordered stages."""
    by_key = {dependency_key(a): a for a in artifacts}
    first_jobs = [j for j in jobs if _named(priority, j.name, j.tags)]
    first_named = [a for a in artifacts if _named(priority, a.name, _tags_of(a))]
    first = closure([*(dependency_key(a) for a in first_named), *(d for j in first_jobs
                                                                     for d in job_dependencies(j.spec))], by_key)
    first_job_names = {j.name for j in first_jobs}
    other_jobs = [j for j in jobs if j.name not in first_job_names]
    needed = closure((d for j in other_jobs for d in job_dependencies(j.spec)), by_key) - first
    early = first | needed
    rest = [a for a in artifacts if dependency_key(a) not in early]
    stages = [
        RecoveryStage("priority_artifacts", _artifact_waves(by_key[k] for k in first)),
        RecoveryStage("priority_jobs", ({JOBS: sorted(first_jobs, key=lambda j: j.name)},) if first_jobs else ()),
        RecoveryStage("job_dependencies", _artifact_waves(by_key[k] for k in needed)),
        RecoveryStage("resubmit_jobs", ({JOBS: sorted(other_jobs, key=lambda j: j.name)},) if other_jobs else ()),
        RecoveryStage("recreate_artifacts", _artifact_waves(rest)),
    ]
    return [stage for stage in stages if stage.waves]
