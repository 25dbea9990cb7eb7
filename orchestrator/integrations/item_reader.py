"""A Distributed Map's ItemReader: the items of an S3 object, or the objects under an S3 prefix.

``Resource`` says which:

- ``arn:aws:states:::s3:getObject`` reads one object (``Parameters``/``Arguments``: Bucket, Key), by
  ``ReaderConfig.InputType``: ``JSON`` (an array), ``JSONL`` (a value per line), ``CSV`` (a row per
  item, an object of the headers: ``CSVHeaderLocation`` FIRST_ROW or GIVEN with ``CSVHeaders``;
  ``CSVDelimiter`` COMMA, PIPE, SEMICOLON, SPACE or TAB), or ``MANIFEST`` (an S3 Inventory
  manifest.json: every row of the CSV files it lists, named by its ``fileSchema``);
- ``arn:aws:states:::s3:listObjectsV2`` lists the objects under ``Prefix``, each item
  ``{"Etag", "Key", "LastModified" (epoch seconds), "Size", "StorageClass"}`` as AWS gives them.

``ReaderConfig.MaxItems`` (already resolved from MaxItemsPath or JSONata by the engine) stops after
that many; 0 or absent reads all. CSV and JSON Lines are read line by line from the stream; a JSON
array is parsed whole when every item is asked for at once (`read_items`, in memory), an element at
a time when a page is (`read_page`). Any failure is `IntegrationError` ``States.ItemReaderFailed``.

The durable runtime asks for the items a page at a time (`read_page`): a page ends after ``Size``
items or once its JSON text passes ``Bytes``, and says where the next one starts. A CSV or JSON
Lines page starts at the byte after the previous page's last row (the object is opened there), so
a million rows are read once, a page in memory at a time. A JSON array is read the same way, an
element at a time (`_JsonArray`). A manifest's page starts at a byte of one of its CSV files (a
gzipped one is decompressed from its start, the bytes before the page skipped), and a listing's at
a ListObjectsV2 page (its continuation token) and an object in it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from orchestrator.asl.errors import ITEM_READER_FAILED
from orchestrator.integrations.s3 import ObjectInfo, ObjectStore, S3Error, iter_objects
from orchestrator.integrations.services import IntegrationError

GET_OBJECT = "arn:aws:states:::s3:getObject"
LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
MAX_ITEMS_LIMIT = 100_000_000  # AWS reads no more than this, whatever MaxItems says

DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
INPUT_TYPES = ("CSV", "JSON", "JSONL", "MANIFEST")


def read_items(store: ObjectStore, resource: str, parameters: dict[str, Any], config: dict[str, Any]) -> Iterator[Any]:
    """The items the reader yields, at most MaxItems of them; raises IntegrationError on any failure."""
    limit = _max_items(config.get("MaxItems"))
    return _guarded(lambda: _items(store, resource, parameters, config), limit)


def items_as_json(items: Iterator[Any]) -> str:
    """The items as the text of one JSON array, written as they come.

    The reader's answer travels as this one string (through the invoke path's copy and the broker),
    so the process that reads holds the text and one item at a time, never every item as an object.
    """
    out = io.StringIO()
    out.write("[")
    for count, item in enumerate(items):
        if count:
            out.write(",")
        out.write(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
    out.write("]")
    return out.getvalue()


def read_page(
    store: ObjectStore,
    resource: str,
    parameters: dict[str, Any],
    config: dict[str, Any],
    page: dict[str, Any],
) -> dict[str, Any]:
    """One page of the items: ``{"Items": <their JSON array, as text>, "Next": <position> or None}``.

    ``page`` is ``{"Size", "Bytes", "Position"}``; Position None is the start, else a "Next" this
    function answered before: ``Index``, the items read so far (for MaxItems), and where the next
    item is: ``Offset`` (the byte of a CSV, JSON Lines or JSON array object where it starts) and
    ``Headers`` (a CSV's first row, read on the first page); ``File`` and ``Offset`` (a manifest's
    file and the byte of its text); ``Token`` and ``Skip`` (a listing's page, and the objects of it
    read). A page ends after Size items, or after the item that takes its text past Bytes characters
    (0: no such limit).
    """
    position = page.get("Position") or {"Index": 0, "Offset": 0, "Headers": None}
    limit = _max_items(config.get("MaxItems"))
    remaining = limit - position["Index"] if limit else None
    if remaining is not None and remaining <= 0:
        return {"Items": "[]", "Next": None}
    size, budget = max(1, int(page.get("Size") or 1)), int(page.get("Bytes") or 0)
    rows = _guarded(lambda: _positioned(store, resource, parameters, config, position), 0)
    out = io.StringIO()
    out.write("[")
    after = position
    for count, (item, at) in enumerate(rows):
        if count == size or (budget and out.tell() > budget):
            rows.close()  # (the item just read starts the next page)
            return {"Items": out.getvalue() + "]", "Next": after}
        out.write("," if count else "")
        out.write(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
        after = {**at, "Index": position["Index"] + count + 1}
        if count + 1 == remaining:
            rows.close()
            break
    return {"Items": out.getvalue() + "]", "Next": None}


def _positioned(
    store: ObjectStore, resource: str, parameters: dict[str, Any], config: dict[str, Any], position: dict[str, Any]
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The items from ``position`` on, each with where the reading stands after it (see `read_page`)."""
    bucket = _text_parameter(parameters, "Bucket")
    if resource.startswith(LIST_OBJECTS):
        return _listed_rows(store, bucket, str(parameters.get("Prefix") or ""), position)
    input_type = config.get("InputType", "JSON")
    if resource.startswith(GET_OBJECT) and input_type in ("CSV", "JSONL", "JSON"):
        return _object_rows(store, bucket, _text_parameter(parameters, "Key"), config, position)
    if resource.startswith(GET_OBJECT) and input_type == "MANIFEST":
        return _manifest_rows(store, _read_json(store, bucket, _text_parameter(parameters, "Key")), position)
    skipped = itertools.islice(_items(store, resource, parameters, config), position["Index"], None)
    return ((item, {}) for item in skipped)  # (a resource or type that fails: its error comes first)


def _listed_rows(
    store: ObjectStore, bucket: str, prefix: str, position: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The objects under ``prefix`` from a ListObjectsV2 page (``Token``, None: the first) and the
    objects of it already read (``Skip``) on, each with where the listing stands after it."""
    token, skip = position.get("Token"), int(position.get("Skip") or 0)
    while True:
        page = store.list_objects(bucket, prefix, token)
        for taken, info in enumerate(page.objects[skip:], skip + 1):
            after = {"Token": token, "Skip": taken}
            if taken == len(page.objects):
                after = {"Token": page.next_token, "Skip": 0}
            yield _listed_item(info), after
        if page.next_token is None:
            return
        token, skip = page.next_token, 0


def _manifest_rows(
    store: ObjectStore, manifest: Any, position: dict[str, Any]
) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """The rows of the CSV files an S3 Inventory manifest lists, from file ``File`` at byte ``Offset``
    (of its text, after decompression) on, each with where the reading stands after it."""
    headers, bucket, files = _manifest_files(manifest)
    first, start = int(position.get("File") or 0), int(position.get("Offset") or 0)
    for number in range(first, len(files)):
        key, offset = files[number]["key"], start if number == first else 0
        packed = key.endswith(".gz")
        stream = store.get_object(bucket, key, 0 if packed else offset)
        try:
            text: BinaryIO = gzip.GzipFile(fileobj=stream) if packed else stream  # type: ignore[assignment]
            if packed:
                _skip(text, offset)
            lines = _CountedLines(text, offset)
            for item in csv_items(lines, headers):
                yield item, {"File": number, "Offset": lines.offset}
        finally:
            stream.close()


def _skip(stream: BinaryIO, count: int) -> None:
    """Read past ``count`` bytes of ``stream``, a chunk at a time."""
    while count > 0:
        chunk = stream.read(min(count, 64 * 1024))
        if not chunk:
            return
        count -= len(chunk)


def _object_rows(
    store: ObjectStore, bucket: str, key: str, config: dict[str, Any], position: dict[str, Any]
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The rows of a CSV, JSON Lines or JSON array object from byte ``Offset`` on, each with the byte after it.

    csv.reader takes a line at a time, and only the lines of the row it returns (a quoted field may
    hold line breaks), so the bytes counted when it returns a row end exactly at that row.
    """
    start = int(position.get("Offset") or 0)
    stream = store.get_object(bucket, key, start)
    lines = _CountedLines(stream, start)
    try:
        if config.get("InputType", "JSON") == "JSON":
            elements = _JsonArray(stream, start)
            for item in elements:
                yield item, {"Offset": elements.offset, "Headers": None}
            return
        if config.get("InputType") == "JSONL":
            for item in jsonl_items(lines):
                yield item, {"Offset": lines.offset, "Headers": None}
            return
        given = _given_headers(config)
        for item in csv_items(lines, given or position.get("Headers"), _delimiter(config)):
            # the next page starts past the header row, and needs its names
            yield item, {"Offset": lines.offset, "Headers": None if given else list(item)}
    finally:
        stream.close()


class _JsonArray:
    """The elements of a JSON array object, decoded one at a time as its bytes stream in.

    ``offset`` is the byte just after the last element given: a reading that starts there (the
    stream opened at that byte) goes on with the next element, after its comma. An element is taken
    only once the text after it (a comma or the closing bracket) has come in, so that a number cut
    by a chunk's end is not read short. The text read is kept from ``at`` on, and dropped in chunks.
    """

    CHUNK = 64 * 1024

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self.stream = stream
        self.offset = offset
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.decode = json.JSONDecoder().raw_decode
        self.text = ""
        self.at = 0
        self.ended = False
        self.elements = self._elements(first=offset == 0)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self.elements)

    def _elements(self, *, first: bool) -> Iterator[Any]:
        if first:
            self._fill()
            if self.text.startswith("\ufeff"):
                self._take(1)
            if self._next_char() != "[":
                raise IntegrationError(ITEM_READER_FAILED, "Attempting to map over non-iterable node.")
            self._take(1)
            if self._next_char() == "]":
                return
        elif self._next_char() in ("]", ""):
            return
        else:
            self._take(1)  # the comma after the element last given
        while True:
            value, end = self._element()
            self._take(end - self.at)
            yield value
            after = self._next_char()
            if after == "]":
                return
            if after != ",":
                raise ValueError(f"Expecting ',' or ']' after the element that ends at byte {self.offset}")
            self._take(1)

    def _next_char(self) -> str:
        """The next character that is not white space, left unread ("" at the end of the object)."""
        while True:
            self._take(_WHITE_SPACE.match(self.text, self.at).end() - self.at)  # type: ignore[union-attr]
            if self.at < len(self.text) or not self._fill():
                return self.text[self.at : self.at + 1]

    def _element(self) -> tuple[Any, int]:
        """The next element and where it ends in the text, once what follows it has come in too."""
        while True:
            self._next_char()
            try:
                value, end = self.decode(self.text, self.at)
            except ValueError:
                if self._fill():
                    continue
                raise
            if _WHITE_SPACE.match(self.text, end).end() < len(self.text) or not self._fill():  # type: ignore[union-attr]
                return value, end

    def _fill(self) -> bool:
        """Read another chunk into the text (dropping what was taken); False at the end of the object."""
        if self.ended:
            return False
        chunk = self.stream.read(self.CHUNK)
        self.ended = not chunk
        self.text = self.text[self.at :] + self.decoder.decode(chunk, final=self.ended)
        self.at = 0
        return bool(chunk)

    def _take(self, count: int) -> None:
        """Move past ``count`` characters of the text, counting their bytes."""
        if count:
            self.offset += len(self.text[self.at : self.at + count].encode())
            self.at += count


_WHITE_SPACE = re.compile(r"[ \t\n\r]*")


class _CountedLines:
    """The lines of a byte stream as text, counting the bytes taken so far (``offset``).

    botocore's StreamingBody is not an io.RawIOBase: it is read in chunks and split into lines here.
    """

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self.stream = stream
        self.offset = offset
        self.lines = self._lines()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self.lines)

    def _lines(self) -> Iterator[str]:
        decoding = "utf-8-sig" if self.offset == 0 else "utf-8"
        pending = b""
        while chunk := self.stream.read(64 * 1024):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self.offset += len(line) + 1
                yield line.decode(decoding) + "\n"
                decoding = "utf-8"
        if pending:
            self.offset += len(pending)
            yield pending.decode(decoding)


def _guarded(open_items: Callable[[], Iterator[Any]], limit: int) -> Iterator[Any]:
    """The items, with S3's and the parsers' errors turned into States.ItemReaderFailed as they come."""
    try:
        items = open_items()
        yield from itertools.islice(items, limit) if limit else items
    except S3Error as exc:
        raise IntegrationError(ITEM_READER_FAILED, f"{exc.code}: {exc.message}") from None
    except (ValueError, csv.Error, OSError, UnicodeDecodeError) as exc:
        raise IntegrationError(ITEM_READER_FAILED, str(exc)) from None


def _max_items(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):  # AWS reads "2" (a variable holding text, say) as 2
        try:
            value = float(value.strip())
        except ValueError:
            raise IntegrationError(ITEM_READER_FAILED, "field MaxItems must be an integer") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise IntegrationError(ITEM_READER_FAILED, "field MaxItems must be an integer")
    if value < 0:
        raise IntegrationError(ITEM_READER_FAILED, "field MaxItems must be positive")
    return min(int(value), MAX_ITEMS_LIMIT)


def _items(store: ObjectStore, resource: str, parameters: dict[str, Any], config: dict[str, Any]) -> Iterator[Any]:
    bucket = _text_parameter(parameters, "Bucket")
    if resource.startswith(LIST_OBJECTS):
        return _listed(store, bucket, str(parameters.get("Prefix") or ""))
    if not resource.startswith(GET_OBJECT):
        raise IntegrationError(ITEM_READER_FAILED, f"ItemReader cannot read with the resource '{resource}'")
    key = _text_parameter(parameters, "Key")
    input_type = config.get("InputType", "JSON")
    if input_type not in INPUT_TYPES:
        raise IntegrationError(ITEM_READER_FAILED, f"ReaderConfig.InputType must be one of {', '.join(INPUT_TYPES)}")
    if input_type == "CSV":
        headers = _given_headers(config)
        return _object_lines(store, bucket, key, lambda lines: csv_items(lines, headers, _delimiter(config)))
    if input_type == "JSONL":
        return _object_lines(store, bucket, key, jsonl_items)
    if input_type == "MANIFEST":
        return manifest_items(store, _read_json(store, bucket, key))
    return iter(_json_array(_read_json(store, bucket, key)))


def _text_parameter(parameters: dict[str, Any], name: str) -> str:
    value = parameters.get(name)
    if not isinstance(value, str) or not value:
        raise IntegrationError(ITEM_READER_FAILED, f"The ItemReader needs a {name} (a string) in its Parameters")
    return value


def _listed(store: ObjectStore, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    return (_listed_item(info) for info in iter_objects(store, bucket, prefix))


def _listed_item(info: ObjectInfo) -> dict[str, Any]:
    return {
        "Etag": info.etag,
        "Key": info.key,
        "LastModified": int(info.last_modified.timestamp()),
        "Size": info.size,
        "StorageClass": info.storage_class,
    }


def _object_lines(store: ObjectStore, bucket: str, key: str, parse: Any) -> Iterator[Any]:
    """Open the object and hand its text, a line at a time, to ``parse``; close it at the end."""
    stream = store.get_object(bucket, key)
    try:
        yield from parse(_text_lines(stream))
    finally:
        stream.close()


def _text_lines(stream: BinaryIO) -> Iterator[str]:
    # botocore's StreamingBody is not an io.RawIOBase: read it in chunks and split the lines here
    pending = b""
    while chunk := stream.read(64 * 1024):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8-sig") + "\n"
    if pending:
        yield pending.decode("utf-8-sig")


def _given_headers(config: dict[str, Any]) -> list[str] | None:
    location = config.get("CSVHeaderLocation", "FIRST_ROW")
    if location == "FIRST_ROW":
        return None
    if location != "GIVEN":
        raise IntegrationError(ITEM_READER_FAILED, "ReaderConfig.CSVHeaderLocation must be FIRST_ROW or GIVEN")
    headers = config.get("CSVHeaders")
    if not isinstance(headers, list) or not headers or not all(isinstance(h, str) for h in headers):
        raise IntegrationError(ITEM_READER_FAILED, "CSVHeaders must be a non-empty list of strings with GIVEN")
    return headers


def _delimiter(config: dict[str, Any]) -> str:
    name = config.get("CSVDelimiter", "COMMA")
    if name not in DELIMITERS:
        raise IntegrationError(ITEM_READER_FAILED, f"ReaderConfig.CSVDelimiter must be one of {', '.join(DELIMITERS)}")
    return DELIMITERS[name]


def csv_items(lines: Iterable[str], headers: list[str] | None, delimiter: str = ",") -> Iterator[dict[str, str]]:
    """Each row as an object of its headers' names (the first row's, or those given); values stay text.

    A row with more fields than headers loses the extra ones; one with fewer has "" for the rest.
    """
    rows = csv.reader(lines, delimiter=delimiter)
    if headers is None:
        headers = next(rows, None)
        if headers is None:
            return
    if len(set(headers)) != len(headers):
        raise IntegrationError(ITEM_READER_FAILED, "CSV headers cannot contain duplicates.")
    for row in rows:
        if not row:
            continue  # a blank line, the file's last most often
        yield {name: row[i] if i < len(row) else "" for i, name in enumerate(headers)}


def jsonl_items(lines: Iterable[str]) -> Iterator[Any]:
    """A JSON value per non-blank line."""
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise IntegrationError(ITEM_READER_FAILED, f"line {number} is not JSON: {exc}") from None


def _read_json(store: ObjectStore, bucket: str, key: str) -> Any:
    stream = store.get_object(bucket, key)
    try:
        return json.loads(stream.read())
    finally:
        stream.close()


def _json_array(document: Any) -> list[Any]:
    if not isinstance(document, list):
        raise IntegrationError(ITEM_READER_FAILED, "Attempting to map over non-iterable node.")
    return document


def manifest_items(store: ObjectStore, manifest: Any) -> Iterator[dict[str, str]]:
    """The rows of every CSV file an S3 Inventory manifest lists, named by its fileSchema (each file
    read as it streams in, a gzipped one decompressed as it comes)."""
    return (item for item, _ in _manifest_rows(store, manifest, {}))


def _manifest_files(manifest: Any) -> tuple[list[str], str, list[dict[str, Any]]]:
    """An S3 Inventory manifest's column names, the bucket of its files, and the files."""
    if not isinstance(manifest, dict) or manifest.get("fileFormat") != "CSV" or "files" not in manifest:
        raise IntegrationError(
            ITEM_READER_FAILED, "A MANIFEST must be an S3 Inventory manifest.json of fileFormat CSV, with files"
        )
    headers = [name.strip() for name in str(manifest.get("fileSchema", "")).split(",")]
    bucket = str(manifest.get("destinationBucket", "")).removeprefix("arn:aws:s3:::")
    return headers, bucket, list(manifest["files"])
