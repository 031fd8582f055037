"""What counts as a secret in a spec, and how one is kept out of everything we write.

One rule for the catalog, the hub adapters, reports and audit records. A secret is found
- by the field's *name*: HF_TOKEN, DB_PASS, PGPASSWORD, SECRETKEY, client_secret, OPENAI_API_KEY...
  (the last word of the name decides: ``MAX_TOKENS``, ``PAD_TOKEN`` or ``PARTITION_KEY`` are not secrets);
- by the *value's* shape, whatever the field: credentials in a URL (``postgresql://user:pass@…``),
  a SAS signature (``sig=``), a connection string's key (``AccountKey=``, ``Password=``), an HTTP
  ``Bearer``/``Basic`` credential, ``NAME=value`` / ``--name value`` with a secret name inside a
  command line, a private key block, and key-shaped tokens (``sk-…``, ``ghp_…``, ``hf_…``, JWTs,
  AWS/Google/Slack keys, long mixed-case base64 strings).

Redaction replaces the value by a marker that says what is missing and never what it was:

    ***hubfailover-secret:HF_TOKEN***                         the whole value withheld
    ***hubfailover-signed:inputs.data:https://acct.blob…/f*** a SAS-signed URL kept without its signature

The reference (``HF_TOKEN``, ``inputs.data``) is what an operator maps to a Key Vault secret
(failover/domain/secret_map.py). A marker is not a value: nothing is ever submitted while one remains.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# The placeholder catalogs written before markers existed: a value, never submitted either.
LEGACY_PLACEHOLDER = "***redacted: secrets come from Key Vault, never from the catalog***"
MARKER_PREFIX = "***hubfailover-"
_MARKER = re.compile(r"^\*\*\*hubfailover-(?P<kind>secret|signed):(?P<ref>[^:*]*)(?::(?P<uri>.*))?\*\*\*$", re.S)

# -- names -----------------------------------------------------------------------------------

# The last word of a name that holds a secret value.
_SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets", "token", "key", "keys", "apikey",
    "credential", "credentials", "creds", "sas", "sastoken", "pat", "signature", "sig", "auth", "authorization",
    "cookie", "privatekey", "secretkey", "accesskey", "accountkey", "clientsecret", "connectionstring", "connstr",
})
# Words glued to a prefix (PGPASSWORD, SECRETKEY, HFTOKEN, MYSQLPWD).
_SECRET_ENDINGS = ("password", "passwd", "secret", "token", "apikey", "secretkey", "accesskey", "privatekey",
                   "accountkey", "passphrase", "connectionstring", "pwd")
# `<word>_key` / `<word>_token` that name data, not credentials.
_NOT_SECRET_KEYS = frozenset({
    "partition", "sort", "row", "cache", "hash", "foreign", "join", "group", "lookup", "index", "label", "target",
    "feature", "entity", "dedup", "idempotency", "shard", "routing", "object", "s3", "blob", "map", "dict", "json",
    "metric", "column", "primary_key_column", "sort_key", "id", "name", "unique", "natural", "composite", "order",
    "public",  # ssh_public_key, public_key: the half of a key pair that is meant to be shared
})
_NOT_SECRET_TOKENS = frozenset({"pad", "eos", "bos", "unk", "sep", "cls", "mask", "start", "end", "special", "max",
                                "num", "min", "total", "chat", "image", "stop", "eot", "next", "page", "continuation",
                                "skip"})


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# Hadoop's Azure storage settings (a Spark job's ``conf``): the secret word sits mid-name, before the account's
# host (``spark.hadoop.fs.azure.account.key.<account>.dfs.core.windows.net``).
_HADOOP_AZURE_SECRET = re.compile(r"(?:^|\.)fs\.azure\.(?:account\.key|account\.oauth2\.client\.secret|sas)\.", re.I)


@lru_cache(maxsize=8192)  # field names repeat across thousands of specs; they are names, never values
def is_secret_name(name: str) -> bool:
    """Whether a field (or environment variable, or command-line flag) of this name holds a secret."""
    if _HADOOP_AZURE_SECRET.search(name):
        return True
    words = [w for w in re.split(r"[^a-z0-9]+", _snake(name)) if w]
    if not words:
        return False
    last = words[-1]
    before = words[-2] if len(words) > 1 else ""
    if len(words) > 1 and (before + last) in _SECRET_WORDS:  # api_key, connection_string, access_key
        return True
    if last in ("key", "keys"):
        return before not in _NOT_SECRET_KEYS
    if last in ("token", "tokens"):
        return last == "token" and before not in _NOT_SECRET_TOKENS
    return last in _SECRET_WORDS or last.endswith(_SECRET_ENDINGS)


# -- values ------------------------------------------------------------------------------------

# Value shapes that hold a secret. Where a group ``s`` exists, only it is the secret (scrub() cuts it).
_VALUE_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url_credentials", re.compile(r"[a-z][a-z0-9+.\-]*://[^\s/@:]*:(?P<s>[^\s/@]+)@", re.I)),
    ("sas", re.compile(r"[?&]sig=(?P<s>[^&\s]+)", re.I)),
    # An Azure Functions key (``?code=``): long, or it is some other code (an OAuth callback's is a secret too).
    ("url_key", re.compile(r"[?&]code=(?P<s>[^&\s#\"']{20,})", re.I)),
    ("connection_string", re.compile(
        r"(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|AccessKey|ApiKey|ClientSecret|"
        r"SharedSecret)\s*=\s*(?P<s>[^;\s]+)", re.I)),
    ("auth_header", re.compile(
        r"\b(?:Bearer|Basic)\s+(?P<s>(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{16,})", re.I)),
    ("key_shape", re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*(?:-----END [A-Z ]*PRIVATE KEY-----)?"
        r"|\bsk-[A-Za-z0-9_-]{16,}|\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"
        r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}|\bglpat-[A-Za-z0-9_-]{20,}"
        r"|\bhf_[A-Za-z0-9]{30,}|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bnpm_[A-Za-z0-9]{36}"
        r"|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{35}"
        r"|(?<![\w~.-])[A-Za-z0-9_.~-]{3}\dQ~[A-Za-z0-9_.~-]{31,34}(?![\w~.-])"  # a Microsoft Entra client secret
        r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
        r"|[A-Za-z0-9+/]{86}==")),
)
# NAME=value, "NAME": "value", NAME:value and --name value / --name=value inside a longer text.
# A lookahead, so matches overlap: the value of one assignment may hold another (``env:DB_PASS=…``, a URL
# ``https://…?api_key=…`` whose ``https:`` reads as a name) and each is looked at.
_ASSIGNMENT = re.compile(
    r"(?=(?<![\w./-])[\"']?(?P<name>[A-Za-z_][\w.-]*)[\"']?(?P<sep>=|:)\s*"
    r"(?P<s>\"[^\"]*\"|'[^']*'|[^\s;&,\"'})]+))")
_FLAG = re.compile(r"(?<![\w-])--?(?P<name>[A-Za-z][\w-]*)(?:=|\s+)(?P<s>[^\s-]\S*)")
# Command lines that pass a password to a short flag: ``docker login -u me -p …``, ``az login … -p …``,
# ``curl -u user:…``.
_CLI_PASSWORD = re.compile(
    r"(?:^|\s)login(?=\s)[^\n;&|]*?\s-p\s+(?P<s>[^\s-]\S*)|(?:^|\s)(?:-u|--user)\s+[^\s:]+:(?P<s2>[^\s@]+)(?=\s|$)")
_KEYISH_RUN = re.compile(r"[A-Za-z0-9+/]{32,}={0,2}")
# Every shape above needs one of these (lowercased): one search rules out most values at once.
_HINTS = re.compile(
    r"://[^\s]*@|sig=|code=|login|-u\s|--user\s|\dq~"
    r"|bearer\s|basic\s|-----begin|sk-|[rs]k_|gh[pousr]_|github_pat_|glpat-|hf_|xox|npm_|akia|aiza|eyj"
    r"|pass|pwd|secret|token|key|cred|auth|cookie|conn|signature|(?<![a-z])(?:pat|sas|sig)(?![a-z])")
_WORD_RUN = re.compile(r"[a-z]{3,}|[A-Z]{3,}")
# Values that point at a secret instead of holding one: keep them.
_REFERENCE = re.compile(r"^(?:@Microsoft\.KeyVault\(.*\)|\$\{\{[^}]*\}\}|\$\{[A-Za-z_][\w.]*\})$", re.S)
# Inside a command line, the shell's ways of reading a secret from the job's environment or a file
# (``$HF_TOKEN``, ``"${HF_TOKEN}"``, ``%HF_TOKEN%``, ``$(cat /run/secrets/pw)``): the recommended way to pass
# a secret to a command is an environment variable, and withholding the command for it would fail the job.
# Not in single quotes (no expansion there), and not a whole value (environment variables are literal).
_SHELL_REFERENCE = re.compile(r'^"?(?:\$[A-Za-z_]\w*|\$\{[A-Za-z_]\w*\}|\$\(.*|%[A-Za-z_]\w*%)"?$', re.S)
# Query parameters of a SAS (the signature and its terms): dropped from a signed URL together.
_SAS_PARAMS = frozenset({"sv", "ss", "srt", "sp", "se", "st", "spr", "sig", "si", "sr", "sdd", "skoid", "sktid", "skt",
                         "ske", "sks", "skv", "saoid", "suoid", "scid", "sduoid", "ses", "rscc", "rscd", "rsce",
                         "rscl", "rsct"})


# Azure ML's own reference to a Key Vault secret (a job's ``secretsConfiguration``: the service reads the
# secret when the job starts): ``{"uri": "https://<vault>.vault.azure.net/secrets/<name>", "workspaceSecretName": …}``.
_KEY_VAULT_SECRET_URI = re.compile(r"^https://[^/\s]+\.vault\.(?:azure\.net|azure\.cn|usgovcloudapi\.net)/secrets/[^\s?#]+$",
                                   re.I)


def _is_reference_object(value: Any) -> bool:
    if not isinstance(value, dict) or not value or not set(value) <= {"uri", "workspaceSecretName"}:
        return False
    uri = value.get("uri")
    return all(isinstance(v, str) for v in value.values()) and (uri is None or bool(_KEY_VAULT_SECRET_URI.match(uri)))


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _key_shaped(run: str) -> bool:
    """A long base64-ish run that mixes cases and digits, is random enough and is neither a path
    nor CamelCase words: a generated key."""
    if run.count("/") > len(run) / 20:  # paths have a slash every few characters, keys rarely
        return False
    if not (any(c.islower() for c in run) and any(c.isupper() for c in run) and any(c.isdigit() for c in run)):
        return False
    if sum(c.isdigit() for c in run) > 0.4 * len(run):  # base64 is ~16% digits; timestamps and ids are mostly digits
        return False
    wordy = sum(len(m.group()) for m in _WORD_RUN.finditer(run)) / len(run)
    return wordy < 0.45 and _entropy(run) >= 4.0


def _is_reference(text: str) -> bool:
    bare = text.strip("\"'")
    return (_REFERENCE.match(bare) is not None or _SHELL_REFERENCE.match(text) is not None
            or _KEY_VAULT_SECRET_URI.match(bare.rstrip(":,.;)")) is not None)  # "HF_TOKEN: https://kv…/secrets/x:"


def _assignment_is_secret(match: re.Match[str]) -> bool:
    value = match.group("s").strip("\"'")
    if not value or not is_secret_name(match.group("name")) or _is_reference(match.group("s")) or is_marker(value):
        return False
    if value.lower() in ("bearer", "basic"):
        return False  # "Authorization: Bearer <token>": the token is the secret (auth_header)
    # prose ("Password: see the vault") is not a credential
    return not (match.re is _ASSIGNMENT and match.group("sep") == ":" and len(value) < 6)


def _secret_spans(value: str) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of each secret inside ``value``."""
    for kind, pattern in _VALUE_SHAPES:
        for match in pattern.finditer(value):
            group = "s" if "s" in pattern.groupindex else 0
            if not _is_reference(match.group(group)):  # PGPASSWORD=$DB_PASS, postgresql://u:${PW}@h
                yield kind, match.start(group), match.end(group)
    for match in _KEYISH_RUN.finditer(value):
        if _key_shaped(match.group()):
            yield "key_shape", match.start(), match.end()
    for pattern in (_ASSIGNMENT, _FLAG):
        for match in pattern.finditer(value):
            if _assignment_is_secret(match):
                yield "assignment", match.start("s"), match.end("s")
    for match in _CLI_PASSWORD.finditer(value):
        group = "s" if match.group("s") is not None else "s2"
        if not _is_reference(match.group(group)):
            yield "assignment", match.start(group), match.end(group)


def secret_kind(value: str) -> str | None:
    """Why this text holds a secret ("url_credentials", "sas", ...), or None. Never looks at names."""
    if is_marker(value) or _REFERENCE.match(value):
        return None
    if not _HINTS.search(value.lower()):  # the common case: one search, no secret possible but a generated key
        keyish = len(value) >= 32 and any(_key_shaped(m.group()) for m in _KEYISH_RUN.finditer(value))
        return "key_shape" if keyish else None
    return next((kind for kind, _, _ in _secret_spans(value)), None)


def is_marker(value: Any) -> bool:
    return isinstance(value, str) and (value == LEGACY_PLACEHOLDER or _MARKER.match(value) is not None)


# -- markers -----------------------------------------------------------------------------------

def secret_marker(ref: str) -> str:
    return f"{MARKER_PREFIX}secret:{ref}***"


def signed_marker(ref: str, unsigned_url: str) -> str:
    return f"{MARKER_PREFIX}signed:{ref}:{unsigned_url}***"


def unsigned(url: str) -> str | None:
    """``url`` without its SAS terms, or None if what is left would still carry a secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or "@" in parts.netloc or not parts.netloc:
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() not in _SAS_PARAMS])
    stripped = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return None if secret_kind(stripped) or "*" in stripped else stripped


@dataclass(frozen=True)
class SecretNeed:
    """A value the catalog withheld: where it sat, what an operator maps, and how it was kept."""

    path: str  # e.g. properties.environmentVariables.HF_TOKEN
    ref: str  # the mapping key: HF_TOKEN, inputs.data, path
    kind: str  # "secret" (whole value withheld) or "signed" (URL kept without its SAS)
    unsigned_url: str | None = None
    legacy: bool = False  # the placeholder of a catalog written before markers


def _reference(keys: list[str]) -> str:
    """The name an operator maps: an environment variable's name, ``inputs.<name>``, else the field name."""
    for i in range(len(keys) - 1):
        if keys[i] in ("inputs", "outputs"):
            return f"{keys[i]}.{keys[i + 1]}"
    return keys[-1] if keys else "value"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


@dataclass(frozen=True)
class Finding:
    """A field redacted: its path and the reason (never the value)."""

    path: str
    reason: str  # "name" or a value kind


def redact(value: Any, path: str = "", findings: list[Finding] | None = None,
           _keys: tuple[str, ...] = ()) -> Any:
    """``value`` with every secret replaced by its marker; ``findings`` collects where and why.

    Deterministic and idempotent: the same spec always redacts to the same text (so hashes of
    redacted specs compare), and redacting a redacted spec changes nothing.
    """
    found = findings if findings is not None else []
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            here, keys = _join(path, str(key)), (*_keys, str(key))
            if (is_secret_name(str(key)) and item not in (None, "", {}, []) and not isinstance(item, bool)
                    and not (isinstance(item, str) and (_REFERENCE.match(item) or is_marker(item)))
                    and not _is_reference_object(item)):
                found.append(Finding(here, "name"))
                out[key] = secret_marker(_reference(list(keys)))
            else:
                out[key] = redact(item, here, found, keys)
        return out
    if isinstance(value, list):
        return [redact(item, _join(path, i), found, _keys) for i, item in enumerate(value)]
    if isinstance(value, str):
        kind = secret_kind(value)
        if kind is None:
            return value
        found.append(Finding(path, kind))
        ref = _reference(list(_keys))
        if kind == "sas" and (bare := unsigned(value.strip())) is not None:
            return signed_marker(ref, bare)
        return secret_marker(ref)
    return value


def needs(value: Any, path: str = "", _keys: tuple[str, ...] = ()) -> list[SecretNeed]:
    """Every marker (or legacy placeholder) left in ``value``: what must be resolved before a write."""
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in needs(v, _join(path, str(k)), (*_keys, str(k)))]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in needs(v, _join(path, i), _keys)]
    if not isinstance(value, str):
        return []
    if value == LEGACY_PLACEHOLDER:
        return [SecretNeed(path, _reference(list(_keys)), "secret", legacy=True)]
    match = _MARKER.match(value)
    if match is None:
        return []
    return [SecretNeed(path, match["ref"], match["kind"], match["uri"] if match["kind"] == "signed" else None)]


def placeholders(value: Any) -> Iterator[str]:
    """Any text that still carries a marker, even inside a longer string: never submitted."""
    if isinstance(value, dict):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from placeholders(item)
    elif isinstance(value, str) and (MARKER_PREFIX in value or LEGACY_PLACEHOLDER in value):
        yield value[:80]


# A marker quoted in our own error names what to map; its reference is a key name, never a value.
_QUOTED_MARKER = re.compile(r"\*\*\*hubfailover-(?:secret:[A-Za-z0-9_.\-/\[\]]+"
                            r"|signed:[A-Za-z0-9_.\-/\[\]]+:(?P<uri>https?://[^*\s']+))\*\*\*")


def _kept_markers(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUOTED_MARKER.finditer(text)
            if m["uri"] is None or unsigned(m["uri"]) == m["uri"]]


def scrub(text: str) -> str:
    """Free text (an error message, a log line) with every secret in it cut out."""
    kept = _kept_markers(text) if MARKER_PREFIX in text else []
    spans = sorted((start, end) for _, start, end in _secret_spans(text)
                   if not any(k_start <= start and end <= k_end for k_start, k_end in kept))
    if not spans:
        return text
    out, at = [], 0
    for start, end in spans:
        if end <= at:
            continue
        out.append(text[at:max(at, start)] + "***")
        at = end
    return "".join(out) + text[at:]


def scrub_all(value: Any) -> Any:
    """``value`` (a report, an audit detail) with every string scrubbed; the shape is kept."""
    if isinstance(value, dict):
        return {k: scrub_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_all(v) for v in value]
    return scrub(value) if isinstance(value, str) else value


def secret_fields(value: Any, path: str = "") -> list[str]:
    """Paths of fields whose *names* hold secrets (values are never returned)."""
    found: list[Finding] = []
    redact(value, path, found)
    return [f.path for f in found if f.reason == "name"]
