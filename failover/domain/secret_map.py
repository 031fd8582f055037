"""Putting secrets back: a recovered job or artifact gets the values the catalog withheld.

The catalog keeps a marker where a secret was (failover/domain/secrets.py). Before a write, each
marker is resolved from the pair's ``secrets`` configuration:
- its reference is mapped (``<item>/<ref>`` first, then ``<ref>``): the Key Vault secret's value
  replaces the field. For a SAS-signed URI the secret holds a fresh SAS token (appended to the URI
  kept without its signature) or a whole signed URI;
- a signed URI that is not mapped goes unsigned when ``signed_uris`` is ``identity``;
- anything else fails *that item*, with an error naming each reference and the fix.
A placeholder is never submitted: what is left after resolution is refused too.
"""

from __future__ import annotations

from typing import Any, Protocol

from failover.domain.config import PairSecrets
from failover.domain.model import Artifact, JobRecord
from failover.domain.secrets import SecretNeed, needs, placeholders, redact


class SecretUnavailable(Exception):
    """A mapped secret could not be read. The message names the secret and the fix, never a value."""


class SecretsUnresolved(Exception):
    """An item needs secrets that can't be resolved: the message names each reference and the fix."""


class SecretSource(Protocol):
    def secret(self, uri: str) -> str:
        """The value of the Key Vault secret at ``uri``. Raises SecretUnavailable."""


def fill(value: Any, values: dict[str, str], path: str = "") -> Any:
    """``value`` with the string at each path of ``values`` replaced (paths as ``needs`` names them)."""
    if isinstance(value, dict):
        return {k: fill(v, values, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values, f"{path}[{i}]") for i, v in enumerate(value)]
    return values.get(path, value)


def catalog_form(artifact: Artifact) -> Artifact:
    """The artifact as the catalog keeps it (secrets as markers): what content hashes compare."""
    return Artifact(artifact.kind, artifact.name, artifact.version, redact(artifact.spec))


class SecretResolver:
    """Resolves one pair's withheld secrets for recovery. ``source`` is read only for mapped ones."""

    def __init__(self, pair: str | None = None, settings: PairSecrets | None = None,
                 source: SecretSource | None = None) -> None:
        self.pair = pair
        self.settings = settings or PairSecrets()
        self.source = source
        where = f"pair {pair!r}" if pair else "the pair's configuration"
        self._where = f"{where}: secrets.map"

    # -- items ------------------------------------------------------------------------------
    def job(self, job: JobRecord, *, fetch: bool = True) -> JobRecord:
        """``job`` ready to submit (its secrets resolved), or SecretsUnresolved naming what is missing."""
        spec, tags = self._resolve(job.name, {"spec": job.spec, "tags": job.tags}, fetch).values()
        return JobRecord(job.name, job.status, job.experiment_name, job.compute, spec, tags)

    def artifact(self, artifact: Artifact, *, fetch: bool = True) -> Artifact:
        spec = self._resolve(artifact.key, {"spec": artifact.spec}, fetch)["spec"]
        return Artifact(artifact.kind, artifact.name, artifact.version, spec)

    # -- the work -----------------------------------------------------------------------------
    def _resolve(self, item: str, parts: dict[str, Any], fetch: bool) -> dict[str, Any]:
        problems: list[str] = []
        values: dict[str, str] = {}
        for need in needs(parts):
            try:
                values[need.path] = self._value(item, need, fetch)
            except SecretUnavailable as exc:
                problems.append(str(exc))
        if problems:
            raise SecretsUnresolved("; ".join(problems))
        filled: dict[str, Any] = fill(parts, values)
        if fetch and (left := next(placeholders(filled), None)) is not None:
            raise SecretsUnresolved(f"a secret placeholder is left in the spec ({left!r}): never submitted")
        return filled

    def _value(self, item: str, need: SecretNeed, fetch: bool) -> str:
        mapped = self.settings.map.get(f"{item}/{need.ref}") or self.settings.map.get(need.ref)
        if mapped is not None:
            if not fetch:
                return ""
            uri = self.settings.secret_uri(mapped)
            if self.source is None:
                raise SecretUnavailable(f"{need.ref} is mapped to {uri}, but no Key Vault client is configured")
            try:
                value = self.source.secret(uri)
            except SecretUnavailable as exc:
                raise SecretUnavailable(f"{need.ref}: {exc}") from None
            if need.kind == "signed" and need.unsigned_url and "://" not in value:
                joiner = "&" if "?" in need.unsigned_url else "?"
                return f"{need.unsigned_url}{joiner}{value.lstrip('?')}"  # a fresh SAS token
            return value
        if need.kind == "signed" and need.unsigned_url and self.settings.signed_uris == "identity":
            return need.unsigned_url
        raise SecretUnavailable(self._unmapped(item, need))

    def _unmapped(self, item: str, need: SecretNeed) -> str:
        keys = f'"{need.ref}" (or "{item}/{need.ref}" for this item only)'
        vault = "" if self.settings.key_vault else " and set secrets.key_vault (or map to a secret URI)"
        if need.kind == "signed":
            return (f"{need.ref} was a SAS-signed URI, kept without its signature ({need.unsigned_url}): map {keys} "
                    f"in {self._where} to a Key Vault secret holding a fresh SAS token or signed URI{vault}, or set "
                    "secrets.signed_uris to \"identity\" to submit it unsigned (identity-based data access)")
        what = ("is a placeholder left by an older catalog" if need.legacy
                else "held a secret, and the catalog keeps no secret values")
        return f"{need.ref} {what}: map {keys} in {self._where} to a Key Vault secret{vault}"
