"""S3 for the engine: Distributed Map's ItemReader and ResultWriter, and aws-sdk:s3 Tasks, run with
`run_local` on both stores: local buckets on disk, and boto3 against moto's S3 server (a stand-in
for any S3-compatible endpoint)."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from orchestrator.integrations import item_reader, result_writer
from orchestrator.integrations.s3 import BotoStore, LocalBuckets, ObjectStore, S3Error, iter_objects, object_store
from orchestrator.local import run_local

GET = "arn:aws:states:::s3:getObject"
LIST = "arn:aws:states:::s3:listObjectsV2"
PUT = "arn:aws:states:::s3:putObject"
CSV = b"id,name,score\n1,ada,90\n2,bob,75\n3,cy,60\n"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["local", "moto"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ObjectStore]:
    """The engine's store, as the environment chooses it, with buckets "data" and "out" made."""
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path))
    monkeypatch.delenv("ORCHESTRATOR_S3", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_S3_ROOT", raising=False)
    if request.param == "local":
        monkeypatch.delenv("ORCHESTRATOR_S3_ENDPOINT_URL", raising=False)
        chosen = object_store()
        assert isinstance(chosen, LocalBuckets)
        for bucket in ("data", "out"):
            chosen.create_bucket(bucket)
        yield chosen
        return
    url = request.getfixturevalue("moto_url")
    monkeypatch.setenv("ORCHESTRATOR_S3_ENDPOINT_URL", url)
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        monkeypatch.setenv(name, value)
    chosen = object_store()
    assert isinstance(chosen, BotoStore)
    for bucket in ("data", "out"):
        chosen.client.create_bucket(Bucket=bucket)
    yield chosen
    for bucket in ("data", "out"):
        for info in list(iter_objects(chosen, bucket)):
            chosen.client.delete_object(Bucket=bucket, Key=info.key)
        chosen.client.delete_bucket(Bucket=bucket)


def distributed_map(reader: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    processor = fields.pop("processor", {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}})
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **processor},
        "End": True,
        **fields,
    }
    if reader is not None:
        state["ItemReader"] = reader
    return {"StartAt": "Map", "States": {"Map": state}}


def read_bytes(store: ObjectStore, bucket: str, key: str) -> bytes:
    stream = store.get_object(bucket, key)
    try:
        return stream.read()
    finally:
        stream.close()


def read_json(store: ObjectStore, bucket: str, key: str) -> Any:
    return json.loads(read_bytes(store, bucket, key))


# -- the store -------------------------------------------------------------------------------------


def test_store_puts_gets_heads_and_lists_by_pages(store: ObjectStore) -> None:
    # Given 1,005 objects under two prefixes
    for i in range(1005):
        store.put_object("data", f"{'a' if i % 2 else 'b'}/{i:04}", str(i).encode())
    # When the "a/" prefix is listed page by page
    first = store.list_objects("data", "a/", max_keys=500)
    listed = [o.key for o in iter_objects(store, "data", "a/")]
    # Then the pages hold every key of the prefix once, in order
    assert len(first.objects) == 500 and first.next_token is not None
    assert listed == [f"a/{i:04}" for i in range(1, 1005, 2)]
    head = store.head_object("data", "a/0007")
    assert head.size == 1 and head.etag == '"8f14e45fceea167a5a36dedd4bea2543"'  # MD5 of "7"
    assert read_bytes(store, "data", "b/1004") == b"1004"


def test_store_errors_are_s3s(store: ObjectStore) -> None:
    with pytest.raises(S3Error) as missing:
        store.get_object("data", "nothing-here")
    assert missing.value.code == "NoSuchKey"
    with pytest.raises(S3Error) as no_bucket:
        store.list_objects("no-such-bucket-here")
    assert no_bucket.value.code == "NoSuchBucket"


def test_local_keys_cannot_leave_their_bucket(tmp_path: Path) -> None:
    buckets = LocalBuckets(tmp_path)
    buckets.create_bucket("data")
    buckets.put_object("data", "../../escape", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["data"]
    assert read_bytes(buckets, "data", "../../escape") == b"x"


# -- ItemReader ------------------------------------------------------------------------------------


def test_csv_with_first_row_headers(store: ObjectStore) -> None:
    store.put_object("data", "in/rows.csv", CSV)
    reader = {"Resource": GET, "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}}
    reader["Parameters"] = {"Bucket.$": "$.bucket", "Key": "in/rows.csv"}
    result = run_local(distributed_map(reader), {"bucket": "data"})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [
        {"id": "1", "name": "ada", "score": "90"},
        {"id": "2", "name": "bob", "score": "75"},
        {"id": "3", "name": "cy", "score": "60"},
    ]


def test_csv_with_given_headers_a_delimiter_and_max_items(store: ObjectStore) -> None:
    store.put_object("data", "rows.psv", b"1|ada|extra\n2|bob\n3|cy\n")
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "name"], "CSVDelimiter": "PIPE"}
    reader = {
        "Resource": GET,
        "ReaderConfig": {**config, "MaxItems": 2},
        "Parameters": {"Bucket": "data", "Key": "rows.psv"},
    }
    result = run_local(distributed_map(reader), {})
    assert result.output == [{"id": "1", "name": "ada"}, {"id": "2", "name": "bob"}]


def test_json_lines_with_max_items_path(store: ObjectStore) -> None:
    store.put_object("data", "rows.jsonl", b'{"n": 1}\n\n{"n": 2}\n{"n": 3}\n')
    reader = {
        "Resource": GET,
        "ReaderConfig": {"InputType": "JSONL", "MaxItemsPath": "$.limit"},
        "Parameters": {"Bucket": "data", "Key": "rows.jsonl"},
    }
    assert run_local(distributed_map(reader), {"limit": 2}).output == [{"n": 1}, {"n": 2}]
    assert run_local(distributed_map(reader), {"limit": 0}).output == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_json_array_with_jsonata_arguments_and_batches(store: ObjectStore) -> None:
    store.put_object("data", "rows.json", json.dumps([{"n": i} for i in range(5)]).encode())
    reader = {
        "Resource": GET,
        "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $states.input.limit %}"},
        "Arguments": {"Bucket": "data", "Key": "{% $states.input.key %}"},
    }
    definition = distributed_map(reader, ItemBatcher={"MaxItemsPerBatch": 2})
    definition["QueryLanguage"] = "JSONata"
    result = run_local(definition, {"key": "rows.json", "limit": 4})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [{"Items": [{"n": 0}, {"n": 1}]}, {"Items": [{"n": 2}, {"n": 3}]}]


def test_manifest_of_an_s3_inventory(store: ObjectStore) -> None:
    store.put_object("data", "inv/data-1.csv.gz", gzip.compress(b'"data","a.txt","3"\n"data","b.txt","5"\n'))
    store.put_object("data", "inv/data-2.csv.gz", gzip.compress(b'"data","c.txt","8"\n'))
    manifest = {
        "sourceBucket": "data",
        "destinationBucket": "arn:aws:s3:::data",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data-1.csv.gz"}, {"key": "inv/data-2.csv.gz"}],
    }
    store.put_object("data", "inv/manifest.json", json.dumps(manifest).encode())
    reader = {
        "Resource": GET,
        "ReaderConfig": {"InputType": "MANIFEST"},
        "Parameters": {"Bucket": "data", "Key": "inv/manifest.json"},
    }
    result = run_local(distributed_map(reader), {})
    assert [item["Key"] for item in result.output] == ["a.txt", "b.txt", "c.txt"]
    assert result.output[2] == {"Bucket": "data", "Key": "c.txt", "Size": "8"}


def test_list_objects_v2_with_a_prefix(store: ObjectStore) -> None:
    store.put_object("data", "photos/1.jpg", b"one")
    store.put_object("data", "photos/2.jpg", b"two!")
    store.put_object("data", "other.txt", b"x")
    result = run_local(distributed_map({"Resource": LIST, "Parameters": {"Bucket": "data", "Prefix": "photos/"}}), {})
    assert [(item["Key"], item["Size"], item["StorageClass"]) for item in result.output] == [
        ("photos/1.jpg", 3, "STANDARD"),
        ("photos/2.jpg", 4, "STANDARD"),
    ]
    assert set(result.output[0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert result.output[0]["Etag"] == store.head_object("data", "photos/1.jpg").etag
    assert isinstance(result.output[0]["LastModified"], int)


def read_pages(
    store: ObjectStore, resource: str, parameters: dict[str, Any], config: dict[str, Any], **page: int
) -> list[list[Any]]:
    """Every page the reader gives, from the first to the one that says there is no next."""
    pages, position = [], None
    while True:
        answer = item_reader.read_page(store, resource, parameters, config, {**page, "Position": position})
        pages.append(json.loads(answer["Items"]))
        position = answer["Next"]
        if position is None:
            return pages
        json.dumps(position)  # (it is kept in the Map's row)


@pytest.mark.parametrize(
    ("key", "config"),
    [
        ("rows.csv", {"InputType": "CSV"}),
        ("rows.csv", {"InputType": "CSV", "MaxItems": 13}),
        ("rows.csv", {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"]}),
        ("rows.jsonl", {"InputType": "JSONL"}),
        ("rows.json", {"InputType": "JSON", "MaxItems": 21}),
        ("rows.json", {}),
        ("spaced.json", {"InputType": "JSON"}),
    ],
)
def test_pages_of_items_are_the_items_read_at_once(store: ObjectStore, key: str, config: dict[str, Any]) -> None:
    # Given 25 rows as CSV (a quoted field holding a line break and a comma), JSON Lines and JSON
    rows = "".join(f'{i},"item {i},\nline"\n' if i % 4 == 0 else f"{i},item-{i}\n" for i in range(25))
    store.put_object("data", "rows.csv", f"id,name\n{rows}\n".encode())
    store.put_object("data", "rows.jsonl", "".join(json.dumps({"n": i}) + "\n\n" for i in range(25)).encode())
    store.put_object("data", "rows.json", json.dumps([{"n": i} for i in range(25)]).encode())
    # (a byte order mark, white space, text beyond ASCII, every kind of value, elements of 70 KB)
    kinds = [lambda i: {"n": i, "text": "é" * i}, lambda i: i * 1.5, lambda i: "x" * (i * 7_001 % 70_000)]
    values = [kind(i) for i in range(25) for kind in kinds] + [None, True, False, [1, [2]], {}]
    spaced = "\ufeff [ \n" + " ,\n ".join(json.dumps(v, ensure_ascii=False) for v in values) + "\n ] \n"
    store.put_object("data", "spaced.json", spaced.encode())
    parameters = {"Bucket": "data", "Key": key}
    whole = list(item_reader.read_items(store, GET, parameters, config))
    # When they are read 10 at a time, and by a budget of about 40 bytes
    by_count = read_pages(store, GET, parameters, config, Size=10)
    by_bytes = read_pages(store, GET, parameters, config, Size=1000, Bytes=40)
    # Then the pages hold the same items, each once, in order
    assert [item for page in by_count for item in page] == whole
    assert all(len(page) == 10 for page in by_count[:-1]) and 0 < len(by_count[-1]) <= 10
    assert [item for page in by_bytes for item in page] == whole
    assert len(by_bytes) > 3


def test_pages_of_a_manifest_start_in_the_file_and_at_the_byte_they_stood(store: ObjectStore) -> None:
    # Given an S3 Inventory manifest of three CSV files, two gzipped, 15 rows each
    keys = ["inv/1.csv.gz", "inv/2.csv", "inv/3.csv.gz"]
    for number, key in enumerate(keys):
        rows = "".join(f'"data","{number}-{i}.txt","{i}"\n' for i in range(15)).encode()
        store.put_object("data", key, gzip.compress(rows) if key.endswith(".gz") else rows)
    manifest = {
        "destinationBucket": "arn:aws:s3:::data",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": key} for key in keys],
    }
    store.put_object("data", "inv/manifest.json", json.dumps(manifest).encode())
    parameters, config = {"Bucket": "data", "Key": "inv/manifest.json"}, {"InputType": "MANIFEST"}
    # When it is read 4 rows at a time (pages across the files' ends)
    pages = read_pages(store, GET, parameters, config, Size=4)
    # Then the pages hold every row once, in order, as reading it whole does
    rows = [item for page in pages for item in page]
    assert rows == list(item_reader.read_items(store, GET, parameters, config))
    assert [row["Key"] for row in rows] == [f"{n}-{i}.txt" for n in range(3) for i in range(15)]
    assert [len(page) for page in pages] == [4] * 11 + [1]


def test_pages_of_a_long_listing_go_on_from_their_continuation_token(tmp_path: Path) -> None:
    # Given 2,100 objects: three ListObjectsV2 pages of local buckets (1,000 keys each)
    buckets = LocalBuckets(tmp_path)
    buckets.create_bucket("data")
    for n in range(2_100):
        buckets.put_object("data", f"logs/{n:05}.txt", b"x")
    # When they are read 700 at a time
    answer = item_reader.read_page(buckets, LIST, {"Bucket": "data", "Prefix": "logs/"}, {}, {"Size": 700})
    pages = [json.loads(answer["Items"])]
    while answer["Next"] is not None:
        position = answer["Next"]
        assert position["Skip"] < 1_000  # (a listing page and a place in it, not a count of items to skip)
        page = {"Size": 700, "Position": position}
        answer = item_reader.read_page(buckets, LIST, {"Bucket": "data", "Prefix": "logs/"}, {}, page)
        pages.append(json.loads(answer["Items"]))
    # Then every object comes once, in key order
    assert [len(page) for page in pages] == [700, 700, 700]
    assert [item["Key"] for page in pages for item in page] == [f"logs/{n:05}.txt" for n in range(2_100)]


def test_pages_of_listed_objects(store: ObjectStore) -> None:
    for n in range(12):
        store.put_object("data", f"logs/{n:02}.txt", b"x")
    pages = read_pages(store, LIST, {"Bucket": "data", "Prefix": "logs/"}, {}, Size=5)
    assert [[item["Key"] for item in page] for page in pages] == [
        [f"logs/{n:02}.txt" for n in range(0, 5)],
        [f"logs/{n:02}.txt" for n in range(5, 10)],
        ["logs/10.txt", "logs/11.txt"],
    ]


@pytest.mark.parametrize(
    ("body", "config", "cause"),
    [
        (None, {"InputType": "JSON"}, "NoSuchKey: The specified key does not exist."),
        (b'{"not": "a list"}', {"InputType": "JSON"}, "Attempting to map over non-iterable node."),
        (
            CSV,
            {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "a"]},
            "CSV headers cannot contain duplicates.",
        ),
        (CSV, {"InputType": "CSV", "MaxItems": -1}, "field MaxItems must be positive"),
    ],
)
def test_reader_failures_are_item_reader_failed_and_catchable(
    store: ObjectStore, body: bytes | None, config: dict[str, Any], cause: str
) -> None:
    if body is not None:
        store.put_object("data", "object", body)
    reader = {"Resource": GET, "ReaderConfig": config, "Parameters": {"Bucket": "data", "Key": "object"}}
    result = run_local(distributed_map(reader), {})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.ItemReaderFailed", cause)
    caught = distributed_map(reader, Catch=[{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Caught"}])
    del caught["States"]["Map"]["End"]
    caught["States"]["Map"]["Next"] = "Never"
    caught["States"].update({"Caught": {"Type": "Pass", "End": True}, "Never": {"Type": "Fail"}})
    assert run_local(caught, {}).output == {"Error": "States.ItemReaderFailed", "Cause": cause}


# -- ResultWriter ----------------------------------------------------------------------------------


def test_result_writer_writes_the_manifest_and_result_files(store: ObjectStore) -> None:
    # Given a Map over three rows, whose second iteration fails, with one failure tolerated
    store.put_object("data", "rows.csv", CSV)
    processor = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.name", "StringEquals": "bob", "Next": "Bad"}],
                "Default": "Good",
            },
            "Bad": {"Type": "Fail", "Error": "Bad", "Cause": "bob"},
            "Good": {"Type": "Pass", "Parameters": {"hello.$": "$.name"}, "End": True},
        },
    }
    definition = distributed_map(
        {"Resource": GET, "ReaderConfig": {"InputType": "CSV"}, "Parameters": {"Bucket": "data", "Key": "rows.csv"}},
        processor=processor,
        ToleratedFailureCount=1,
        Label="Scores",
        ResultWriter={"Resource": PUT, "Parameters": {"Bucket": "out", "Prefix.$": "$.prefix"}},
    )
    # When it runs
    result = run_local(definition, {"prefix": "runs/today"})
    # Then its output names the manifest, which names the files that hold every iteration's result
    assert result.status == "SUCCEEDED", result.cause
    run_id = result.output["MapRunArn"].rsplit(":", 1)[1]
    assert ":mapRun:" in result.output["MapRunArn"] and "/Scores:" in result.output["MapRunArn"]
    assert result.output["ResultWriterDetails"] == {"Bucket": "out", "Key": f"runs/today/{run_id}/manifest.json"}
    manifest = read_json(store, "out", f"runs/today/{run_id}/manifest.json")
    assert manifest["DestinationBucket"] == "out" and manifest["MapRunArn"] == result.output["MapRunArn"]
    assert manifest["ResultFiles"]["PENDING"] == []
    succeeded = read_json(store, "out", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    failed = read_json(store, "out", manifest["ResultFiles"]["FAILED"][0]["Key"])
    # (run in memory, its iterations keep no execution: a record has their status and output only)
    assert [(r["Status"], json.loads(r["Output"])) for r in succeeded] == [
        ("SUCCEEDED", {"hello": "ada"}),
        ("SUCCEEDED", {"hello": "cy"}),
    ]
    assert failed == [{"Status": "FAILED"}]
    assert (
        manifest["ResultFiles"]["SUCCEEDED"][0]["Size"]
        == store.head_object("out", f"runs/today/{run_id}/SUCCEEDED_0.json").size
    )


def test_result_writer_compact_jsonl_and_its_failure(store: ObjectStore) -> None:
    writer = {
        "Resource": PUT,
        "Parameters": {"Bucket": "out", "Prefix": "p"},
        "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"},
    }
    result = run_local(distributed_map(None, ResultWriter=writer), [1, [2, 3]])
    key = f"p/{result.output['MapRunArn'].rsplit(':', 1)[1]}/SUCCEEDED_0.json"
    assert read_bytes(store, "out", key) == b"1\n[2,3]\n"
    missing = {**writer, "Parameters": {"Bucket": "no-such-bucket-x"}}
    failed = run_local(distributed_map(None, ResultWriter=missing), [1])
    assert (failed.status, failed.error) == ("FAILED", "States.ResultWriterFailed")


# -- aws-sdk:s3 Tasks ------------------------------------------------------------------------------


def sdk_task(action: str, parameters: dict[str, Any]) -> dict[str, Any]:
    task = {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:s3:{action}", "Parameters": parameters, "End": True}
    return {"StartAt": "S3", "States": {"S3": task}}


def test_sdk_put_then_get_object(store: ObjectStore) -> None:
    put = run_local(
        sdk_task("putObject", {"Bucket": "out", "Key": "doc.json", "Body.$": "$.body"}), {"body": {"Dict": "Value"}}
    )
    # AWS's answer for this very body (a recorded case): compact JSON, its MD5 and CRC32
    assert put.output == {
        "ChecksumCRC32": "hnEfWw==",
        "ChecksumType": "FULL_OBJECT",
        "ETag": '"49e31cee5aec8faf3345893addb14346"',
        "ServerSideEncryption": "AES256",
    }
    got = run_local(sdk_task("getObject", {"Bucket": "out", "Key": "doc.json"}), {})
    assert got.output["Body"] == '{"Dict":"Value"}'
    assert got.output["ContentLength"] == 16 and got.output["ETag"] == put.output["ETag"]
    listed = run_local(sdk_task("listObjectsV2", {"Bucket": "out"}), {})
    assert [c["Key"] for c in listed.output["Contents"]] == ["doc.json"] and listed.output["KeyCount"] == 1


def test_sdk_get_of_a_missing_key_is_s3s_error(store: ObjectStore) -> None:
    result = run_local(sdk_task("getObject", {"Bucket": "out", "Key": "missing"}), {})
    assert result.error == "S3.NoSuchKeyException"
    assert result.cause.startswith("The specified key does not exist.")


def test_put_stream_stores_the_chunks_as_they_come(store: ObjectStore) -> None:
    # Given 9 MB in chunks of 1 MB (past boto3's 8 MB: a multipart upload on S3)
    chunks = [bytes([65 + n]) * 1_048_576 for n in range(9)]
    # When they are put as a stream
    info = store.put_stream("out", "big.bin", iter(chunks))
    # Then the object holds them, in order
    with store.get_object("out", "big.bin") as stream:
        assert stream.read() == b"".join(chunks)
    assert info.size == store.head_object("out", "big.bin").size == 9 * 1_048_576


def read_object(store: ObjectStore, key: str) -> bytes:
    with store.get_object("out", key) as stream:
        return stream.read()


def test_result_writer_streams_a_file_of_many_chunks(store: ObjectStore) -> None:
    # Given 40,000 records (about 2.6 MB of JSON: three chunks of the writer's), 1 in 1,000 failed
    records = [
        {"Name": f"child-{i}", "Status": "FAILED", "Error": "E", "Cause": "c"}
        if i % 1000 == 7
        else {"Name": f"child-{i}", "Output": json.dumps({"n": i}), "Status": "SUCCEEDED"}
        for i in range(40_000)
    ]
    for output_type in ("JSON", "JSONL"):
        # When they are written, handed over a status at a time as a stream
        answer = result_writer.write_results(
            store,
            {"Bucket": "out", "Prefix": output_type},
            {"OutputType": output_type},
            "arn:aws:states:us-east-1:123456789012:mapRun:sm/M:run",
            lambda status: (r for r in records if r["Status"] == status),
        )
        # Then each file holds its records, in order, as one JSON text or a line each
        manifest = json.loads(read_object(store, answer["ResultWriterDetails"]["Key"]))
        for status, count in (("SUCCEEDED", 39_960), ("FAILED", 40)):
            (entry,) = manifest["ResultFiles"][status]
            text = read_object(store, entry["Key"])
            read = json.loads(text) if output_type == "JSON" else [json.loads(line) for line in text.splitlines()]
            assert read == [r for r in records if r["Status"] == status] and len(read) == count
            assert entry["Size"] == len(text)
