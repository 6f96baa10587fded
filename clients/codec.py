"""Encryption of Temporal payloads (AES-256-GCM), so history contains no plaintext.

Everything oamflow sends through Temporal (the request with its Secret values,
manifests, results, query answers) passes through this codec when a key is
configured. The Temporal server then stores ciphertext only; the worker and the
command line, which hold the key, see plaintext. Operators who hold the key can
run `starter.py codec-server` so the Temporal UI shows decoded payloads.

The key is 32 bytes, base64-encoded, from `OAMFLOW_CODEC_KEY` or from the file
named by `OAMFLOW_CODEC_KEY_FILE`. Each encrypted payload records the key's id (a
hash prefix), so a payload written with another key fails with a clear message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import zlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_VARIABLE = "OAMFLOW_CODEC_KEY"
KEY_FILE_VARIABLE = "OAMFLOW_CODEC_KEY_FILE"
NONCE_BYTES = 12


class CodecKeyError(Exception):
    """The configured key is missing, unreadable or not 32 bytes of base64."""


def new_key() -> str:
    """Generate a random key, base64-encoded, for `OAMFLOW_CODEC_KEY` or a key file."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")


def key_from_environment() -> bytes | None:
    """Read the configured key; None when payload encryption is not configured."""
    text = os.environ.get(KEY_VARIABLE)
    source = KEY_VARIABLE
    path = os.environ.get(KEY_FILE_VARIABLE)
    if not text and path:
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read()
        except OSError as error:
            raise CodecKeyError(
                f"cannot read the codec key file {path} ({KEY_FILE_VARIABLE}): {error.strerror}"
            ) from None
        source = path
    if not text:
        return None
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CodecKeyError(f"the codec key in {source} is not valid base64") from None
    if len(key) != 32:
        raise CodecKeyError(
            f"the codec key in {source} is {len(key)} bytes; it must be 32 (AES-256)"
        )
    return key


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes) -> None:
        self._cipher = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16].encode("ascii")

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher.encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-key-id": self.key_id},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get("encryption-key-id", b"")
        if key_id != self.key_id:
            raise ValueError(
                f"payload was encrypted with key {key_id.decode(errors='replace')}, but the configured key"
                f" is {self.key_id.decode()}; configure the key the deployment was started with"
            )
        plain = self._cipher.decrypt(
            payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None
        )
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


COMPRESSED = b"binary/zlib"
COMPRESS_ABOVE = 64 * 1024


class CompressionCodec(PayloadCodec):
    """zlib-compresses payloads larger than `COMPRESS_ABOVE` bytes.

    Temporal rejects payloads over 2 MB. The request, the progress of a large
    deployment and its continue-as-new input are JSON that compresses about ten
    times, so a deployment of thousands of objects stays within the limit. Small
    payloads stay plain JSON, readable in the Temporal UI without a codec server.
    """

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._compress(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decompress(payload) for payload in payloads]

    def _compress(self, payload: Payload) -> Payload:
        if len(payload.data) <= COMPRESS_ABOVE:
            return payload
        data = zlib.compress(payload.SerializeToString(), 6)
        return Payload(metadata={"encoding": COMPRESSED}, data=data)

    def _decompress(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != COMPRESSED:
            return payload
        decoded = Payload()
        decoded.ParseFromString(zlib.decompress(payload.data))
        return decoded


class ChainCodec(PayloadCodec):
    """Applies codecs in order when encoding and in reverse when decoding."""

    def __init__(self, codecs: Sequence[PayloadCodec]) -> None:
        self.codecs = list(codecs)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        result = list(payloads)
        for codec in self.codecs:
            result = await codec.encode(result)
        return result

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        result = list(payloads)
        for codec in reversed(self.codecs):
            result = await codec.decode(result)
        return result
