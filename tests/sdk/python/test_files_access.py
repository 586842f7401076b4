"""Files on a node with access control on: sending (upload URL and file
message) needs `write` on the channel, listing and downloading `read`,
deleting `delete`; without them the SDK's calls get 403."""

import pytest
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.v3.channel import Channel

SECRET_KEY = "sdk-test-secret"  # the node's (see conftest)


@pytest.fixture
def server(clients):
    """The app's server: a client holding the secret key."""
    return clients("server", secret_key=SECRET_KEY)


def with_token(clients, server, channel, **rights):
    """A client for alice holding a token with `rights` on `channel`."""
    resource = Channel.id(channel)
    for right in rights:
        resource = getattr(resource, right)()
    token = (server.grant_token().channels([resource]).authorized_uuid("alice").ttl(15)
             .sync().result.token)
    alice = clients("alice")
    alice.set_token(token)
    return alice


def refused(call):
    with pytest.raises(PubNubException) as error:
        call()
    assert error.value.get_status_code() == 403, error.value


def send(client, channel, name):
    return (client.send_file().channel(channel).file_name(name).file_object(b"data")
            .sync().result)


def test_each_call_needs_its_right(clients, server, unique):
    channel = f"room-{unique}"
    sent = send(server, channel, "a.txt")
    reader = with_token(clients, server, channel, read=True)
    writer = with_token(clients, server, channel, write=True)
    deleter = with_token(clients, server, channel, delete=True)

    refused(lambda: send(reader, channel, "b.txt"))
    refused(lambda: writer.list_files().channel(channel).sync())
    refused(lambda: writer.download_file().channel(channel).file_id(sent.file_id)
            .file_name(sent.name).sync())
    refused(lambda: reader.delete_file().channel(channel).file_id(sent.file_id)
            .file_name(sent.name).sync())

    assert send(writer, channel, "b.txt").name == "b.txt"
    assert [f["name"] for f in reader.list_files().channel(channel).sync().result.data] == [
        "a.txt", "b.txt",
    ]
    assert reader.download_file().channel(channel).file_id(sent.file_id) \
        .file_name(sent.name).sync().result.data == b"data"
    deleter.delete_file().channel(channel).file_id(sent.file_id).file_name(sent.name).sync()
    assert len(reader.list_files().channel(channel).sync().result.data) == 1


def test_nothing_without_a_token(clients, server, unique):
    channel = f"room-{unique}"
    sent = send(server, channel, "a.txt")
    anyone = clients("mallory")

    refused(lambda: send(anyone, channel, "b.txt"))
    refused(lambda: anyone.list_files().channel(channel).sync())
    refused(lambda: anyone.delete_file().channel(channel).file_id(sent.file_id)
            .file_name(sent.name).sync())
