"""The S3 objects the corpus's S3 cases found in their buckets, put back in local buckets before they run.

The recorded tests created a bucket (the case input's ``Bucket``) and put objects in it before they
started the execution; their bodies are not in the corpus, so each is given here by the test's name,
as that test put it (the expected outputs show the same content: CSV rows, JSON items, text bodies).
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.integrations.s3 import LocalBuckets, local_root

STATEMENTS = [
    {"verdict": "true", "statement_date": "6/11/2008", "statement_source": "speech"},
    {"verdict": "false", "statement_date": "6/7/2022", "statement_source": "television"},
    {"verdict": "mostly-true", "statement_date": "5/18/2016", "statement_source": "news"},
]
MORE_STATEMENTS = [*STATEMENTS, {"verdict": "false", "statement_date": "5/18/2024", "statement_source": "x"}]
ROWS_WITHOUT_HEADERS = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"
FOUR_ROWS = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n"

# test name -> {key: body}
OBJECTS: dict[str, dict[str, str]] = {
    "test_map_item_reader_base_csv_headers_first_line": {"file.csv": "Col1,Col2,Col3\n" + ROWS_WITHOUT_HEADERS},
    "test_map_item_reader_base_csv_headers_decl": {"file.csv": ROWS_WITHOUT_HEADERS},
    "test_map_item_reader_csv_headers_decl_duplicate_headers": {"file.csv": ROWS_WITHOUT_HEADERS},
    "test_map_item_reader_csv_headers_decl_extra_fields": {"file.csv": ROWS_WITHOUT_HEADERS},
    "test_map_item_reader_csv_headers_first_row_typed_headers": {
        "file.csv": "0,True,{}\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"
    },
    "test_map_item_reader_csv_max_items": {"file.csv": FOUR_ROWS},
    "test_map_item_reader_csv_max_items_paths": {"file.csv": FOUR_ROWS},
    "test_map_item_reader_base_json": {"file.json": json.dumps(STATEMENTS)},
    "test_map_item_reader_base_json_max_items_jsonata": {"file.json": json.dumps(MORE_STATEMENTS)},
    "test_map_item_reader_base_json_with_items_path": {"file.json": json.dumps([["from-bucket-item-0"]])},
    "test_map_item_reader_json_no_json_list_object": {"file.json": json.dumps({"Hello": "world"})},
    "test_reference_in_map_state_max_items_path": {"file.json": json.dumps(MORE_STATEMENTS)},
    "test_s3_get_object": {},  # by parameter, below
}
GET_OBJECT_BODIES = {"str": "text data", "bytearray": "byte array data", "empty_str": "", "empty_binary": ""}
# Buckets a case names in its definition rather than its input.
NAMED_BUCKETS = {"test_map_state_result_writer": "result-bucket"}
# Cases whose point is that their bucket does not exist.
NO_BUCKET = {"test_no_such_bucket"}


def test_name(case: dict[str, Any]) -> str:
    """``test_s3_get_object`` of ``v2.services....test_s3_get_object__str__5529063e``."""
    return case["id"].rsplit(".", 1)[-1].split("__", 1)[0]


def seed(case: dict[str, Any]) -> None:
    """Create the case's bucket in the local buckets of the current home, holding its objects."""
    name = test_name(case)
    if name in NO_BUCKET:
        return
    buckets = LocalBuckets(local_root())
    given = case["input"] if isinstance(case["input"], dict) else {}
    bucket = NAMED_BUCKETS.get(name) or given.get("Bucket")
    if not isinstance(bucket, str):
        return
    buckets.create_bucket(bucket)
    objects = dict(OBJECTS.get(name, {}))
    if name == "test_s3_get_object":
        objects[given["Key"]] = GET_OBJECT_BODIES[case["id"].split("__")[1]]
    for key, body in objects.items():
        buckets.put_object(bucket, key, body.encode())
