"""Where the replay host keeps instances: in memory, or in Azure Storage (Azurite).

The Azure store writes the whole instance (history, inbox, host bookkeeping) to one blob
after every episode, then a small Table row for listing. The blob is the truth; a process
killed between the two writes is repaired on the next load (the row is rewritten).
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Protocol

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.blob import BlobServiceClient

from replayhost.state import InstanceState


class InstanceStore(Protocol):
    def save(self, state: InstanceState) -> None: ...

    def load(self, instance_id: str) -> InstanceState | None: ...

    def load_all(self) -> list[InstanceState]: ...

    def delete(self, instance_id: str) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def save(self, state: InstanceState) -> None:
        with self._lock:
            self._data[state.instance_id] = json.dumps(state.to_json())

    def load(self, instance_id: str) -> InstanceState | None:
        with self._lock:
            text = self._data.get(instance_id)
        return InstanceState.from_json(json.loads(text)) if text else None

    def load_all(self) -> list[InstanceState]:
        with self._lock:
            texts = list(self._data.values())
        return [InstanceState.from_json(json.loads(t)) for t in texts]

    def delete(self, instance_id: str) -> None:
        with self._lock:
            self._data.pop(instance_id, None)


class AzureStorageStore:
    """Instances of one task hub in Blob (state) + Table (index), as the Durable extension does."""

    def __init__(self, connection_string: str, task_hub: str = "replayhost") -> None:
        safe = "".join(ch for ch in task_hub.lower() if ch.isalnum()) or "replayhost"
        self.task_hub = safe
        blobs = BlobServiceClient.from_connection_string(connection_string)
        self._container = blobs.get_container_client(f"{safe}-instances")
        tables = TableServiceClient.from_connection_string(connection_string)
        self._table = tables.get_table_client(f"{safe}Instances")
        for create in (self._container.create_container, self._table.create_table):
            with contextlib.suppress(ResourceExistsError):
                create()

    def save(self, state: InstanceState) -> None:
        body = json.dumps(state.to_json(), separators=(",", ":"))
        self._container.upload_blob(f"{state.instance_id}.json", body, overwrite=True)
        self._table.upsert_entity({
            "PartitionKey": self.task_hub,
            "RowKey": state.instance_id,
            "Name": state.name,
            "RuntimeStatus": state.status.value,
            "CreatedTime": state.created_at.isoformat(),
            "LastUpdatedTime": state.last_updated_at.isoformat(),
            "Episodes": state.episodes,
        }, mode=UpdateMode.REPLACE)

    def load(self, instance_id: str) -> InstanceState | None:
        try:
            text = self._container.download_blob(f"{instance_id}.json").readall()
        except ResourceNotFoundError:
            return None
        return InstanceState.from_json(json.loads(text))

    def load_all(self) -> list[InstanceState]:
        states = []
        for blob in self._container.list_blobs():
            state = self.load(blob.name.removesuffix(".json"))
            if state is not None:
                states.append(state)
        return states

    def delete(self, instance_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._container.delete_blob(f"{instance_id}.json")
        with contextlib.suppress(ResourceNotFoundError):
            self._table.delete_entity(self.task_hub, instance_id)
