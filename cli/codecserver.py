"""`starter.py codec-server`: decodes oamflow's payloads for the Temporal UI.

Payloads are compressed when large and encrypted when a codec key is set. The
Temporal UI (and `temporal workflow show --codec-endpoint`) posts payloads to
`/decode` and `/encode` as protobuf JSON and expects the same shape back. With a
key, the server can read the deployments' secrets, so run it only where the
people who may read them can reach it. It listens on loopback by default.
"""

from __future__ import annotations

import logging

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from cli.errors import UsageError
from clients.codec import (
    CodecKeyError,
    EncryptionCodec,
    key_from_environment,
)
from clients.temporal import payload_codec

log = logging.getLogger("oamflow.codec")


def build_app(codec: PayloadCodec, cors_origin: str) -> web.Application:
    def cors(response: web.StreamResponse) -> web.StreamResponse:
        response.headers["Access-Control-Allow-Origin"] = cors_origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = (
            "Content-Type, X-Namespace, Authorization"
        )
        response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    async def preflight(request: web.Request) -> web.StreamResponse:
        return cors(web.Response())

    def transform(direction: str):
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                payloads = json_format.Parse(await request.text(), Payloads())
                method = codec.decode if direction == "decode" else codec.encode
                converted = Payloads(payloads=await method(payloads.payloads))
            except (json_format.ParseError, ValueError) as error:
                log.warning("Cannot %s payloads: %s", direction, error)
                return cors(
                    web.json_response(
                        {"message": f"cannot {direction}: {error}"}, status=400
                    )
                )
            return cors(web.json_response(json_format.MessageToDict(converted)))

        return handler

    app = web.Application()
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
    app.router.add_post("/decode", transform("decode"))
    app.router.add_post("/encode", transform("encode"))
    return app


def serve(host: str, port: int, cors_origin: str) -> int:
    try:
        key = key_from_environment()
    except CodecKeyError as error:
        raise UsageError(str(error)) from None
    described = "no key: it decompresses only"
    if key is not None:
        described = f"key {EncryptionCodec(key).key_id.decode()}"
    codec = payload_codec()
    print(
        f"Codec server ({described}) on http://{host}:{port} (CORS origin {cors_origin})",
        flush=True,
    )
    print(
        f"In the Temporal UI, set the codec endpoint to http://{host}:{port}",
        flush=True,
    )
    web.run_app(
        build_app(codec, cors_origin),
        host=host,
        port=port,
        print=None,
        handle_signals=True,
    )
    return 0
