"""Run reports a person reads (Markdown), next to the audit records in the DR storage account.

One blob per run, ``{pair}/{run}.md`` in the ``drreports`` container, written by the run's audit
activity (overwritten with the same text when that activity is retried). The run id
(``failover-{pair}@{start}``) is the audit record's key too, so a report and its record find
each other. Construction makes no network call; the container is created on first write.
"""

from __future__ import annotations

import contextlib

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

REPORT_CONTAINER = "drreports"
_MARKDOWN = ContentSettings(content_type="text/markdown; charset=utf-8")


def report_blob(pair: str, run: str) -> str:
    if "/" in pair or "/" in run or not pair or not run:
        raise ValueError(f"not a pair and run id: {pair!r}, {run!r}")
    return f"{pair}/{run}.md"


class ReportStore:
    def __init__(self, container: ContainerClient) -> None:
        self.container = container
        self._ready = False

    @classmethod
    def from_service(cls, service: BlobServiceClient, container: str = REPORT_CONTAINER) -> ReportStore:
        return cls(service.get_container_client(container))

    def write(self, pair: str, run: str, markdown: str) -> str:
        name = report_blob(pair, run)
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                self.container.create_container()
            self._ready = True
        self.container.upload_blob(name, markdown.encode("utf-8"), overwrite=True, content_settings=_MARKDOWN)
        return name

    def read(self, pair: str, run: str) -> str | None:
        try:
            return bytes(self.container.download_blob(report_blob(pair, run)).readall()).decode("utf-8")
        except ResourceNotFoundError:
            return None
