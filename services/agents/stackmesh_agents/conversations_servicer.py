"""gRPC servicer of the OpenAI Conversations API: conversations and their items."""

from __future__ import annotations

from typing import Any, Iterable

from google.protobuf import struct_pb2

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from stackmesh.agents.v1 import conversation_pb2 as conv_pb
from stackmesh.agents.v1 import response_pb2 as resp_pb
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.metadata import check_metadata
from stackmesh_common.paging import CONVERSATION_ITEMS, page_limit, sort_order
from stackmesh_common.protojson import from_json, plain
from stackmesh_agents.items import Item, new_id, normalize_item
from stackmesh_agents.store import ConversationStore, StoredConversation

# OpenAI's limit on one request's items.
MAX_ITEMS = 20


def _response_item(item: Item) -> resp_pb.ResponseItem:
    return from_json(item, resp_pb.ResponseItem)


def _items(raw: Iterable[struct_pb2.Struct]) -> list[Item]:
    structs = list(raw)
    if len(structs) > MAX_ITEMS:
        raise InvalidArgument(f"`items` may hold at most {MAX_ITEMS} items, got {len(structs)}", param="items")
    return [normalize_item(plain(struct), f"items[{index}]") for index, struct in enumerate(structs)]


def _conversation(stored: StoredConversation) -> conv_pb.Conversation:
    return conv_pb.Conversation(id=stored.id, object="conversation", created_at=stored.created_at, metadata=stored.metadata)


def _item_list(items: list[Item], has_more: bool) -> conv_pb.ConversationItemList:
    return conv_pb.ConversationItemList(
        object="list",
        data=[_response_item(item) for item in items],
        first_id=items[0]["id"] if items else None,
        last_id=items[-1]["id"] if items else None,
        has_more=has_more,
    )


class ConversationsServicer(pb_grpc.ConversationsServiceServicer):
    def __init__(self, conversations: ConversationStore) -> None:
        self.conversations = conversations

    # Conversations.

    async def CreateConversation(self, request: pb.CreateConversationRequest, context: Any) -> conv_pb.Conversation:
        metadata = check_metadata(request.metadata)
        items = _items(request.items)
        return _conversation(await self.conversations.create(new_id("conv"), metadata, items))

    async def GetConversation(self, request: pb.GetConversationRequest, context: Any) -> conv_pb.Conversation:
        return _conversation(await self.conversations.get(request.conversation_id))

    async def UpdateConversation(self, request: pb.UpdateConversationRequest, context: Any) -> conv_pb.Conversation:
        return _conversation(await self.conversations.update(request.conversation_id, check_metadata(request.metadata)))

    async def DeleteConversation(self, request: pb.DeleteConversationRequest, context: Any) -> conv_pb.DeletedConversation:
        await self.conversations.delete(request.conversation_id)
        return conv_pb.DeletedConversation(id=request.conversation_id, object="conversation.deleted", deleted=True)

    # Items. `include` only adds output a stored item does not keep, so it is accepted and ignored.

    async def ListConversationItems(self, request: pb.ListConversationItemsRequest, context: Any) -> conv_pb.ConversationItemList:
        page = await self.conversations.page(
            request.conversation_id,
            after=request.after or None,
            limit=page_limit(request.limit if request.HasField("limit") else None, CONVERSATION_ITEMS),
            order=sort_order(request.order),
        )
        return _item_list(page.items, page.has_more)

    async def CreateConversationItems(
        self, request: pb.CreateConversationItemsRequest, context: Any
    ) -> conv_pb.ConversationItemList:
        if not request.items:
            raise InvalidArgument(f"`items` is required: 1 to {MAX_ITEMS} items", param="items")
        items = _items(request.items)
        await self.conversations.append(request.conversation_id, items)
        return _item_list(items, has_more=False)

    async def GetConversationItem(self, request: pb.GetConversationItemRequest, context: Any) -> resp_pb.ResponseItem:
        return _response_item(await self.conversations.item(request.conversation_id, request.item_id))

    async def DeleteConversationItem(
        self, request: pb.DeleteConversationItemRequest, context: Any
    ) -> conv_pb.DeletedConversationItem:
        await self.conversations.delete_item(request.conversation_id, request.item_id)
        return conv_pb.DeletedConversationItem(id=request.item_id, object="conversation.item.deleted", deleted=True)
