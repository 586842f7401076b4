"""py-counter: the `counter` example (examples/counter) written in Python.

Counts the messages published on the channels it is bound to, per channel,
in the KV store; and reads the counts over HTTP. Same behaviour as the Rust
`counter`, so the two can be compared:

- After-publish hook (deploy with `--after-publish 'chat.*'`): each message
  adds 1 to the KV counter `{key_prefix}{channel}` (atomically, with `incr`).
  When the counter cannot be updated (say the value stored there is not a
  number), the hook fails with a message that lands in the function's log.
- Endpoint (deploy with `--endpoint`): `GET /v1/fn/py-counter/chat.alice`
  (the function sees the path `/chat.alice`) answers 200
  `{"channel": "chat.alice", "count": N}`, with 0 for a channel never seen;
  other methods get 405, a path that is not one channel name 404, all with a
  JSON body `{"error": "..."}`.

Configuration (`--set key_prefix=...`): `key_prefix`, the prefix of the KV
keys, default `count:` (the Rust counter's), so a Python and a Rust counter
deployed side by side share their counts unless one is given another prefix.

Build and deploy:

    scripts/build-python-guests.sh      # -> target/guests/py-counter.wasm
    edgefn deploy target/guests/py-counter.wasm --name py-counter \
        --after-publish 'chat.*' --endpoint

The component is built with componentize-py for the world in `world.wit`
(the host's imports from the repository's `wit/`, and the two triggers it
exports); the classes below are named after the interfaces they implement.
The module is imported once, at build time, and snapshotted: read the
configuration (`os.environ`) inside the handlers, not at import.
"""

import json
import os

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import kv, log
from wit_world.imports.edgefn_functions_types import Message
from wit_world.imports.wasi_http_types import (
    Fields,
    IncomingRequest,
    Method_Get,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

DEFAULT_KEY_PREFIX = "count:"


class AfterPublish(exports.AfterPublish):
    """Adds 1 to the counter of the message's channel."""

    def handle(self, msg: Message) -> None:
        try:
            count = kv.incr(counter_key(msg.channel), 1)
        except Err as e:
            # A host error (`wit_world.imports.edgefn_functions_types.Error`):
            # returned to the host as this hook's error, which it logs.
            raise Err(f"could not count a message on {msg.channel}: {e.value.value}")
        log.log(log.Level.DEBUG, "counted", [("channel", msg.channel), ("count", str(count))])


class IncomingHandler(exports.IncomingHandler):
    """Answers `GET /{channel}` with the channel's count."""

    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        status, body, headers = read(request)
        respond(response_out, status, body, headers)


def read(request: IncomingRequest) -> tuple[int, dict, list[tuple[str, bytes]]]:
    """The status, JSON body and extra headers of the answer to `request`."""
    if not isinstance(request.method(), Method_Get):
        return 405, {"error": f"{method_name(request)} is not allowed: use GET"}, [("allow", b"GET")]
    channel = channel_of(request.path_with_query() or "/")
    if channel is None:
        return 404, {"error": "use GET /{channel}, e.g. GET /chat.lobby"}, []
    try:
        text = kv.get(counter_key(channel))
    except Err as e:
        log.log(log.Level.ERROR, "could not read a count", [("channel", channel), ("error", str(e.value.value))])
        return 503, {"error": f"could not read the count: {e.value.value}"}, []
    if text is None:
        count = 0
    else:
        try:
            count = int(text.strip())
        except ValueError:
            return 500, {"error": f"the count of {channel} is not a number"}, []
    return 200, {"channel": channel, "count": count}, []


def counter_key(channel: str) -> str:
    """The KV key of `channel`'s counter."""
    return os.environ.get("key_prefix", DEFAULT_KEY_PREFIX) + channel


def channel_of(path_with_query: str) -> str | None:
    """The channel named by the path (`/chat.alice?x=1`): one non-empty segment."""
    path = path_with_query.split("?", 1)[0]
    if not path.startswith("/"):
        return None
    channel = path[1:]
    return channel if channel and "/" not in channel else None


def method_name(request: IncomingRequest) -> str:
    """The request's method as HTTP spells it, e.g. `POST`."""
    method = request.method()
    value = getattr(method, "value", None)
    return value if isinstance(value, str) else type(method).__name__.removeprefix("Method_").upper()


def respond(response_out: ResponseOutparam, status: int, body: dict, headers: list[tuple[str, bytes]]) -> None:
    """Sends `body` as JSON with `status`."""
    data = json.dumps(body).encode()
    fields = Fields.from_list([("content-type", b"application/json")] + headers)
    response = OutgoingResponse(fields)
    response.set_status_code(status)
    out = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    with out.write() as stream:
        # blocking-write-and-flush takes at most 4,096 bytes at a time.
        for start in range(0, len(data), 4096):
            stream.blocking_write_and_flush(data[start : start + 4096])
    OutgoingBody.finish(out, None)
