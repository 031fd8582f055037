"""The metadata catalog: what recovery needs from a hub, copied ahead of time to DR blob storage.

A failed region's service-side metadata can't be read, so a periodic sync copies the specs of
interrupted jobs and the definitions of artifacts (never secret values) into the DR storage
account. Layout in the container (default ``drcatalog``), per hub:

    {hub}/snapshots/{YYYYmmddTHHMMSSffffffZ}-{hash16}.json   immutable, written once
    {hub}/current.json                                      small manifest naming the snapshot

A sync writes the snapshot blob first and only then swaps the manifest (one Put Blob, with an
ETag condition against concurrent syncs), so a reader, which reads the manifest then the
snapshot it names and checks the snapshot's content hash, never sees half of one. When nothing
changed, no snapshot is written: only the manifest's ``taken_at`` moves. ``taken_at`` is
therefore the time of the last successful sync (the catalog equalled the hub then), and
``now - taken_at`` is the metadata RPO; ``content_since`` is when the current content was
first captured. The last ``keep`` snapshots are kept (never the one the manifest names).

Each snapshot blob also carries, in its metadata, the SHA-256 of its bytes as written. A reader
whose bytes match it knows the body is the one the sync wrote, content hash included, and skips
recomputing every item's fingerprint (some 14,000 hashes at 12,000 items: most of a failover's
plan time). A body rewritten since (by hand, a tool, a restore: metadata does not follow) has no
such digest or another one, and is verified item by item as before; bytes that no longer match
their digest fail the content hash.

A snapshot that can't be used (it fails its content hash, is not JSON, is gone) never stops a
reader or a sync: the reader falls back to the newest kept snapshot that verifies, and says so
(``CatalogSnapshot.fallback``); the next sync publishes a fresh snapshot and heals the manifest.
Secrets never reach a blob: every spec is redacted first (failover/domain/secrets.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from failover.domain.config import FailoverConfig, HubRef
from failover.domain.model import KNOWN_JOB_STATUSES, Artifact, ArtifactKind, JobRecord, content_hash
from failover.domain.ports import JOB_ITEM, HubClient, UnreadableItem, unreadable_of
from failover.domain.secrets import Finding, redact, scrub

if TYPE_CHECKING:
    from failover.domain.settings import Settings

log = logging.getLogger(__name__)

CATALOG_CONTAINER = "drcatalog"
KEEP_SNAPSHOTS = 5
# A snapshot younger than this is never pruned, however many syncs followed: a failover pins the snapshot
# its plan read and reads it again in later stages (after an approval wait, while deployments provision, in
# a drill that keeps the source active and its syncs running); a hub whose jobs change every sync would
# otherwise lose it after ``keep`` syncs.
RETAIN_SNAPSHOTS = timedelta(hours=24)
SCHEMA_VERSION = 1
_JSON = ContentSettings(content_type="application/json")
BODY_DIGEST = "bodysha256"  # blob metadata: the SHA-256 (hex) of the snapshot's bytes as the sync wrote them

HubFactory = Callable[[HubRef], HubClient]


class CatalogError(RuntimeError):
    """The catalog can't be read: no snapshot of the hub verifies (or it kept moving)."""


@dataclass(frozen=True)
class CatalogFallback:
    """Why the snapshot the manifest names was not used (a reader fell back to an older one)."""

    wanted: str | None  # the snapshot the manifest named; None when there was no readable manifest
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _written_after(name: str, moment: datetime) -> bool:
    """Whether the snapshot ``…/snapshots/{YYYYmmddTHHMMSSffffffZ}-{hash16}.json`` was written after ``moment``
    (a name that does not parse: no)."""
    try:
        written = datetime.strptime(name.rsplit("/", 1)[-1].split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return written > moment


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _job_fingerprint(job: Mapping[str, Any]) -> str:
    # Everything stored about a job except when it was seen: a status change is a change.
    return content_hash({k: v for k, v in job.items() if k != "last_seen"})


def _fingerprints(jobs: list[dict[str, Any]], artifacts: Mapping[str, list[dict[str, Any]]]) -> dict[str, str]:
    prints = {f"job:{j['name']}": _job_fingerprint(j) for j in jobs}
    for items in artifacts.values():
        for item in items:
            artifact = Artifact.from_dict(item)
            prints[artifact.key] = artifact.content_hash
    return prints


@dataclass(frozen=True)
class CatalogSnapshot:
    hub: str
    pair: str
    taken_at: datetime  # last successful sync: the RPO basis
    content_since: datetime  # when this content was first captured
    name: str  # blob name of the snapshot
    content_hash: str
    jobs: list[dict[str, Any]]
    artifacts: dict[str, list[dict[str, Any]]]
    manifest_etag: str = field(default="", compare=False, repr=False)
    fallback: CatalogFallback | None = field(default=None, compare=False)

    def job_records(self) -> list[JobRecord]:
        return [JobRecord.from_dict(j) for j in self.jobs]

    def artifact_list(self, kind: ArtifactKind) -> list[Artifact]:
        return [Artifact.from_dict(a) for a in self.artifacts.get(kind.value, [])]

    def age(self, now: datetime) -> timedelta:
        return now - self.taken_at

    def fingerprints(self) -> dict[str, str]:
        return _fingerprints(self.jobs, self.artifacts)

    def describe(self, now: datetime) -> dict[str, Any]:
        """What a report says about the catalog a run used: which snapshot, its RPO, any fallback."""
        return {"snapshot": self.name, "taken_at": self.taken_at.isoformat(),
                "age_seconds": round((now - self.taken_at).total_seconds(), 3),
                "fallback": self.fallback.to_dict() if self.fallback else None}


@dataclass(frozen=True)
class SyncReport:
    pair: str
    hub: str
    snapshot: str
    wrote_snapshot: bool
    superseded: bool  # a concurrent sync committed a newer manifest: ours was not published
    taken_at: str
    jobs: int
    artifacts: dict[str, int]
    added: int
    changed: int
    unchanged: int
    removed: int
    redacted: list[str]  # paths of fields whose values were withheld (never the values)
    pruned: int
    # Items the hub holds that its adapter could not read, by name: {key, kind, name, version, reason,
    # kept_previous}. kept_previous: the last snapshot's copy stays in the catalog (its last_seen says when).
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    healed: str | None = None  # the manifest named an unusable snapshot: why, and what replaced it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        kinds = " ".join(f"{k}={n}" for k, n in self.artifacts.items())
        wrote = "new snapshot" if self.wrote_snapshot else "unchanged"
        extra = " SUPERSEDED by a concurrent sync" if self.superseded else ""
        extra += f" HEALED ({self.healed})" if self.healed else ""
        redacted = f" redacted={len(self.redacted)}" if self.redacted else ""
        unreadable = ""
        if self.unreadable:
            kept = sum(1 for u in self.unreadable if u["kept_previous"])
            unreadable = (f" UNREADABLE={len(self.unreadable)} (kept from the last sync: {kept}): "
                          + ", ".join(u["key"] for u in self.unreadable[:10])
                          + (" ..." if len(self.unreadable) > 10 else ""))
        return (f"catalog {self.pair}/{self.hub}: {wrote} {self.snapshot} jobs={self.jobs} {kinds} "
                f"+{self.added} ~{self.changed} ={self.unchanged} -{self.removed} pruned={self.pruned}"
                f"{redacted}{unreadable}{extra}")


class CatalogStore:
    """Catalog snapshots of every hub in one blob container. Construction makes no network call."""

    def __init__(self, container: ContainerClient, keep: int = KEEP_SNAPSHOTS,
                 retain: timedelta = RETAIN_SNAPSHOTS) -> None:
        if keep < 1:
            raise ValueError("keep at least the current snapshot")
        self.container = container
        self.keep = keep
        self.retain = retain

    @classmethod
    def from_service(cls, service: BlobServiceClient, container: str = CATALOG_CONTAINER,
                     keep: int = KEEP_SNAPSHOTS) -> CatalogStore:
        return cls(service.get_container_client(container), keep)

    @classmethod
    def from_settings(cls, settings: Settings, container: str = CATALOG_CONTAINER) -> CatalogStore:
        from failover.stores.storage import blob_service

        return cls.from_service(blob_service(settings), container)

    # -- reading ----------------------------------------------------------------------------
    def manifest(self, hub: str) -> dict[str, Any] | None:
        """Only the small manifest (snapshot name, taken_at): enough for the catalog's age."""
        try:
            return dict(json.loads(self.container.download_blob(f"{hub}/current.json").readall()))
        except ResourceNotFoundError:
            return None

    def read(self, hub: str, attempts: int = 3) -> CatalogSnapshot | None:
        """The current snapshot of ``hub``; None if it was never synced.

        A snapshot pruned between our manifest and snapshot reads (a reader slower than ``keep``
        syncs) is retried from a fresh manifest, up to ``attempts`` times. When the manifest's
        snapshot can't be used (missing, not JSON, fails its content hash) or the manifest itself
        is unreadable, the newest kept snapshot that verifies is returned with ``fallback`` saying
        why; CatalogError only when none does.
        """
        wanted: str | None = None
        etag = ""
        for _ in range(attempts):
            try:
                manifest_blob = self.container.download_blob(f"{hub}/current.json")
                raw = manifest_blob.readall()
                etag = manifest_blob.properties.etag
            except ResourceNotFoundError:
                return self._fallback(hub, None, "the manifest is missing", "", quiet=True)
            try:
                manifest = json.loads(raw)
                wanted = str(manifest["snapshot"])
            except (ValueError, KeyError, TypeError):
                return self._fallback(hub, None, "the manifest is not readable", etag)
            try:
                data, digest = self._download(wanted)
                body = json.loads(data)
            except ResourceNotFoundError:
                continue
            except ValueError:
                return self._fallback(hub, wanted, f"snapshot {wanted} is not valid JSON", etag)
            try:
                return self._verified(hub, manifest, body, etag, intact=_intact(data, digest, hub, wanted))
            except CatalogError as exc:
                return self._fallback(hub, wanted, str(exc), etag)
        return self._fallback(hub, wanted, f"snapshot {wanted} its manifest names is missing ({attempts} reads)",
                              etag)

    def _fallback(self, hub: str, wanted: str | None, reason: str, etag: str,
                  quiet: bool = False) -> CatalogSnapshot | None:
        """The newest kept snapshot that verifies, marked as a fallback (None: there are none)."""
        names = [n for n in reversed(self.snapshot_names(hub)) if n != wanted]
        if not names and quiet:
            return None  # no manifest and no snapshot: never synced
        rejected = []
        for name in names:
            try:
                snapshot = self.read_snapshot(hub, name)
            except CatalogError as exc:
                rejected.append(str(exc))
                continue
            log.warning("catalog of %s: %s; using the newest valid snapshot %s", hub, reason, name)
            return replace(snapshot, manifest_etag=etag, fallback=CatalogFallback(wanted, reason))
        if quiet and not rejected:
            return None
        detail = f" (also unusable: {'; '.join(rejected[:3])})" if rejected else " and no other snapshot is kept"
        raise CatalogError(f"catalog of {hub!r}: {reason}{detail}")

    def read_snapshot(self, hub: str, name: str) -> CatalogSnapshot:
        """One named (immutable) snapshot, e.g. the one a failover plan pinned. Its ``taken_at`` is
        when it was written: later unchanged syncs are recorded only in the manifest."""
        try:
            data, digest = self._download(name)
            body = json.loads(data)
        except ResourceNotFoundError:
            raise CatalogError(f"catalog of {hub!r}: snapshot {name} does not exist (pruned?)") from None
        except ValueError:
            raise CatalogError(f"catalog of {hub!r}: snapshot {name} is not valid JSON") from None
        if not isinstance(body, dict):
            raise CatalogError(f"catalog of {hub!r}: snapshot {name} is malformed")
        manifest = {"pair": body.get("pair"), "taken_at": body.get("taken_at"), "snapshot": name,
                    "content_hash": body.get("content_hash")}
        return self._verified(hub, manifest, body, "", intact=_intact(data, digest, hub, name))

    def _download(self, name: str) -> tuple[bytes, str | None]:
        """A blob's bytes and the digest its writer put in its metadata (None: none)."""
        downloaded = self.container.download_blob(name)
        data = downloaded.readall()
        return data, (downloaded.properties.metadata or {}).get(BODY_DIGEST)

    @staticmethod
    def _verified(hub: str, manifest: dict[str, Any], body: dict[str, Any], etag: str,
                  intact: bool = False) -> CatalogSnapshot:
        name = str(manifest["snapshot"])
        if not isinstance(body, dict) or body.get("hub") != hub or not name.startswith(f"{hub}/snapshots/"):
            # e.g. a manifest copied from another hub: its items are not this hub's
            raise CatalogError(f"catalog of {hub!r}: snapshot {name} does not belong to hub {hub!r}")
        try:
            snapshot = CatalogSnapshot(
                hub=hub, pair=manifest["pair"], taken_at=datetime.fromisoformat(manifest["taken_at"]),
                content_since=datetime.fromisoformat(body["taken_at"]), name=name,
                content_hash=body["content_hash"], jobs=body["jobs"], artifacts=body["artifacts"],
                manifest_etag=etag)
            # Bytes as the sync wrote them: the hash it recorded is the content's (see the module's docstring).
            actual = str(body["content_hash"]) if intact else content_hash(snapshot.fingerprints())
        except (KeyError, TypeError, ValueError, AttributeError):
            raise CatalogError(f"catalog of {hub!r}: snapshot {name} is malformed") from None
        # The name carries the hash too (…-{hash16}.json): a body rewritten with its own hash still fails.
        named = name.rsplit("-", 1)[-1].removesuffix(".json")
        if not (actual == body["content_hash"] == manifest["content_hash"]) or actual[7:23] != named:
            raise CatalogError(f"catalog of {hub!r}: snapshot {name} fails its content hash")
        return snapshot

    def manifest_etag(self, hub: str) -> str | None:
        try:
            return str(self.container.get_blob_client(f"{hub}/current.json").get_blob_properties().etag)
        except ResourceNotFoundError:
            return None

    def snapshot_names(self, hub: str) -> list[str]:
        try:
            return sorted(b.name for b in self.container.list_blobs(name_starts_with=f"{hub}/snapshots/"))
        except ResourceNotFoundError:
            return []

    # -- writing ----------------------------------------------------------------------------
    def write_snapshot(self, hub: str, body: dict[str, Any], taken_at: datetime) -> str:
        """Write an immutable snapshot blob; same time and content -> same name, written once."""
        name = f"{hub}/snapshots/{taken_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{body['content_hash'][7:23]}.json"
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()  # kinds in recovery order
        with suppress(ResourceExistsError):  # same name, same content: an earlier attempt wrote it
            self._upload(name, data, overwrite=False, metadata={BODY_DIGEST: hashlib.sha256(data).hexdigest()})
        return name

    def swap_manifest(self, hub: str, manifest: dict[str, Any], etag: str | None) -> bool:
        """Publish ``manifest`` iff the current one is still ``etag`` (None: iff there is none)."""
        data = json.dumps(manifest, sort_keys=True, indent=1).encode()
        condition = ({"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag
                     else {"match_condition": MatchConditions.IfMissing})
        try:
            self._upload(f"{hub}/current.json", data, overwrite=True, **condition)
        except (ResourceModifiedError, ResourceExistsError):
            return False
        return True

    def prune(self, hub: str, current: str, now: datetime | None = None) -> int:
        """Delete snapshots beyond the newest ``keep``, except the current one and those younger than
        ``retain`` (by the time in their name)."""
        names = self.snapshot_names(hub)
        cutoff = (now or datetime.now(UTC)) - self.retain
        doomed = [n for n in names[: max(0, len(names) - self.keep)]
                  if n != current and not _written_after(n, cutoff)]
        for name in doomed:
            with suppress(ResourceNotFoundError):
                self.container.delete_blob(name)
        return len(doomed)

    def _upload(self, name: str, data: bytes, **kwargs: Any) -> None:
        try:
            self.container.upload_blob(name, data, content_settings=_JSON, **kwargs)
        except ResourceNotFoundError:  # first write to this account: no container yet
            with suppress(ResourceExistsError):
                self.container.create_container()
            self.container.upload_blob(name, data, content_settings=_JSON, **kwargs)


def _intact(data: bytes, digest: str | None, hub: str, name: str) -> bool:
    """Whether a snapshot's bytes are those its sync wrote: True when they match the digest it stored,
    False when it stored none (verify item by item); CatalogError when they differ from it."""
    if digest is None:
        return False
    if hashlib.sha256(data).hexdigest() != digest:
        raise CatalogError(f"catalog of {hub!r}: snapshot {name} fails its content hash (its bytes changed)")
    return True


# --------------------------------------------------------------------------- sync

def _redact(value: Any, path: str, redacted: list[str]) -> Any:
    """Withhold secrets (by field name or by value shape: the shared rule) and record their paths."""
    findings: list[Finding] = []
    clean = redact(value, "", findings)
    redacted.extend(f"{path}.{f.path}" if f.path else path for f in findings)
    return clean


@dataclass
class _Gathered:
    jobs: list[dict[str, Any]]
    artifacts: dict[str, list[dict[str, Any]]]
    unreadable: list[dict[str, Any]]


def _gather(client: HubClient, pair: str, config: FailoverConfig, taken_at: str, redacted: list[str],
            previous: CatalogSnapshot | None) -> _Gathered:
    policy = config.pair(pair).policy
    wanted = set(policy.interrupted_statuses)
    before_jobs = {j["name"]: j for j in previous.jobs} if previous else {}
    before_artifacts = {Artifact.from_dict(a).key: a for items in (previous.artifacts if previous else {}).values()
                        for a in items}
    unreadable: list[dict[str, Any]] = []

    def report(item: UnreadableItem, kept: bool) -> None:
        log.warning("catalog %s: %s can't be read (%s)%s", pair, item.key, scrub(item.reason),
                    "; the last sync's copy is kept" if kept else "")
        unreadable.append({**item.to_dict(), "reason": scrub(item.reason), "kept_previous": kept})

    listed_jobs = client.list_jobs(statuses=sorted(wanted))
    jobs = []
    for job in sorted(listed_jobs, key=lambda j: j.name):
        if job.status not in KNOWN_JOB_STATUSES:  # a status of a newer service: say so, never drop it unseen
            kept_job = before_jobs.get(job.name)
            if kept_job is not None:
                jobs.append(kept_job)
            report(UnreadableItem(JOB_ITEM, job.name, None, f"status {job.status!r} is not an Azure ML job status "
                                                             "hubfailover knows: whether it was interrupted can't be "
                                                             "told"), kept_job is not None)
            continue
        if job.status not in wanted:  # the port filters too; don't trust every adapter to
            continue
        clean = JobRecord(job.name, job.status, job.experiment_name, job.compute,
                          _redact(job.spec, f"job:{job.name}.spec", redacted),
                          _redact(job.tags, f"job:{job.name}.tags", redacted))
        jobs.append({**clean.to_dict(), "last_seen": taken_at})
    for item in unreadable_of(listed_jobs):
        # A job readable last time keeps its copy: losing it would lose its resubmission.
        if (kept := before_jobs.get(item.name)) is not None:
            jobs.append(kept)
        report(item, kept is not None)
    jobs.sort(key=lambda j: j["name"])
    artifacts: dict[str, list[dict[str, Any]]] = {}
    for kind in policy.artifact_kinds:
        listed = client.list_connections() if kind is ArtifactKind.CONNECTION else client.list_assets(kind)
        items = []
        for artifact in listed:
            spec = _redact(artifact.spec, f"{artifact.key}.spec", redacted)
            items.append(Artifact(artifact.kind, artifact.name, artifact.version, spec).to_dict())
        for item in unreadable_of(listed):
            if (previous_item := before_artifacts.get(item.key)) is not None:
                items.append(previous_item)
            report(item, previous_item is not None)
        artifacts[kind.value] = sorted(items, key=lambda a: f"{a['kind']}:{a['name']}:{a.get('version') or ''}")
    return _Gathered(jobs, artifacts, sorted(unreadable, key=lambda u: u["key"]))


def sync_catalog(config: FailoverConfig, pair_name: str, hub_factory: HubFactory, store: CatalogStore,
                 now: datetime | None = None, hub_name: str | None = None) -> SyncReport:
    """Copy what recovery needs from a hub (default: the pair's primary) into the catalog.

    All or nothing: a hub error while listing propagates and leaves the previous snapshot current.
    An item the hub's adapter can't read is not an error: it is reported by name in the report's
    ``unreadable`` and everything else is cataloged; if the previous snapshot had it, that copy stays.
    """
    pair = config.pair(pair_name)
    hub = pair.hub(hub_name) if hub_name else pair.primary
    moment = now or datetime.now(UTC)
    taken_at = _iso(moment)
    previous, healed, etag = _previous(store, hub.name)
    redacted: list[str] = []
    gathered = _gather(hub_factory(hub), pair.name, config, taken_at, redacted, previous)
    jobs, artifacts = gathered.jobs, gathered.artifacts
    if redacted:
        log.warning("catalog %s/%s: withheld %d secret-looking field(s): %s", pair.name, hub.name,
                    len(redacted), ", ".join(redacted[:20]))
    prints = _fingerprints(jobs, artifacts)
    digest = content_hash(prints)

    before = previous.fingerprints() if previous else {}
    unchanged = sum(1 for k, h in prints.items() if before.get(k) == h)
    added = sum(1 for k in prints if k not in before)
    removed = sum(1 for k in before if k not in prints)

    if previous is not None and previous.content_hash == digest:
        name, content_since, wrote = previous.name, _iso(previous.content_since), False
    else:
        body = {"schema": SCHEMA_VERSION, "hub": hub.name, "pair": pair.name, "taken_at": taken_at,
                "content_hash": digest, "jobs": jobs, "artifacts": artifacts}
        name, content_since, wrote = store.write_snapshot(hub.name, body, moment), taken_at, True
    manifest = {"schema": SCHEMA_VERSION, "hub": hub.name, "pair": pair.name, "snapshot": name,
                "content_hash": digest, "taken_at": taken_at, "content_since": content_since,
                "counts": {"jobs": len(jobs), **{k: len(v) for k, v in artifacts.items()}}}
    published = _publish(store, hub.name, manifest, etag, moment)
    if healed and published:
        log.warning("catalog %s/%s: healed: %s; the manifest now names %s", pair.name, hub.name, healed, name)
    return SyncReport(
        pair=pair.name, hub=hub.name, snapshot=name, wrote_snapshot=wrote, superseded=not published,
        taken_at=taken_at, jobs=len(jobs), artifacts={k: len(v) for k, v in artifacts.items()},
        added=added, changed=len(prints) - unchanged - added, unchanged=unchanged, removed=removed,
        redacted=redacted, pruned=store.prune(hub.name, current=name, now=moment) if published else 0,
        unreadable=gathered.unreadable, healed=healed if published else None)


def _previous(store: CatalogStore, hub: str) -> tuple[CatalogSnapshot | None, str | None, str | None]:
    """The snapshot to compare with, why the manifest needs healing (None: it doesn't), and the
    manifest's ETag for the conditional swap (None: no manifest)."""
    try:
        previous = store.read(hub)
    except CatalogError as exc:  # nothing verifies: write a whole new snapshot over the manifest
        return None, str(exc), store.manifest_etag(hub)
    if previous is None:
        return None, None, None
    fallback = previous.fallback
    healed = f"{fallback.reason}; compared with {previous.name}" if fallback else None
    return previous, healed, previous.manifest_etag or None


def _publish(store: CatalogStore, hub: str, manifest: dict[str, Any], etag: str | None,
             moment: datetime) -> bool:
    """Swap the manifest unless a concurrent sync published a newer one (then theirs stands)."""
    for _ in range(3):
        if store.swap_manifest(hub, manifest, etag):
            return True
        try:
            blob = store.container.download_blob(f"{hub}/current.json")
        except ResourceNotFoundError:
            etag = None
            continue
        etag = blob.properties.etag
        try:
            theirs = datetime.fromisoformat(json.loads(blob.readall())["taken_at"])
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable manifest is not a newer one: replace it
        if theirs >= moment:
            return False
    return False


@dataclass(frozen=True)
class PairSync:
    pair: str
    report: SyncReport | None
    error: str | None  # one line: the exception type and message (hub errors carry no secrets)


def sync_all(config: FailoverConfig, hub_factory: HubFactory, store: CatalogStore,
             now: datetime | None = None, active_hub: Callable[[str], str] | None = None) -> list[PairSync]:
    """Sync every pair's active hub (per the pointer: after a failover, the secondary, so a
    failback has a catalog too); one pair's failure doesn't stop the others."""
    results = []
    for pair in config.pairs:
        try:
            hub = active_hub(pair.name) if active_hub else None
            results.append(PairSync(pair.name, sync_catalog(config, pair.name, hub_factory, store, now, hub), None))
        except Exception as exc:
            log.debug("catalog sync of %s failed", pair.name, exc_info=True)
            results.append(PairSync(pair.name, None, f"{type(exc).__name__}: {exc}".splitlines()[0]))
    return results
