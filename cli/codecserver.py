"""`starter.py codec-server`: decodes oamflow's encrypted payloads for the Temporal UI.

The Temporal UI (and `temporal workflow show --codec-endpoint`) posts payloads to
`/decode` and `/encode` as protobuf JSON and expects the same shape back. The
server has the codec key, so run it only where the people who may read the
deployments' secrets can reach it; it listens on loopback by default.
"""

from __future__ import annotations

import logging

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from cli.errors import UsageError
from clients.codec import (
    KEY_FILE_VARIABLE,
    KEY_VARIABLE,
    CodecKeyError,
    EncryptionCodec,
    key_from_environment,
)

log = logging.getLogger("oamflow.codec")


def build_app(codec: EncryptionCodec, cors_origin: str) -> web.Application:
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
    if key is None:
        raise UsageError(f"no codec key: set {KEY_VARIABLE} or {KEY_FILE_VARIABLE}")
    codec = EncryptionCodec(key)
    print(
        f"Codec server for key {codec.key_id.decode()} on http://{host}:{port} (CORS origin {cors_origin})",
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
