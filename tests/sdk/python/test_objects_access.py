"""App Context under Access Manager (node with --secret-key): a token's
`uuids` grants (get, update, delete, by name and by pattern), channel
grants (get, update, delete, join, manage) and categories (get on every
channel or uuid) decide what a client may read and change, metadata and
memberships, through the SDK's own grant and objects calls."""

import pytest
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.objects_v2.channel_members import PNUserMember
from pubnub.models.consumer.objects_v2.memberships import PNChannelMembership
from pubnub.models.consumer.v3.category import Category
from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.uuid import UUID

SECRET_KEY = "sdk-objects-secret"  # the node's (see conftest)


def refused(call):
    with pytest.raises(PubNubException) as error:
        call()
    assert error.value.get_status_code() == 403, error.value


def test_metadata_needs_the_token_s_uuid_and_channel_permissions(clients, unique):
    server = clients("server", secret_key=SECRET_KEY)
    me, other, room = f"me-{unique}", f"other-{unique}", f"room-{unique}"
    token = (server.grant_token()
             .uuids([UUID.id(me).get().update().delete(), UUID.pattern(f"friend-{unique}-.*").get()])
             .channels([Channel.id(room).get().update()])
             .authorized_uuid(me)
             .ttl(15)
             .sync().result.token)
    client = clients(me)
    client.set_token(token)
    # The server (secret key) may do anything.
    server.set_uuid_metadata(uuid=other, name="Other").sync()
    server.set_uuid_metadata(uuid=f"friend-{unique}-1", name="Friend").sync()

    client.set_uuid_metadata(uuid=me, name="Me").sync()
    assert client.get_uuid_metadata(uuid=me).sync().result.data["name"] == "Me"
    assert client.get_uuid_metadata(uuid=f"friend-{unique}-1").sync().result.data["name"] == "Friend"
    refused(lambda: client.get_uuid_metadata(uuid=other).sync())
    refused(lambda: client.set_uuid_metadata(uuid=other, name="Mine now").sync())
    refused(lambda: client.set_uuid_metadata(uuid=f"friend-{unique}-1", name="x").sync())

    client.set_channel_metadata(channel=room, name="Room").sync()
    assert client.get_channel_metadata(channel=room).sync().result.data["name"] == "Room"
    refused(lambda: client.remove_channel_metadata(channel=room).sync())

    # A listing shows only what the token may get.
    listed = client.get_all_uuid_metadata(sort_keys=[]).sync().result.data
    assert sorted(u["id"] for u in listed) == [f"friend-{unique}-1", me]

    client.remove_uuid_metadata(uuid=me).sync()
    refused(lambda: client.remove_uuid_metadata(uuid=f"friend-{unique}-1").sync())


def test_memberships_need_pubnub_s_permissions(clients, unique):
    # Memberships: get / update on the uuid, and join on each channel set
    # or removed; members: get / manage on the channel.
    server = clients("server", secret_key=SECRET_KEY)
    me, room, other_room = f"me-{unique}", f"room-{unique}", f"other-{unique}"
    token = (server.grant_token()
             .uuids([UUID.id(me).get().update()])
             .channels([Channel.id(room).join().get(), Channel.id(other_room).get().update()])
             .authorized_uuid(me)
             .ttl(15)
             .sync().result.token)
    client = clients(me)
    client.set_token(token)

    joined = client.set_memberships(
        uuid=me, channel_memberships=[PNChannelMembership.channel(room)]).sync().result.data
    assert [m["channel"]["id"] for m in joined] == [room]
    refused(lambda: client.set_memberships(
        uuid=me, channel_memberships=[PNChannelMembership.channel(other_room)]).sync())
    refused(lambda: client.set_memberships(
        uuid=f"else-{unique}", channel_memberships=[PNChannelMembership.channel(room)]).sync())
    assert [m["uuid"]["id"] for m in client.get_channel_members(channel=room).sync().result.data] == [me]
    refused(lambda: client.set_channel_members(channel=room, uuids=[PNUserMember(me)]).sync())
    refused(lambda: client.get_channel_members(channel=f"third-{unique}").sync())
    client.remove_memberships(uuid=me, channel_memberships=[PNChannelMembership.channel(room)]).sync()
    assert client.get_memberships(uuid=me).sync().result.data == []


def test_categories_grant_get_on_every_channel_and_uuid(clients, unique):
    # The Python SDK's token `categories` (sent as permissions.categories,
    # read back from the token's `cat`): `get` on the whole uuids category
    # lets the client read and list every uuid's metadata, not change it;
    # channels stay as the token's channel grants say.
    server = clients("server", secret_key=SECRET_KEY)
    me, anyone, room = f"me-{unique}", f"anyone-{unique}", f"room-{unique}"
    token = (server.grant_token()
             .categories([Category.uuids().get()])
             .authorized_uuid(me)
             .ttl(15)
             .sync().result.token)
    assert server.parse_token(token)["categories"] == {"uuids": {"get": True}}
    server.set_uuid_metadata(uuid=anyone, name="Anyone").sync()
    server.set_channel_metadata(channel=room, name="Room").sync()
    client = clients(me)
    client.set_token(token)

    assert client.get_uuid_metadata(uuid=anyone).sync().result.data["name"] == "Anyone"
    listed = client.get_all_uuid_metadata(filter=f"id LIKE '*{unique}'").sync().result.data
    assert [u["id"] for u in listed] == [anyone]
    refused(lambda: client.set_uuid_metadata(uuid=anyone, name="Mine now").sync())
    refused(lambda: client.get_channel_metadata(channel=room).sync())
    assert client.get_all_channel_metadata(filter=f"id LIKE '*{unique}'").sync().result.data == []

    # The channels category, with a named uuid beside it.
    token = (server.grant_token()
             .categories([Category.channels().get()])
             .uuids([UUID.id(me).get()])
             .ttl(15)
             .sync().result.token)
    parsed = server.parse_token(token)
    assert parsed["categories"] == {"channels": {"get": True}}
    assert list(parsed["resources"]["uuids"]) == [me]
    client.set_token(token)
    assert client.get_channel_metadata(channel=room).sync().result.data["name"] == "Room"
    listed = client.get_all_channel_metadata(filter=f"id LIKE '*{unique}'").sync().result.data
    assert [c["id"] for c in listed] == [room]
    refused(lambda: client.get_uuid_metadata(uuid=anyone).sync())


def test_a_token_without_categories_has_none(clients, unique):
    server = clients("server", secret_key=SECRET_KEY)
    token = server.grant_token().uuids([UUID.id(f"me-{unique}").get()]).ttl(15).sync().result.token
    assert "categories" not in server.parse_token(token)
