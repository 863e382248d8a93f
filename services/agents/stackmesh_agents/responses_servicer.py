"""The OpenAI Responses API: builds a request's turn, runs the agent loop (or queues it, in
the background), stores the result and appends it to its conversation."""

from __future__ import annotations

from typing import Any, AsyncIterator

import grpc

from stackmesh.agents.v1 import agents_service_pb2 as pb
from stackmesh.agents.v1 import agents_service_pb2_grpc as pb_grpc
from stackmesh.agents.v1 import response_pb2
from stackmesh.common.v1 import job_pb2
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument
from stackmesh_common.paging import RESPONSE_INPUT_ITEMS, RESPONSES, page_limit, sort_order
from stackmesh_common.protojson import from_json
from stackmesh_common.sse import sse_stream
from stackmesh_agents.background import BackgroundResponses
from stackmesh_agents.loop import Outcome
from stackmesh_agents.turns import UNFINISHED, TurnBuilder


class ResponsesServicer(pb_grpc.ResponsesServiceServicer):
    def __init__(self, builder: TurnBuilder, background: BackgroundResponses) -> None:
        self.builder = builder
        self.loop = builder.loop
        self.responses = builder.responses
        self.background = background

    async def _events(self, request: pb.CreateResponseRequest) -> AsyncIterator[response_pb2.ResponseStreamEvent]:
        turn = await self.builder.build(request)
        outcome = Outcome()
        async for event in self.loop.run(turn, outcome):
            if event["type"] in ("response.completed", "response.incomplete", "response.failed"):
                # Stored before the last event, so a client that reads the response at once finds it.
                await self.builder.finish(turn, outcome)
            yield from_json(event, response_pb2.ResponseStreamEvent)

    async def CreateResponse(self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext) -> response_pb2.Response:
        if request.stream:
            raise InvalidArgument("`stream` must be the JSON boolean true to stream (gRPC callers: use StreamResponse)", param="stream")
        turn = await self.builder.build(request)
        if turn.response["background"]:
            return from_json(await self.background.submit(turn, request), response_pb2.Response)
        outcome = Outcome()
        async for _ in self.loop.run(turn, outcome):
            pass
        await self.builder.finish(turn, outcome)
        if outcome.error is not None and outcome.error.http_status < 500:
            raise outcome.error  # the model refused the request (e.g. too long): the caller's to fix
        return from_json(outcome.response, response_pb2.Response)

    def StreamResponse(self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[response_pb2.ResponseStreamEvent]:
        return self._events(request)

    def StreamResponseSse(self, request: pb.CreateResponseRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        return sse_stream(self._events(request))

    async def GetResponse(self, request: pb.GetResponseRequest, context: grpc.aio.ServicerContext) -> response_pb2.Response:
        stored = await self.responses.get(request.response_id)
        return from_json(stored.response, response_pb2.Response)

    async def DeleteResponse(self, request: pb.DeleteResponseRequest, context: grpc.aio.ServicerContext) -> response_pb2.DeletedResponse:
        stored = await self.responses.get(request.response_id, action=Action.WRITE)
        if stored.response.get("background") and stored.response["status"] in UNFINISHED:
            await self.background.cancel(stored.response)
        await self.responses.delete(request.response_id)
        return response_pb2.DeletedResponse(id=request.response_id, object="response", deleted=True)

    async def ListResponses(self, request: pb.ListResponsesRequest, context: grpc.aio.ServicerContext) -> pb.ListResponsesResponse:
        page = await self.responses.list(
            after=request.after or None,
            limit=page_limit(request.limit if request.HasField("limit") else None, RESPONSES),
            model=request.model or None,
            order=sort_order(request.order),
        )
        data = [from_json({**stored.response, "input": stored.input_items}, response_pb2.Response) for stored in page.items]
        return pb.ListResponsesResponse(
            object="list", data=data, first_id=data[0].id if data else "", last_id=data[-1].id if data else "", has_more=page.has_more
        )

    async def ListResponseInputItems(
        self, request: pb.ListResponseInputItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListResponseInputItemsResponse:
        if request.after and request.before:
            raise InvalidArgument("give `after` or `before`, not both", param="before")
        stored = await self.responses.get(request.response_id)
        items = stored.input_items if sort_order(request.order) == "asc" else stored.input_items[::-1]
        ids = [item["id"] for item in items]
        for cursor, name in ((request.after, "after"), (request.before, "before")):
            if cursor and cursor not in ids:
                raise InvalidArgument(f"`{name}` names no input item of this response: {cursor!r}", param=name)
        if request.after:
            items = items[ids.index(request.after) + 1 :]
        elif request.before:
            items = items[: ids.index(request.before)]
        limit = page_limit(request.limit if request.HasField("limit") else None, RESPONSE_INPUT_ITEMS)
        page = [from_json(item, response_pb2.ResponseItem) for item in items[:limit]]
        listing = pb.ListResponseInputItemsResponse(object="list", data=page, has_more=len(items) > limit)
        if page:
            listing.first_id, listing.last_id = page[0].id, page[-1].id
        return listing

    async def CancelResponse(self, request: pb.CancelResponseRequest, context: grpc.aio.ServicerContext) -> response_pb2.Response:
        stored = await self.responses.get(request.response_id, action=Action.WRITE)
        if not stored.response.get("background"):
            raise InvalidArgument("only background responses can be cancelled; this one ran in the foreground", param="response_id")
        if stored.response["status"] not in UNFINISHED:
            return from_json(stored.response, response_pb2.Response)  # cancelling again, or too late: it stands
        return from_json(await self.background.cancel(stored.response), response_pb2.Response)

    async def WatchResponse(self, request: pb.WatchResponseRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[job_pb2.Job]:
        stored = await self.responses.get(request.response_id)
        if not stored.response.get("background"):
            raise InvalidArgument("only background responses run as jobs; this one ran in the foreground", param="response_id")
        async for record in self.background.queue.store.watch(request.response_id):
            yield record.to_proto()
