"""What a benchmark evaluates: a model of the inference service (with sampling params and a
system message), an agent of the agents service, or answers already in the dataset."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Protocol

from google.protobuf import json_format

from stackmesh.agents.v1 import agent_pb2
from stackmesh.agents.v1 import agents_service_pb2 as agents_pb
from stackmesh.common.v1 import chat_pb2
from stackmesh.eval.v1 import benchmark_pb2
from stackmesh.inference.v1 import inference_service_pb2 as inference_pb
from stackmesh_common.errors import FailedPrecondition, InvalidArgument
from stackmesh_common.peers import Peers
from stackmesh_common.protojson import plain

ROLES = ("system", "user", "assistant", "tool")


class Candidate(Protocol):
    async def check(self) -> None:
        """Refuses a candidate that cannot run (unknown model, bad sampling params)."""

    async def generate(self, row: dict[str, Any], index: int, where: str) -> str:
        """The candidate's answer to one row."""

    async def close(self) -> None:
        """Releases what the candidate created (an agent)."""


def row_messages(row: dict[str, Any], index: int, where: str) -> list[dict[str, Any]]:
    """The conversation a row asks the candidate to continue, from the columns Llama Stack
    datasets use (`messages`, `chat_completion_input`) or a single question."""
    if isinstance(row.get("messages"), list):
        messages = row["messages"]
    elif "chat_completion_input" in row:
        messages = row["chat_completion_input"]
        if isinstance(messages, str):
            try:
                messages = json.loads(messages)
            except json.JSONDecodeError as exc:
                raise InvalidArgument(f"row {index}, column `chat_completion_input`: not JSON ({exc})", param=f"{where}[{index}].chat_completion_input") from None
    else:
        question = row.get("question", row.get("input_query"))
        if not isinstance(question, str) or not question:
            raise InvalidArgument(
                f"row {index} has no input for the candidate: give `messages`, `chat_completion_input`, `question` or `input_query`",
                param=f"{where}[{index}]",
            )
        return [{"role": "user", "content": question}]
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and m.get("role") in ROLES for m in messages):
        raise InvalidArgument(
            f"row {index}: the conversation must be a non-empty list of messages with roles {', '.join(ROLES)}",
            param=f"{where}[{index}].messages",
        )
    return messages


def _chat_message(message: dict[str, Any]) -> chat_pb2.ChatMessage:
    return json_format.ParseDict({"role": message["role"], "content": message.get("content", "")}, chat_pb2.ChatMessage(), ignore_unknown_fields=True)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(_text(part) for part in content)
    return ""


class ModelCandidate:
    def __init__(self, peers: Peers, candidate: benchmark_pb2.EvalCandidate, timeout_s: float) -> None:
        self.peers = peers
        self.candidate = candidate
        self.timeout_s = timeout_s
        self.system = plain(candidate.system_message) if candidate.HasField("system_message") else None

    async def check(self) -> None:
        model = self.candidate.model if self.candidate.HasField("model") else ""
        if not model:
            raise InvalidArgument("`benchmark_config.eval_candidate.model` is required for a model candidate", param="benchmark_config.eval_candidate.model")
        await self.peers.inference.require_model(model, timeout_s=self.timeout_s, param="benchmark_config.eval_candidate.model")
        self._request([])  # sampling params are checked once, not on every row

    def _request(self, messages: list[dict[str, Any]]) -> inference_pb.CreateChatCompletionRequest:
        request = inference_pb.CreateChatCompletionRequest(model=self.candidate.model, messages=[_chat_message(m) for m in messages], store=False)
        sampling = self.candidate.sampling_params
        param = "benchmark_config.eval_candidate.sampling_params"
        strategy = sampling.strategy.type or "greedy"
        if strategy == "greedy":
            request.temperature = 0.0
        elif strategy == "top_p":
            if not sampling.strategy.HasField("temperature"):
                raise InvalidArgument("`strategy.temperature` is required for top_p sampling", param=f"{param}.strategy.temperature")
            request.temperature = sampling.strategy.temperature
            request.top_p = sampling.strategy.top_p if sampling.strategy.HasField("top_p") else 0.95
        elif strategy == "top_k":
            if sampling.strategy.top_k < 1:
                raise InvalidArgument("`strategy.top_k` must be at least 1 for top_k sampling", param=f"{param}.strategy.top_k")
            request.top_k = sampling.strategy.top_k
        else:
            raise InvalidArgument(f"`strategy.type` must be greedy, top_p or top_k, got {strategy!r}", param=f"{param}.strategy.type")
        if sampling.HasField("max_tokens"):
            if sampling.max_tokens < 1:
                raise InvalidArgument(f"`max_tokens` must be at least 1, got {sampling.max_tokens}", param=f"{param}.max_tokens")
            request.max_tokens = sampling.max_tokens
        if sampling.HasField("repetition_penalty"):
            request.repetition_penalty = sampling.repetition_penalty
        if sampling.stop:
            if len(sampling.stop) > 4:
                raise InvalidArgument("`stop` takes up to 4 sequences", param=f"{param}.stop")
            request.stop.list_value.extend(sampling.stop)
        return request

    async def generate(self, row: dict[str, Any], index: int, where: str) -> str:
        messages = row_messages(row, index, where)
        if self.system is not None:
            messages = [{"role": "system", "content": _text(self.system.get("content"))}, *messages]
        completion = await self.peers.inference.chat_completion(self._request(messages), timeout_s=self.timeout_s)
        return completion.choices[0].message.content if completion.choices else ""

    async def close(self) -> None:
        return None


class AgentCandidate:
    """One agent for the whole evaluation (created on first use), a session per row."""

    def __init__(self, peers: Peers, candidate: benchmark_pb2.EvalCandidate, timeout_s: float) -> None:
        self.peers = peers
        self.candidate = candidate
        self.timeout_s = timeout_s
        self._agent_id: str | None = None
        self._lock = asyncio.Lock()

    def _config(self) -> agent_pb2.AgentConfig:
        param = "benchmark_config.eval_candidate.config"
        if not self.candidate.HasField("config"):
            raise InvalidArgument("`benchmark_config.eval_candidate.config` (an AgentConfig) is required for an agent candidate", param=param)
        try:
            return json_format.ParseDict(plain(self.candidate.config), agent_pb2.AgentConfig(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise InvalidArgument(f"`{param}` is not a valid AgentConfig: {exc}", param=param) from None

    async def check(self) -> None:
        if not self.peers.has("agents"):
            raise FailedPrecondition("agent candidates need the agents service, which this distribution lacks", param="benchmark_config.eval_candidate.type")
        config = self._config()
        if not config.model:
            raise InvalidArgument("the agent config needs a `model`", param="benchmark_config.eval_candidate.config.model")
        await self.peers.inference.require_model(config.model, timeout_s=self.timeout_s, param="benchmark_config.eval_candidate.config.model")

    async def _agent(self) -> str:
        async with self._lock:
            if self._agent_id is None:
                self._agent_id = await self.peers.agents.create_agent(
                    self._config(), timeout_s=self.timeout_s, refused_as=InvalidArgument, param="benchmark_config.eval_candidate.config"
                )
            return self._agent_id

    async def generate(self, row: dict[str, Any], index: int, where: str) -> str:
        messages = [m for m in row_messages(row, index, where) if m["role"] in ("user", "tool")]
        agent_id = await self._agent()
        session_id = await self.peers.agents.create_session(agent_id, f"eval-row-{index}-{uuid.uuid4().hex[:8]}", timeout_s=self.timeout_s)
        request = agents_pb.CreateTurnRequest(agent_id=agent_id, session_id=session_id)
        for message in messages:
            request.messages.append(json_format.ParseDict({"role": message["role"], "content": message.get("content", "")}, agent_pb2.InputMessage()))
        turn = await self.peers.agents.create_turn(request, timeout_s=self.timeout_s)
        return _text(plain(turn.output_message).get("content"))

    async def close(self) -> None:
        if self._agent_id is not None:
            await self.peers.agents.delete_agent(self._agent_id, timeout_s=self.timeout_s)


class DatasetCandidate:
    """Answers produced elsewhere, in the rows' `generated_answer` column: the job only scores."""

    async def check(self) -> None:
        return None

    async def generate(self, row: dict[str, Any], index: int, where: str) -> str:
        answer = row.get("generated_answer")
        if not isinstance(answer, str):
            raise InvalidArgument(
                f"row {index}, column `generated_answer`: a dataset candidate scores this column, which must be a string",
                param=f"{where}[{index}].generated_answer",
            )
        return answer

    async def close(self) -> None:
        return None


def candidate_for(peers: Peers, candidate: benchmark_pb2.EvalCandidate, timeout_s: float) -> Candidate:
    if candidate.type == "model":
        return ModelCandidate(peers, candidate, timeout_s)
    if candidate.type == "agent":
        return AgentCandidate(peers, candidate, timeout_s)
    if candidate.type == "dataset":
        return DatasetCandidate()
    raise InvalidArgument(
        f"`benchmark_config.eval_candidate.type` must be 'model', 'agent' or 'dataset', got {candidate.type!r}",
        param="benchmark_config.eval_candidate.type",
    )
