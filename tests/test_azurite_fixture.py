from __future__ import annotations

import os
import subprocess
import sys

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from replayhost.azurite import Azurite, AzuriteEndpoints


def test_blob_queue_and_table_answer(azurite: AzuriteEndpoints, unique_name: str) -> None:
    assert azurite.host == "127.0.0.1"
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = blobs.create_container(unique_name)
    container.upload_blob("x.json", b"{}")
    assert container.download_blob("x.json").readall() == b"{}"

    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    table = tables.create_table(unique_name)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    assert table.get_entity("p", "r")["v"] == 1

    queues = QueueServiceClient.from_connection_string(azurite.connection_string)
    queue = queues.create_queue(unique_name)
    queue.send_message("hello")
    assert next(iter(queue.receive_messages())).content == "hello"


def test_stop_kills_the_process_it_started(tmp_path) -> None:
    emulator = Azurite(data_dir=tmp_path)
    eps = emulator.start()
    pid = emulator.pid
    assert pid is not None and eps.blob_port != eps.table_port
    emulator.stop()
    # the PID is gone (or a zombie reaped by Popen.wait): signal 0 must fail
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_missing_node_fails_with_one_clear_line(tmp_path) -> None:
    code = (
        "from replayhost.azurite import Azurite, AzuriteUnavailable\n"
        "try:\n    Azurite().start()\nexcept AzuriteUnavailable as e:\n    print(e)\n"
    )
    env = {**os.environ, "PATH": str(tmp_path)}  # no node anywhere on PATH
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "node is not on PATH" in lines[0] and "make setup" in lines[0]
