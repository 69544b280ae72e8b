"""Attachable file upload: ``POST /v3/company/<realm>/upload`` (issue 20, third round).

Sources: **D** = Intuit's Attachable reference, "Upload attachments"
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/attachable#upload-attachments),
**I** = a client written against Intuit's sandbox (python-quickbooks 0.9.12 ``client.make_request`` and
its sandbox test ``tests/integration/test_attachable.py::test_create_file``), **E** = the emulator's guess.
- The request is ``multipart/form-data``; files are paired by a two-digit suffix: ``file_metadata_NN``
  (``application/json``, an Attachable object: ``AttachableRef``, ``FileName``, ``ContentType``,
  ``Note``...) with ``file_content_NN`` (the file; ``Content-Type`` the file's type, its ``filename``
  the file's name) (D). python-quickbooks sends the content base64 with
  ``Content-Transfer-Encoding: base64`` and no filename (I); the emulator decodes it, so ``Size`` is the
  file's size either way (E).
- A ``file_content_NN`` without metadata is accepted (D: the metadata part is optional; the file is then
  not linked); ``FileName`` / ``ContentType`` come from the metadata, else from the part (E).
- The answer is ``{"AttachableResponse": [{"Attachable": {...}}, ...], "time"}``, one entry per file in
  suffix order, each an Attachable with ``FileName``, ``ContentType``, ``Size`` and ``FileAccessUri``
  ``/v3/company/<realm>/download/<Id>`` (D; python-quickbooks reads
  ``AttachableResponse[0].Attachable``, I). Intuit's ``TempDownloadUri`` (a signed S3 URL) and the
  download itself are not modelled (E).
- Not multipart, or no ``file_content_NN`` part → 2020 Required param missing (E: Intuit's fault for
  these is not captured); metadata that is not JSON → the malformed-JSON fault of every other write.
The Attachable itself follows ``activity_entities`` (its ``AttachableRef`` rules).
"""

from __future__ import annotations

import json
import re
from email.message import Message
from email.parser import BytesParser
from typing import TYPE_CHECKING, Any

from . import faults

if TYPE_CHECKING:
    from .entities import Books

_PART = re.compile(r"^file_(metadata|content)_(\d+)$")


def _parts(content_type: str, raw: bytes) -> dict[str, dict[str, Message]]:
    """Multipart parts named file_metadata_NN / file_content_NN, by suffix."""
    if not content_type.lower().startswith("multipart/"):
        raise faults.required_param("file_content_01")
    msg = BytesParser().parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw)
    out: dict[str, dict[str, Message]] = {}
    payload = msg.get_payload() if msg.is_multipart() else []
    for part in payload if isinstance(payload, list) else []:
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        m = _PART.match(str(name or ""))
        if m:
            out.setdefault(m.group(2), {})[m.group(1)] = part
    return out


def _metadata(part: Message | None) -> dict[str, Any]:
    if part is None:
        return {}
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
    try:
        meta = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise faults.json_parse_error() from exc
    if not isinstance(meta, dict):
        raise faults.malformed_body("Cannot deserialize instance out of START_ARRAY token")
    return meta


def upload(books: Books, realm: str, content_type: str, raw: bytes, now: str) -> dict[str, Any]:
    """Create one Attachable per uploaded file; the AttachableResponse answer (caller holds the lock)."""
    parts = _parts(content_type, raw)
    files = sorted((k for k, v in parts.items() if "content" in v), key=int)
    if not files:
        raise faults.required_param("file_content_01")
    answers = []
    for key in files:
        content = parts[key]["content"]
        data = content.get_payload(decode=True)
        size = len(data) if isinstance(data, bytes) else 0
        meta = _metadata(parts[key].get("metadata"))
        body = {k: v for k, v in meta.items() if k not in ("Size", "FileAccessUri", "TempDownloadUri")}
        body.setdefault("FileName", content.get_filename() or f"file_{key}")
        body.setdefault("ContentType", content.get_content_type())
        rec = books.create("Attachable", body)
        rec.data["Size"] = size
        rec.data["FileAccessUri"] = f"/v3/company/{realm}/download/{rec.id}"
        answers.append({"Attachable": rec.data})
    return {"AttachableResponse": answers, "time": now}
