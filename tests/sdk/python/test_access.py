"""Access Manager v3 on a node started with --secret-key: tokens granted by a
client holding the secret key, used and revoked by the SDK's own calls."""

import pytest
from pubnub.enums import PNStatusCategory
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.v3.channel import Channel

from clients import Listener, subscribe

SECRET_KEY = "sdk-test-secret"  # the node's (see conftest)
NO_RIGHTS = dict(manage=False, delete=False, get=False, update=False, join=False)


@pytest.fixture
def server(clients):
    """The app's server: a client holding the secret key."""
    return clients("server", secret_key=SECRET_KEY)


def grant(server, channel, user_id="alice"):
    """A token for `user_id`: read and write on `channel`, read on `{channel}.*`."""
    return (server.grant_token()
            .channels([Channel.id(channel).read().write(), Channel.pattern(f"{channel}.*").read()])
            .authorized_uuid(user_id)
            .ttl(15)
            .sync().result.token)


def refused(call):
    """The 403 the node answered `call` with."""
    with pytest.raises(PubNubException) as error:
        call()
    assert error.value.get_status_code() == 403, error.value
    return error.value


# Token lengths differ by channel name: the three names give tokens of each
# length modulo 3 bytes, i.e. of each base64 padding. (parse_token decodes
# with base64.b64decode, which wants the text padded to 4 characters.)
@pytest.mark.parametrize("suffix", ["", "x", "xy"])
def test_grant_token_then_parse_token(server, unique, suffix):
    channel = f"room-{unique}{suffix}"

    parsed = server.parse_token(grant(server, channel))

    assert (parsed["version"], parsed["ttl"], parsed["authorized_uuid"]) == (2, 15, "alice")
    assert parsed["resources"] == {
        "channels": {channel: dict(read=True, write=True, **NO_RIGHTS)}, "groups": {}, "uuids": {},
    }
    assert parsed["patterns"] == {
        "channels": {f"{channel}.*": dict(read=True, write=False, **NO_RIGHTS)}, "groups": {}, "uuids": {},
    }


def test_publish_refused_without_token_allowed_with_it(server, clients, unique):
    channel = f"room-{unique}"
    alice = clients("alice")
    publish = alice.publish().channel(channel).message("hello")

    refused(publish.sync)
    alice.set_token(grant(server, channel))

    publish.sync()


def test_secret_key_publishes_by_get_and_by_post(server, clients, unique):
    # The SDK signs GET publishes with v2 and POST ones with v1, as PubNub
    # takes them; the node must take both.
    channel = f"room-{unique}"
    reader = clients("reader")
    reader.set_token(grant(server, channel, "reader"))
    inbox = subscribe(reader, [channel])

    server.publish().channel(channel).message("by get").sync()
    server.publish().channel(channel).message({"by": "post"}).use_post(True).sync()

    assert inbox.next("message").message == "by get"
    assert inbox.next("message").message == {"by": "post"}


def test_subscribe_refused_without_token_allowed_with_it(server, clients, unique):
    channel = f"room-{unique}"
    without, alice = clients("alice"), clients("alice")
    listener = Listener()
    without.add_listener(listener)

    without.subscribe().channels([channel]).execute()

    assert listener.next("status").category == PNStatusCategory.PNAccessDeniedCategory
    alice.set_token(grant(server, channel))
    inbox = subscribe(alice, [channel])
    server.publish().channel(channel).message("hello").sync()
    assert inbox.next("message").message == "hello"


def test_revoked_token_is_refused(server, clients, unique):
    channel = f"room-{unique}"
    token = grant(server, channel)
    alice = clients("alice")
    alice.set_token(token)
    publish = alice.publish().channel(channel).message("hello")
    publish.sync()

    server.revoke_token(token).sync()

    assert "revoked" in str(refused(publish.sync))
