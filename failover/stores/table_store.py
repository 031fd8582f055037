"""The base of every store kept in one Azure Table: built without a network call, table created on first use."""

from __future__ import annotations

import contextlib
from typing import ClassVar, Self

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient


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
