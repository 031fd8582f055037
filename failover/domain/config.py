"""The hub-pair configuration: which hubs protect which, and the policy of each failover.

Loaded from the ``FAILOVER_CONFIG`` app setting (a path to a JSON file, or the JSON itself).
Every model forbids unknown fields, so a typo fails at load time instead of silently
falling back to a default in the middle of an outage. Errors are reported one line per
problem, each naming the field path and the offending value.

Run ``python -m failover.domain.config --schema`` to print the JSON schema (docs/config.schema.json),
``python -m failover.domain.config --check [PATH]`` to validate a file (default: FAILOVER_CONFIG).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from failover.domain import settings as app_settings
from failover.domain.model import (
    DEFAULT_INTERRUPTED_JOB_STATUSES,
    KNOWN_JOB_STATUSES,
    RECOVERY_ORDER,
    ArtifactKind,
)

# An alert delivered later than this is news of an outage that detection has long seen (or not).
ALERT_MAX_AGE_DEFAULT_MINUTES = 60
# Alert dedupe rows expire after ALERT_DEDUPE_TTL. The maximum age stays a day below it (room for
# clock skew), so a redelivery that outlives its dedupe row is stale: recorded, never acted on.
ALERT_MAX_AGE_LIMIT_MINUTES = 7 * 24 * 60
ALERT_DEDUPE_TTL = timedelta(minutes=ALERT_MAX_AGE_LIMIT_MINUTES) + timedelta(days=1)

# Patterns double as schema constraints and as the hint printed when a value misses them.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RESOURCE_GROUP_PATTERN = r"^[-\w.()]{0,89}[-\w()]$"
WORKSPACE_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"
REGION_PATTERN = r"^[a-z][a-z0-9]*$"
COMPUTE_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$"
CONNECTION_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$"
DATASTORE_PATTERN = r"^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,254}$"
DEPLOYMENT_KEY_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$"
INSTANCE_TYPE_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$"
_VAULT_NAME = r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]"
KEY_VAULT_PATTERN = (rf"^(?:{_VAULT_NAME}|/subscriptions/[^/]+/resource[gG]roups/[^/]+/providers/"
                     rf"Microsoft\.KeyVault/vaults/{_VAULT_NAME})$")
SECRET_REF_PATTERN = (r"^(?:[a-zA-Z0-9-]{1,127}|https://[a-zA-Z0-9-]{3,24}\.vault\.(?:azure\.net|azure\.cn|"
                      r"usgovcloudapi\.net)/secrets/[a-zA-Z0-9-]{1,127}(?:/[0-9a-fA-F]{32})?)$")
SECRET_KEY_PATTERN = r"^(?:\S+/)?[A-Za-z_][\w.-]*$"  # the item may hold a "/" (an endpoint's deployment)

_PATTERN_HINTS: dict[str, str] = {
    SLUG_PATTERN: "slug (1-63 of a-z, 0-9 and '-', not starting or ending with '-')",
    GUID_PATTERN: "GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
    RESOURCE_GROUP_PATTERN: "resource group name (1-90 letters, digits, '_-.()', not ending with '.')",
    WORKSPACE_PATTERN: "workspace name (3-33 letters, digits, '_' and '-', starting alphanumeric)",
    REGION_PATTERN: "Azure region name (lowercase, no spaces, e.g. 'swedencentral')",
    COMPUTE_PATTERN: "compute name (letters, digits, '_' and '-', starting alphanumeric)",
    CONNECTION_PATTERN: "connection name (letters, digits, '_', '.' and '-', starting alphanumeric)",
    DATASTORE_PATTERN: "datastore name (letters, digits, '_' and '-')",
    DEPLOYMENT_KEY_PATTERN: "'endpoint/deployment' name pair (e.g. 'churn-endpoint/blue')",
    INSTANCE_TYPE_PATTERN: "instance type (e.g. 'Standard_DS3_v2')",
    KEY_VAULT_PATTERN: "Key Vault name (3-24 letters, digits and '-') or ARM id (/subscriptions/…/vaults/<name>)",
    SECRET_REF_PATTERN: ("Key Vault secret name (1-127 letters, digits and '-') or secret URI "
                         "(https://<vault>.vault.azure.net/secrets/<name>[/<version>])"),
    SECRET_KEY_PATTERN: "reference: a variable or field name (HF_TOKEN, inputs.data), optionally '<item>/' first",
}

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
ComputeName = Annotated[str, StringConstraints(pattern=COMPUTE_PATTERN)]
ConnectionName = Annotated[str, StringConstraints(pattern=CONNECTION_PATTERN)]
DatastoreName = Annotated[str, StringConstraints(pattern=DATASTORE_PATTERN)]
DeploymentKey = Annotated[str, StringConstraints(pattern=DEPLOYMENT_KEY_PATTERN)]


class ConfigError(ValueError):
    """The configuration is missing or invalid. ``problems`` has one line per problem."""

    def __init__(self, problems: Sequence[str], source: str = "configuration") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(f"invalid failover configuration ({source}):\n" + "\n".join(
            f"  {p}" for p in self.problems))


def _rule(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """A cross-field error. Each problem is (path relative to the validated model, detail)."""
    return PydanticCustomError("config_rule", "; ".join(f"{at}: {d}" for at, d in problems),
                               {"problems": problems})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogQuery(_Strict):
    """A Log Analytics query the health probe runs against the primary's workspace."""

    kql: str = Field(min_length=1, description="KQL returning one numeric value in its first row/column.")
    threshold: float = Field(description="The primary counts as unhealthy when `value <operator> threshold`.")
    operator: Literal[">", ">=", "<", "<="] = Field(">", description="How the value compares to threshold.")
    timespan_minutes: int = Field(15, ge=1, le=1440, description="Query time window, in minutes.")


class Approvers(_Strict):
    """Who may approve or reject: Entra ID app roles and/or group object ids (needs App Service authentication)."""

    roles: list[Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^\S+$")]] = Field(
        default_factory=list, description="App role values (the `roles` claim) allowed to decide.")
    groups: list[Annotated[str, StringConstraints(pattern=GUID_PATTERN, to_lower=True)]] = Field(
        default_factory=list, description="Group object ids (the `groups` claim) allowed to decide.")

    @model_validator(mode="after")
    def _someone(self) -> Approvers:
        problems = _duplicates(self.roles) + _duplicates(self.groups)
        if not self.roles and not self.groups:
            problems.append(("", "name at least one role or group (omit `approvers` to let any operator decide)"))
        if problems:
            raise _rule(problems)
        return self


class FailoverPolicy(_Strict):
    """How a pair fails over: detection hysteresis, approval, what to recover, fan-out limits."""

    probe_failure_threshold: int = Field(
        3, ge=1, description="Consecutive failed probes of the primary before an automatic failover.")
    probe_success_threshold_for_failback: int = Field(
        3, ge=1, description="Consecutive healthy probes of the original primary before failback is offered.")
    alert_max_age_minutes: int = Field(
        ALERT_MAX_AGE_DEFAULT_MINUTES, ge=1, le=ALERT_MAX_AGE_LIMIT_MINUTES,
        description="An Azure Monitor alert fired longer ago than this is recorded as stale, never acted on.")
    approval_required: bool | None = Field(
        None, description="Wait for an operator's approval before changing anything. "
                          "Default: true for hot-cold pairs, false otherwise.")
    approval_timeout_minutes: int = Field(30, ge=1, description="How long to wait for an approval.")
    on_approval_timeout: Literal["abort", "proceed"] = Field(
        "abort", description="What to do when nobody approves in time.")
    approvers: Approvers | None = Field(
        None, description="Restrict approve/reject to these Entra ID app roles or groups (verified callers "
                          "only: needs App Service authentication). Default: any operator of the API.")
    interrupted_statuses: list[str] = Field(
        default_factory=lambda: sorted(DEFAULT_INTERRUPTED_JOB_STATUSES),
        description="Azure ML job statuses that count as interrupted (cataloged and resubmitted). Default: the "
                    "active ones; CancelRequested, Paused and Unknown only when listed (docs/recovery-coverage.md).")
    artifact_kinds: list[ArtifactKind] = Field(
        default_factory=lambda: list(RECOVERY_ORDER),
        description="Artifact kinds to catalog and recreate; always processed in recovery order.")
    activation_timeout_minutes: int = Field(
        30, ge=1, le=1440, description="How long the activation stage waits for recreated endpoints and "
                                       "deployments to finish provisioning before reporting them failed.")
    activation_poll_seconds: int = Field(
        30, ge=1, le=3600, description="First wait before looking again at what is still provisioning; each "
                                       "later wait doubles, up to ten times this.")
    chunk_size: int = Field(50, ge=1, le=500, description="Items per activity call when fanning out.")
    max_concurrency: int = Field(8, ge=1, le=64, description="Activity calls in flight at once.")
    priority: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] = Field(
        default_factory=list, max_length=100,
        description="Recovered before everything else, with what they need: name globs of interrupted jobs and "
                    "artifacts (fnmatch, case-sensitive) or `tag:KEY` / `tag:KEY=VALUE`.")
    log_query: LogQuery | None = Field(
        None, description="Optional Log Analytics health signal (needs the primary's workspace id).")
    rto_minutes: int = Field(
        60, ge=1, le=10_080, description="Recovery time objective: every failover report states the time measured "
                                         "(outage, or start, to the end of recovery) against it: met or missed.")
    rpo_minutes: int = Field(
        30, ge=1, le=10_080, description="Metadata recovery point objective: the oldest the active hub's catalog "
                                         "may be. Older, and the readiness check says not ready.")
    predeployed_kinds: list[ArtifactKind] | None = Field(
        None, description="Artifact kinds kept deployed on the standby ahead of time; the readiness check reports "
                          "any cataloged one missing there. Default: every kind for hot-hot (a failover only flips), "
                          "environments and the serving chain (endpoints, deployments, schedules) for hot-warm, "
                          "none for hot-cold.")

    @model_validator(mode="before")
    @classmethod
    def _removed_fields(cls, data: Any) -> Any:
        # The cooldown no longer lapses on a timer (docs/runbook.md): say so rather than "unknown field".
        if isinstance(data, dict) and "cooldown_minutes" in data:
            raise _rule([("cooldown_minutes", "no longer used: the cooldown after a failover lasts until an "
                                              "operator acknowledges it (hubfailover ack); remove this field")])
        return data

    @field_validator("interrupted_statuses")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        known = ", ".join(sorted(KNOWN_JOB_STATUSES))
        problems = [(f"[{i}]", f"{_show(s)} is not an Azure ML job status (known: {known})")
                    for i, s in enumerate(value) if s not in KNOWN_JOB_STATUSES]
        problems += _duplicates(value)
        if problems:
            raise _rule(problems)
        return value

    @field_validator("predeployed_kinds")
    @classmethod
    def _no_repeats(cls, value: list[ArtifactKind] | None) -> list[ArtifactKind] | None:
        if value is not None and (problems := _duplicates([k.value for k in value])):
            raise _rule(problems)
        return sorted(value, key=RECOVERY_ORDER.index) if value is not None else None

    @field_validator("priority")
    @classmethod
    def _priority_entries(cls, value: list[str]) -> list[str]:
        problems = [(f"[{i}]", f"{_show(e)} must not start or end with spaces") for i, e in enumerate(value)
                    if e != e.strip()]
        problems += [(f"[{i}]", f"{_show(e)} names no tag (expected tag:KEY or tag:KEY=VALUE)")
                     for i, e in enumerate(value) if e.startswith("tag:") and not e[4:].partition("=")[0].strip()]
        problems += _duplicates(value)
        if problems:
            raise _rule(problems)
        return value

    @field_validator("artifact_kinds")
    @classmethod
    def _recovery_order(cls, value: list[ArtifactKind]) -> list[ArtifactKind]:
        if problems := _duplicates([k.value for k in value]):
            raise _rule(problems)
        # Recreation must follow RECOVERY_ORDER (a component needs its environment first),
        # whatever order the operator wrote.
        return sorted(value, key=RECOVERY_ORDER.index)


def _duplicates(values: Sequence[str]) -> list[tuple[str, str]]:
    seen: dict[str, int] = {}
    problems = []
    for i, v in enumerate(values):
        if v in seen:
            problems.append((f"[{i}]", f"{_show(v)} is listed twice (also at [{seen[v]}])"))
        seen.setdefault(v, i)
    return problems


class PairSecrets(_Strict):
    """Where the secrets the catalog never keeps come from when a job or artifact is recreated.

    Every secret withheld from the catalog is known by a reference: the environment variable or
    field name (HF_TOKEN, DB_PASS), or `inputs.<name>` for a job input. A reference mapped here is
    read from Key Vault under the app's managed identity at recovery time; one that is not fails
    its item by name. Nothing here is a secret: names and URIs only.
    """

    key_vault: Annotated[str, StringConstraints(pattern=KEY_VAULT_PATTERN)] | None = Field(
        None, description="Key Vault of the mapped secret names: its name, or its ARM id (then `azd up` grants "
                          "the app's identity Key Vault Secrets User on it). Key Vault replicates to its paired "
                          "region by itself.")
    map: dict[Annotated[str, StringConstraints(pattern=SECRET_KEY_PATTERN, max_length=512)],
              Annotated[str, StringConstraints(pattern=SECRET_REF_PATTERN)]] = Field(
        default_factory=dict,
        description="Reference -> Key Vault secret name (in key_vault) or secret URI. A reference is an environment "
                    "variable or field name (HF_TOKEN), `inputs.<name>` for a job input, or `<job name or artifact "
                    "key>/<reference>` for one item only (it wins over the plain reference).")
    signed_uris: Literal["fail", "identity"] = Field(
        "fail", description="A SAS-signed URI (kept in the catalog without its signature) whose reference is not "
                            "mapped: `fail` its item by name, or `identity`: submit it unsigned, for identity-based "
                            "data access.")

    @model_validator(mode="after")
    def _names_need_a_vault(self) -> PairSecrets:
        if self.key_vault is None:
            bare = [(f"map.{key}", f"{_show(value)} is a secret name: set key_vault, or give the secret's URI")
                    for key, value in self.map.items() if not value.startswith("https://")]
            if bare:
                raise _rule(bare)
        return self

    @property
    def vault_url(self) -> str | None:
        if self.key_vault is None:
            return None
        return f"https://{self.key_vault.rsplit('/', 1)[-1].lower()}.vault.azure.net"

    def secret_uri(self, ref: str) -> str:
        """The Key Vault secret URI a mapped value names (a name resolves in ``key_vault``)."""
        return ref if ref.startswith("https://") else f"{self.vault_url}/secrets/{ref}"


class HubRef(_Strict):
    """One Azure ML workspace / AI Studio hub."""

    name: Slug = Field(description="Id of the hub within this config; the value the pointer stores.")
    subscription_id: Annotated[str, StringConstraints(pattern=GUID_PATTERN, to_lower=True)] = Field(
        description="Azure subscription GUID.")
    resource_group: Annotated[str, StringConstraints(pattern=RESOURCE_GROUP_PATTERN)]
    workspace_name: Annotated[str, StringConstraints(pattern=WORKSPACE_PATTERN)]
    region: Annotated[str, StringConstraints(pattern=REGION_PATTERN)] = Field(
        description="Azure region, e.g. 'swedencentral'.")
    ai_services_endpoint: HttpUrl | None = Field(
        None, description="AI Services / Azure OpenAI endpoint probed for health (no keys in the URL).")
    log_analytics_workspace_id: str | None = Field(
        None, min_length=1, description="Log Analytics workspace id (GUID or ARM id) for log queries.")
    backend: Literal["azureml", "simulated"] = Field(
        "azureml", description="'simulated' only for drills and tests.")

    @field_validator("ai_services_endpoint")
    @classmethod
    def _no_credentials_in_url(cls, value: HttpUrl | None) -> HttpUrl | None:
        # Config is not a secret store: a key in a URL would end up in logs and in git.
        if value is not None and (value.username or value.password or value.query):
            raise _rule([("", "must not carry credentials or a query string")])
        return value

    @property
    def arm_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}")


class DeploymentSize(_Strict):
    """The size of one deployment in one hub of the pair (quota differs by region)."""

    instance_type: Annotated[str, StringConstraints(pattern=INSTANCE_TYPE_PATTERN)] | None = Field(
        None, description="Instance type (VM SKU) to create the deployment with in this hub. Default: as cataloged.")
    instance_count: int | None = Field(
        None, ge=1, le=1000, description="Instances once this hub is the active one. Default: as cataloged.")
    warm_instance_count: int = Field(
        1, ge=1, le=1000, description="Online deployments: instances while this hub is the standby (what a "
                                      "drill run pre-deploys); scaled to instance_count when a failover flips to it.")

    @model_validator(mode="after")
    def _warm_not_above_full(self) -> DeploymentSize:
        if self.instance_count is not None and self.warm_instance_count > self.instance_count:
            raise _rule([("warm_instance_count", f"{self.warm_instance_count} is more than instance_count "
                                                 f"{self.instance_count}")])
        return self


class DeploymentSizing(_Strict):
    """Per hub of the pair: the size a recreated (or scaled) deployment gets there."""

    secondary: DeploymentSize = Field(default_factory=DeploymentSize,
                                      description="Used when recovering into the secondary (a failover).")
    primary: DeploymentSize = Field(default_factory=DeploymentSize,
                                    description="Used when recovering into the primary (a failback).")


# What each mode keeps ready on the standby before an outage: hot-hot everything; hot-warm the environments
# (image builds are the slow part) and the serving chain (deployments warm, schedules disabled); hot-cold none.
_DEFAULT_PREDEPLOYED: dict[str, list[ArtifactKind]] = {
    "hot-hot": list(RECOVERY_ORDER),
    "hot-warm": [ArtifactKind.ENVIRONMENT, ArtifactKind.ONLINE_ENDPOINT, ArtifactKind.BATCH_ENDPOINT,
                 ArtifactKind.ONLINE_DEPLOYMENT, ArtifactKind.BATCH_DEPLOYMENT, ArtifactKind.SCHEDULE],
    "hot-cold": []}


class HubPair(_Strict):
    """A primary hub and the secondary it fails over to."""

    name: Slug = Field(description="Pair id; the failover instance id is `failover-{name}`, the recover "
                                   "instance id `recover-{name}`.")
    primary: HubRef
    secondary: HubRef
    mode: Literal["hot-hot", "hot-warm", "hot-cold"] = Field(
        description="hot-hot: flip only; hot-warm: flip, recreate, resubmit; hot-cold: same, approval first.")
    compute_map: dict[ComputeName, ComputeName] = Field(
        default_factory=dict, description="Primary compute name -> secondary compute name for resubmission.")
    connection_map: dict[ConnectionName, ConnectionName] = Field(
        default_factory=dict,
        description="Primary connection name -> the secondary's connection to use instead (e.g. an AI Services "
                    "resource in the secondary's region). Applied to every recreated spec and resubmitted job; "
                    "a mapped connection is not recreated; inverted on failback (where unambiguous).")
    datastore_map: dict[DatastoreName, DatastoreName] = Field(
        default_factory=dict,
        description="Primary datastore name -> the secondary's datastore (e.g. over the geo-replicated storage). "
                    "Applied to every recreated spec and resubmitted job; inverted on failback (where unambiguous).")
    deployment_map: dict[DeploymentKey, DeploymentSizing] = Field(
        default_factory=dict,
        description="'endpoint/deployment' -> its instance type and count in each hub (online and batch "
                    "deployments). Unlisted deployments keep the cataloged size.")
    policy: FailoverPolicy = Field(default_factory=FailoverPolicy)
    alert_targets: list[str] = Field(
        default_factory=list,
        description="ARM ids / alert rule names whose Azure Monitor alerts concern this pair (any case).")
    auto_failover: bool = Field(True, description="False: alerts and probes only report; an operator starts.")
    secrets: PairSecrets = Field(default_factory=PairSecrets)

    @field_validator("alert_targets")
    @classmethod
    def _lowercase_targets(cls, value: list[str]) -> list[str]:
        normalised = [t.strip().lower() for t in value]
        problems = [(f"[{i}]", "must not be empty") for i, t in enumerate(normalised) if not t]
        problems += _duplicates(normalised)
        if problems:
            raise _rule(problems)
        return normalised

    @model_validator(mode="after")
    def _pair_rules(self) -> HubPair:
        problems: list[tuple[str, str]] = []
        if self.primary.name == self.secondary.name:
            problems.append(("secondary.name", f"{_show(self.secondary.name)} is also the primary's name"))
        if self.primary.arm_id.lower() == self.secondary.arm_id.lower():
            problems.append(("secondary.workspace_name", "primary and secondary are the same workspace"))
        if self.policy.log_query is not None and self.primary.log_analytics_workspace_id is None:
            problems.append(("policy.log_query", "needs primary.log_analytics_workspace_id"))
        if problems:
            raise _rule(problems)
        derived: dict[str, Any] = {}
        if self.policy.approval_required is None:
            derived["approval_required"] = self.mode == "hot-cold"
        if self.policy.predeployed_kinds is None:
            derived["predeployed_kinds"] = _DEFAULT_PREDEPLOYED[self.mode]
        if derived:
            # frozen models: resolve the derived defaults once, here, so readers never see None
            object.__setattr__(self, "policy", self.policy.model_copy(update=derived))
        return self

    @property
    def instance_id(self) -> str:
        return f"failover-{self.name}"

    @property
    def recover_instance_id(self) -> str:
        """The `recover` run that completes this pair's last failover (never two at once, nor beside a failover)."""
        return f"recover-{self.name}"

    @property
    def run_instance_ids(self) -> tuple[str, str]:
        """Every orchestration instance of this pair: at most one of them runs at a time."""
        return self.instance_id, self.recover_instance_id

    @property
    def approval_required(self) -> bool:
        return bool(self.policy.approval_required)

    @property
    def predeployed_kinds(self) -> list[ArtifactKind]:
        """What the standby should already hold: policy.predeployed_kinds within policy.artifact_kinds."""
        wanted = set(self.policy.artifact_kinds)
        return [k for k in self.policy.predeployed_kinds or [] if k in wanted]

    def hub(self, name: str) -> HubRef:
        for hub in (self.primary, self.secondary):
            if hub.name == name:
                return hub
        raise KeyError(f"hub {_show(name)} is not part of pair {_show(self.name)}")


class FailoverConfig(_Strict):
    """Every protected hub pair."""

    schema_ref: str | None = Field(None, alias="$schema", description="Editor hint; ignored.")
    pairs: list[HubPair] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _config_rules(self) -> FailoverConfig:
        problems: list[tuple[str, str]] = []
        pair_at: dict[str, int] = {}
        hub_at: dict[str, tuple[str, HubRef]] = {}
        arm_at: dict[str, tuple[str, str]] = {}
        target_at: dict[str, str] = {}
        for i, pair in enumerate(self.pairs):
            if pair.name in pair_at:
                problems.append((f"pairs[{i}].name",
                                 f"{_show(pair.name)} is also pairs[{pair_at[pair.name]}].name"))
            pair_at.setdefault(pair.name, i)
            for role in ("primary", "secondary"):
                hub: HubRef = getattr(pair, role)
                at = f"pairs[{i}].{role}"
                first = hub_at.setdefault(hub.name, (at, hub))
                # One name, one hub. A standby shared by several pairs is repeated verbatim.
                if first[1] != hub:
                    problems.append((f"{at}.name", f"{_show(hub.name)} is defined differently at {first[0]}"))
                arm_first = arm_at.setdefault(hub.arm_id.lower(), (at, hub.name))
                if arm_first[1] != hub.name:
                    problems.append((f"{at}.workspace_name",
                                     f"same workspace as {arm_first[0]} ({_show(arm_first[1])}), other name"))
            for j, target in enumerate(pair.alert_targets):
                owner = target_at.setdefault(target, pair.name)
                if owner != pair.name:
                    problems.append((f"pairs[{i}].alert_targets[{j}]",
                                     f"{_show(target)} already maps to pair {_show(owner)}"))
        if problems:
            raise _rule(problems)
        return self

    def pair(self, name: str) -> HubPair:
        for pair in self.pairs:
            if pair.name == name:
                return pair
        raise KeyError(f"no hub pair named {_show(name)} (known: {', '.join(p.name for p in self.pairs)})")

    def hub(self, name: str) -> HubRef:
        for pair in self.pairs:
            for hub in (pair.primary, pair.secondary):
                if hub.name == name:
                    return hub
        raise KeyError(f"no hub named {_show(name)} in the configuration")

    def alert_target_hubs(self, target: str) -> list[tuple[HubPair, str]]:
        """Every (pair, hub) an alert target (ARM id or rule name, any case) names, one per pair.

        A pair's ``alert_targets`` are about its primary (the deployed alert rules watch the
        primary); a hub's own workspace ARM id names that hub, in each pair it belongs to.
        """
        key = target.strip().lower()
        found: list[tuple[HubPair, str]] = []
        for pair in self.pairs:
            if key in pair.alert_targets:
                found.append((pair, pair.primary.name))
                continue
            hub = next((h for h in (pair.primary, pair.secondary) if key == h.arm_id.lower()), None)
            if hub is not None:
                found.append((pair, hub.name))
        return found


# --------------------------------------------------------------------------- loading

def parse_config(text: str, source: str = "configuration") -> FailoverConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise ConfigError([problem], source) from None
    if not isinstance(data, dict):
        raise ConfigError([f"(top level): expected a JSON object, got {type(data).__name__}"], source)
    try:
        # Strict JSON mode: `"chunk_size": true` or `"50"` is a typo to report, not a value to coerce.
        return FailoverConfig.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc), source) from None


def load_config(env: Mapping[str, str] | None = None) -> FailoverConfig:
    """Read the ``FAILOVER_CONFIG`` setting: inline JSON when it starts with ``{``, else a file path."""
    value = app_settings.Settings.from_env(env).failover_config
    name = app_settings.FAILOVER_CONFIG
    if value is None:
        raise ConfigError([f"{name} is not set: set it to a JSON file path or to the JSON itself"], name)
    if value.lstrip().startswith("{"):
        return parse_config(value, f"{name}, inline JSON")
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read {str(path)!r}: {exc.strerror or exc}"], name) from None
    return parse_config(text, f"{name}={path}")


def format_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        base = _path(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "config_rule":
            lines += [f"{_join(base, at) or '(top level)'}: {detail}" for at, detail in ctx["problems"]]
            continue
        lines.append(f"{base or '(top level)'}: {_describe(err['type'], err['msg'], err.get('input'), ctx)}")
    return lines


def _describe(kind: str, msg: str, value: Any, ctx: Mapping[str, Any]) -> str:
    shown = _show(value)
    comparisons = {"greater_than_equal": ("ge", ">="), "less_than_equal": ("le", "<="),
                   "greater_than": ("gt", ">"), "less_than": ("lt", "<")}
    if kind in comparisons:
        key, op = comparisons[kind]
        return f"{shown} is not {op} {ctx[key]}"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"  # the value is not echoed: it could be anything
    if kind in ("literal_error", "enum"):
        return f"{shown} is not one of {ctx['expected']}"
    if kind == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(str(ctx.get("pattern")), f"match for {ctx.get('pattern')}")
        return f"{shown} is not a valid {hint}"
    return f"{msg[:1].lower()}{msg[1:]} (got {shown})"


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(base: str, rel: str) -> str:
    if not rel or rel.startswith("["):
        return base + rel
    return f"{base}.{rel}" if base else rel


def json_schema() -> str:
    """The published JSON schema (docs/config.schema.json), byte for byte."""
    schema = FailoverConfig.model_json_schema(by_alias=True)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m failover.domain.config", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--schema", action="store_true", help="print the JSON schema of the configuration")
    group.add_argument("--check", nargs="?", const="", metavar="PATH",
                       help=f"validate PATH (default: the {app_settings.FAILOVER_CONFIG} setting)")
    args = parser.parse_args(argv)
    if args.schema:
        sys.stdout.write(json_schema())
        return 0
    env = None if args.check == "" else {app_settings.FAILOVER_CONFIG: args.check}
    try:
        config = load_config(env)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ok: {len(config.pairs)} pair(s): {', '.join(p.name for p in config.pairs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
