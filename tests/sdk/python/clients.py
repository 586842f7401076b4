"""Official PubNub Python SDK clients pointed at a node, and waiting for what
their listeners receive.

Every wait is bounded by WAIT seconds, a bound for failures only: a passing
test never waits that long.
"""

import queue
import time

from pubnub.callbacks import SubscribeCallback
from pubnub.enums import PNStatusCategory
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import PubNub

WAIT = 10
PUBLISH_KEY = "demo"
SUBSCRIBE_KEY = "demo"


def make_client(node, user_id, secret_key=None, **settings):
    """A PubNub client for `node`, as an app would configure it with only
    the origin changed; `settings` sets more of its configuration
    (`cipher_key="..."`)."""
    config = PNConfiguration()
    config.publish_key = PUBLISH_KEY
    config.subscribe_key = SUBSCRIBE_KEY
    config.user_id = user_id
    config.origin = node.origin
    config.ssl = False
    config.secret_key = secret_key
    config.daemon = True  # a stuck long-poll thread must not keep pytest alive
    config.disable_config_locking = False  # the SDK's future default; silences its warning
    for name, value in settings.items():
        setattr(config, name, value)
    return PubNub(config)


def close_client(client):
    client.unsubscribe_all()
    client.stop()


class Listener(SubscribeCallback):
    """Collects what a client's subscription delivers, by kind."""

    def __init__(self):
        kinds = ("status", "message", "signal", "presence", "message_action", "uuid", "channel",
                 "membership", "file")
        self.events = {kind: queue.Queue() for kind in kinds}

    def status(self, pubnub, status):
        self.events["status"].put(status)

    def message(self, pubnub, message):
        self.events["message"].put(message)

    def signal(self, pubnub, signal):
        self.events["signal"].put(signal)

    def presence(self, pubnub, presence):
        self.events["presence"].put(presence)

    def message_action(self, pubnub, message_action):
        self.events["message_action"].put(message_action)

    def uuid(self, pubnub, uuid):
        self.events["uuid"].put(uuid)

    def channel(self, pubnub, channel):
        self.events["channel"].put(channel)

    def membership(self, pubnub, membership):
        self.events["membership"].put(membership)

    def file(self, pubnub, file_message):
        self.events["file"].put(file_message)

    def next(self, kind, where=lambda _: True):
        """The next `kind` event satisfying `where` (earlier ones that do
        not are dropped); fails after WAIT seconds."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                event = self.events[kind].get(timeout=max(0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind} event within {WAIT} s") from None
            if where(event):
                return event


def subscribe(client, channels, with_presence=False, groups=()):
    """Subscribes `client` to `channels` and channel `groups`; returns its
    Listener once the subscription is live (the SDK announced it
    connected)."""
    listener = Listener()
    client.add_listener(listener)
    builder = client.subscribe().channels(channels)
    if groups:
        builder = builder.channel_groups(list(groups))
    if with_presence:
        builder = builder.with_presence()
    builder.execute()
    status = listener.next("status")
    assert status.category == PNStatusCategory.PNConnectedCategory, \
        f"subscribe failed: {status.category} {status.error_data and status.error_data.information}"
    return listener


def wait_until(condition, what):
    """Polls `condition` until it is true; fails after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT} s")
        time.sleep(0.02)
