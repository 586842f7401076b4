"""Files through the SDK's own calls: send_file (upload URL, the form upload
to the node, the file message), list_files, get_file_url, download_file,
delete_file, the file event a subscriber's listener receives, history's
file messages, encrypted files, and the size limit."""

import urllib.error
import urllib.request

import pytest
from pubnub.exceptions import PubNubException

from clients import subscribe

MAX_FILE_BYTES = 5 * 1024 * 1024  # the node's default [files] max_file_bytes


def send(client, channel, name, data, message=None, store=True):
    """Sends a file with the SDK; returns (id, name, timetoken)."""
    result = (client.send_file().channel(channel).file_name(name).file_object(data)
              .message(message).should_store(store).sync().result)
    return result.file_id, result.name, result.timestamp


def download(client, channel, file_id, name):
    return (client.download_file().channel(channel).file_id(file_id).file_name(name)
            .sync().result.data)


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_send_list_download_and_delete(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"room-{unique}"
    first = send(alice, channel, "cat.jpg", b"\x89PNG not really", {"text": "my cat"})
    second = send(alice, channel, "notes.txt", b"hello")

    listed = bob.list_files().channel(channel).sync().result
    assert listed.count == 2
    assert [(f["id"], f["name"], f["size"]) for f in listed.data] == [
        (first[0], "cat.jpg", 15), (second[0], "notes.txt", 5),
    ]
    assert download(bob, channel, first[0], "cat.jpg") == b"\x89PNG not really"

    bob.delete_file().channel(channel).file_id(first[0]).file_name("cat.jpg").sync()

    listed = bob.list_files().channel(channel).sync().result
    assert [f["id"] for f in listed.data] == [second[0]]
    with pytest.raises(PubNubException) as error:
        download(bob, channel, first[0], "cat.jpg")
    assert error.value.get_status_code() == 404, error.value


def test_list_pages_with_limit_and_next(clients, unique):
    alice = clients("alice")
    channel = f"room-{unique}"
    ids = [send(alice, channel, f"f{n}.txt", b"x", store=False)[0] for n in range(3)]

    page = alice.list_files(channel, limit=2).sync().result
    rest = alice.list_files(channel, limit=2, next=page.next).sync().result

    assert [f["id"] for f in page.data] == ids[:2]
    assert [f["id"] for f in rest.data] == ids[2:]
    assert rest.next is None


def test_get_file_url_points_at_the_node(node, clients, unique):
    alice = clients("alice")
    channel = f"room-{unique}"
    file_id, name, _ = send(alice, channel, "a b.txt", b"spaced name")

    url = (alice.get_file_url().channel(channel).file_id(file_id).file_name(name)
           .sync().result.file_url)

    assert url.startswith(node.url + "/"), url
    assert fetch(url) == b"spaced name"
    # The link is signed: another file's name under it is refused.
    with pytest.raises(urllib.error.HTTPError) as error:
        fetch(url.replace("a%20b.txt", "other.txt"))
    assert error.value.code == 403


def test_subscriber_receives_the_file_event(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"room-{unique}"
    inbox = subscribe(bob, [channel])

    file_id, _, timetoken = send(alice, channel, "photo.png", b"pixels", {"caption": "look"})

    event = inbox.next("file")
    assert (event.channel, event.publisher, event.timetoken) == (channel, "alice", int(timetoken))
    assert (event.file_id, event.file_name, event.message) == (file_id, "photo.png", {"caption": "look"})
    assert fetch(event.file_url) == b"pixels"


def test_history_keeps_file_messages_with_their_type(clients, unique):
    alice = clients("alice")
    channel = f"room-{unique}"
    alice.publish().channel(channel).message("plain").sync()
    file_id, _, _ = send(alice, channel, "doc.pdf", b"%PDF", {"text": "the doc"})
    send(alice, channel, "unstored.bin", b"-", store=False)

    history = (alice.fetch_messages().channels([channel]).include_message_type(True)
               .sync().result.channels[channel])

    assert [(m.message, m.message_type) for m in history] == [
        ("plain", None),
        ({"message": {"text": "the doc"}, "file": {"id": file_id, "name": "doc.pdf"}}, 4),
    ]


def test_encrypted_files_round_trip(clients, unique):
    alice = clients("alice", cipher_key="file-secret")
    bob = clients("bob", cipher_key="file-secret")
    channel = f"room-{unique}"
    inbox = subscribe(bob, [channel])
    secret = b"for your eyes only " * 100

    file_id, name, _ = send(alice, channel, "secret.txt", secret, {"text": "encrypted"})

    event = inbox.next("file")
    assert (event.file_id, event.message) == (file_id, {"text": "encrypted"})
    assert download(bob, channel, file_id, name) == secret
    # The node only ever held the ciphertext.
    stored = fetch(bob.get_file_url().channel(channel).file_id(file_id).file_name(name)
                   .sync().result.file_url)
    assert stored != secret and b"eyes" not in stored


def test_a_file_past_the_limit_is_refused(clients, unique):
    alice = clients("alice")
    channel = f"room-{unique}"

    with pytest.raises(PubNubException) as error:
        send(alice, channel, "big.bin", b"\0" * (MAX_FILE_BYTES + 1))

    assert error.value.get_status_code() == 413, error.value
    assert "max_file_bytes" in str(error.value)
    assert alice.list_files().channel(channel).sync().result.data == []
    # At the limit it is taken.
    send(alice, channel, "edge.bin", b"\0" * MAX_FILE_BYTES)
