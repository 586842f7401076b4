"""A running `edgefn serve` for the SDK tests, and the plain-HTTP calls that
set it up or look at it from outside the SDK (the admin API, the native
`/v1/` API, function endpoints).

The node listens on a free port of 127.0.0.1, keeps its state in a temporary
directory, and writes its log to `node.log` there. The binary is
`$EDGEFN_BIN` (default target/release/edgefn) and the guests are in
`$EDGEFN_GUESTS` (default target/guests).
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("EDGEFN_BIN", ROOT / "target/release/edgefn"))
GUESTS = Path(os.environ.get("EDGEFN_GUESTS", ROOT / "target/guests"))

START_TIMEOUT = 60
HTTP_TIMEOUT = 10
LISTENING = re.compile(r"edgefn listening on http://(\S+)")


class Node:
    """`edgefn serve --listen 127.0.0.1:0`, started by `start()`."""

    def __init__(self, secret_key=None):
        self.secret_key = secret_key
        self.admin_key = secrets.token_hex(16)
        self.dir = Path(tempfile.mkdtemp(prefix="edgefn-sdk-"))
        self.address = None
        self.process = None

    @property
    def origin(self):
        """`host:port`, what the SDKs take as `origin`."""
        return self.address

    @property
    def url(self):
        return f"http://{self.address}"

    def start(self):
        args = [str(BIN), "serve", "--listen", "127.0.0.1:0",
                "--data-dir", str(self.dir / "data"), "--admin-key", self.admin_key]
        if self.secret_key:
            args += ["--secret-key", self.secret_key]
        log = open(self.dir / "node.log", "wb")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
        log.close()
        listening = threading.Event()

        def read_stdout():
            for line in self.process.stdout:
                found = LISTENING.search(line.decode(errors="replace"))
                if found:
                    self.address = found.group(1)
                    listening.set()
            listening.set()  # exited: stop waiting

        threading.Thread(target=read_stdout, daemon=True).start()
        if not listening.wait(START_TIMEOUT) or self.address is None:
            self.stop()
            raise RuntimeError(f"edgefn did not start; its log: {self.dir / 'node.log'}")
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- plain HTTP -----------------------------------------------------------

    def request(self, method, path, body=None, headers=None):
        """(status, parsed JSON body or text) of a request to the node."""
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read())

    def deploy(self, name, guest, **spec):
        """Deploys target/guests/GUEST.wasm as `name` through the admin API;
        `spec` is the rest of the deployment (`before_publish=["chat.*"]`...)."""
        boundary = secrets.token_hex(8)
        component = (GUESTS / f"{guest}.wasm").read_bytes()
        parts = [
            ("spec", "application/json", json.dumps({"name": name, **spec}).encode()),
            ("component", "application/wasm", component),
        ]
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{part}"; filename="{part}"\r\n'
            f"Content-Type: {kind}\r\n\r\n".encode() + data + b"\r\n"
            for part, kind, data in parts
        ) + f"--{boundary}--\r\n".encode()
        status, answer = self.request("PUT", f"/v1/admin/functions/{name}", body, {
            "Authorization": f"Bearer {self.admin_key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        })
        assert status == 200, f"deploying {name}: {status} {answer}"

    def native_publish(self, channel, message, publisher):
        """`POST /v1/publish/{channel}`: the native API."""
        query = urllib.parse.urlencode({"uuid": publisher})
        status, answer = self.request(
            "POST", f"/v1/publish/{urllib.parse.quote(channel)}?{query}",
            json.dumps(message).encode(), {"Content-Type": "application/json"})
        assert status == 200, f"native publish: {status} {answer}"
        return answer["timetoken"]

    @contextmanager
    def native_stream(self, channel):
        """`GET /v1/subscribe/{channel}` (Server-Sent Events), live once this
        yields: it waits for the stream's `ready` event."""
        url = f"{self.url}/v1/subscribe/{urllib.parse.quote(channel)}"
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            stream = EventStream(response)
            kind, _ = stream.next_event()
            assert kind == "ready", f"expected the `ready` event first, got {kind}"
            yield stream

    def endpoint(self, function, path):
        """`GET /v1/fn/{function}{path}`: an endpoint function's answer."""
        status, answer = self.request("GET", f"/v1/fn/{function}{path}")
        assert status == 200, f"/v1/fn/{function}{path}: {status} {answer}"
        return answer


class EventStream:
    """Events of a Server-Sent Events response, one at a time."""

    def __init__(self, response):
        self.response = response

    def next_event(self):
        """(event name, parsed data) of the next event; the read times out
        after HTTP_TIMEOUT seconds."""
        kind, data = "message", []
        for raw in self.response:
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    return kind, json.loads("\n".join(data))
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data.append(value)
        raise EOFError("the event stream ended")


def _decode(body):
    text = body.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
