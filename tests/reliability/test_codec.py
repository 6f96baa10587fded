"""Large payloads are compressed to stay under Temporal's 2 MB limit; small ones stay JSON."""

from __future__ import annotations

import base64
import json

from temporalio.api.common.v1 import Payload

from clients.codec import (
    COMPRESS_ABOVE,
    ChainCodec,
    CompressionCodec,
    EncryptionCodec,
    new_key,
)


def json_payload(size: int) -> Payload:
    body = json.dumps(
        {
            "jobs": [
                {"id": f"ConfigMap/default/c{index}", "state": "ready"}
                for index in range(size)
            ]
        }
    )
    return Payload(metadata={"encoding": b"json/plain"}, data=body.encode())


async def test_small_payload_stays_plain_json() -> None:
    payload = json_payload(10)
    assert len(payload.data) < COMPRESS_ABOVE
    encoded = await CompressionCodec().encode([payload])
    assert encoded[0] == payload


async def test_large_payload_is_compressed_and_restored() -> None:
    payload = json_payload(60_000)
    assert len(payload.data) > 2 * 1024 * 1024
    encoded = await CompressionCodec().encode([payload])
    assert encoded[0].metadata["encoding"] == b"binary/zlib"
    assert len(encoded[0].data) < len(payload.data) / 8
    assert (await CompressionCodec().decode(encoded)) == [payload]


async def test_chain_compresses_then_encrypts_and_reverses() -> None:
    codec = ChainCodec(
        [CompressionCodec(), EncryptionCodec(base64.b64decode(new_key()))]
    )
    payloads = [json_payload(10), json_payload(60_000)]
    encoded = await codec.encode(payloads)
    assert all(item.metadata["encoding"] == b"binary/encrypted" for item in encoded)
    assert b"ConfigMap/default/c1" not in encoded[1].data
    assert await codec.decode(encoded) == payloads
