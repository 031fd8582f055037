"""The base of every store kept in one Azure Table: built without a network call, table created on first use.

Also the one rule for keys built from outside input (alert ids, rule names, principals): Table
storage refuses ``/ \\ # ?`` and control characters in PartitionKey and RowKey (Azure answers
400, Azurite 500) and keys over 1 KiB, and every Azure Monitor alert id is an ARM id full of
``/``. ``table_key`` keeps a safe text as it is and turns anything else into a readable prefix
plus a hash of the whole text: deterministic (a retried write lands on the same row) and
collision-free in practice (two different texts never share a key by replacement).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import ClassVar, Self

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient

# Forbidden by Table storage, plus '%' and "'" (URL and OData quoting hazards), lone surrogates (not
# encodable) and '~' (our marker).
_UNSAFE = re.compile(r"[/\\#?%'~\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MAX_RAW = 255  # characters: at most 1,020 bytes in UTF-8, under the 1 KiB limit
_PREFIX = 80


def table_key(text: str) -> str:
    """``text`` if Table storage accepts it as a key, else ``<readable prefix>~<sha256>``."""
    if text and len(text) <= _MAX_RAW and not _UNSAFE.search(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{_UNSAFE.sub('_', text[:_PREFIX])}~{digest}"


class TableStore:
    TABLE: ClassVar[str]

    def __init__(self, table: TableClient) -> None:
        self.table = table
        self._ready = False

    @classmethod
    def from_service(cls, service: TableServiceClient, table_name: str | None = None) -> Self:
        return cls(service.get_table_client(table_name or cls.TABLE))

    def _ensure(self) -> None:
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):  # exists already, or a concurrent creator won
                self.table.create_table()
            self._ready = True
