"""Calls from one service to another: one channel factory, one interceptor, one error mapping,
and a typed client per peer API.

Services never import each other's code; they reach a peer through `Peers`, whose channels
carry the served call's request id, principal and (shortened) deadline on every call.
"""

from stackmesh_common.peers.agents import AgentsClient
from stackmesh_common.peers.channel import Peers, peer_channel
from stackmesh_common.peers.errors import peer_error
from stackmesh_common.peers.eval import EvalClient
from stackmesh_common.peers.files import FilesClient
from stackmesh_common.peers.inference import InferenceClient
from stackmesh_common.peers.safety import SafetyClient
from stackmesh_common.peers.vector_io import VectorIOClient

__all__ = ["AgentsClient", "EvalClient", "FilesClient", "InferenceClient", "Peers", "SafetyClient", "VectorIOClient", "peer_channel", "peer_error"]
