"""A print file larger than one chunk, through the gateway: made once by issuance and stored in
its file bucket (GridFS), streamed by the gateway a chunk (1 MiB) per RPC, byte-identical to what
is stored, and no RPC answer carries more than one chunk."""

import base64
import hashlib
import io
import json

import pytest
from nameko import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from pypdf import PdfReader

from services.issuance.store import IssuanceRepository
from shared.mongo import get_database
from tests.e2e.test_issuance_http import booklets_when_issued, register_sponsor

pytestmark = pytest.mark.e2e

CHUNK = IssuanceRepository.CHUNK_BYTES
BOOKLETS = 300  # about 4.8 KB a booklet of 10: above 1 MiB


@pytest.fixture
def rpc_answers(monkeypatch):
    """The size (JSON) of every RPC answer any service sends while the test runs."""
    sizes = []
    send = rpc.Responder.send_response

    def measured(self, result, exc_info):
        sizes.append((self.message.properties.get("reply_to"), len(json.dumps(result))))
        return send(self, result, exc_info)

    monkeypatch.setattr(rpc.Responder, "send_response", measured)
    return sizes


def test_a_print_file_of_several_chunks_streams_byte_identical(
    api, operator_key, make_key, stack_config, rpc_answers
):
    sponsor, key = register_sponsor(api, operator_key, make_key, "Département de la Gironde")
    order = {
        "sponsor_id": sponsor["id"],
        "lines": [{"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": BOOKLETS}],
    }
    answer = api.post("/orders", json=order, key=key)
    assert answer.status_code == 201, answer.text
    oid = answer.json()["id"]
    assert api.post(f"/orders/{oid}/submit", key=key).status_code == 200
    payment = {"amount_cents": BOOKLETS * 10 * 1040, "payer": "sponsor", "reference": "VIR-9"}
    answer = api.post(f"/orders/{oid}/payments", json=payment, key=operator_key)
    assert answer.status_code == 201, answer.text
    booklets_when_issued(api, oid, key)

    answer = api.get(f"/orders/{oid}/print.pdf", key=operator_key)
    assert answer.status_code == 200, answer.text
    content = answer.content
    size = int(answer.headers["Content-Length"])
    assert size == len(content) > CHUNK  # two chunks at least
    assert answer.headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert len(PdfReader(io.BytesIO(content)).pages) == BOOKLETS * 3

    # what the gateway sent is what issuance stored, byte for byte
    db = get_database(stack_config, "issuance", True)
    record = db.print_files.find_one({"order_id": oid})
    assert record["status"] == "ready" and record["size"] == size
    stored = b"".join(
        c["data"] for c in db.print_files.chunks.find({"files_id": record["file_id"]}).sort("n", 1)
    )
    assert stored == content

    # no RPC answer carried more than one chunk (base64: 4/3, plus a few fields)
    largest = max(s for _, s in rpc_answers)
    assert CHUNK < largest <= CHUNK * 4 // 3 + 512

    # the same file again: not made twice; a client holding it gets 304
    answer = api.get(
        f"/orders/{oid}/print.pdf",
        key=operator_key,
        headers={"If-None-Match": f'"{record["sha256"]}"'},
    )
    assert answer.status_code == 304 and not answer.content
    assert db.print_files.count_documents({"order_id": oid}) == 1

    # the chunk RPC: the operator's only for an order's file, and nothing past the end
    with ServiceRpcProxy("issuance", stack_config) as issuance:
        last = -(-size // CHUNK) - 1
        tail = issuance.print_file_chunk(
            record["file_id"],
            last,
            {"role": "operator", "key_id": "k", "subject_id": None, "label": None},
        )
        assert base64.b64decode(tail["content_b64"]) == content[last * CHUNK :]
