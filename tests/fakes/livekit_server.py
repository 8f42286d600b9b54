"""A small fake LiveKit server speaking the Twirp wire format (protobuf over HTTP POST).

It serves the RoomService, AgentDispatchService and SIP service calls the platform makes, checks
each request's bearer JWT against the configured secret and the grants each call needs (video
grants, and SIP ``admin``/``call`` grants), records rooms, dispatches, trunks, dispatch rules and
SIP participants, and can be told to fail the next requests to exercise retries, or to stall the
next CreateRoom calls (so a test can kill the worker while provisioning is in flight). Outbound
calls are answered with a configurable SIP status per number (``sip_outcomes``: 200 answers;
486, 480 and 408 fail the way LiveKit does, with ``sip_status_code`` in the Twirp error's
``meta``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from livekit.protocol import agent_dispatch, models, room

from tests.fakes.livekit_sip import SIP_GRANTS, handle_sip


@dataclass
class FakeLiveKitState:
    api_key: str
    api_secret: str
    rooms: dict[str, Any] = field(default_factory=dict)
    dispatches: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    auth_errors: list[str] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 503
    # The next ``stall_create_room`` CreateRoom calls hold until ``release`` is set (then answer
    # normally); ``stalled`` is set when one of them has arrived.
    stall_create_room: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    inbound_trunks: dict[str, Any] = field(default_factory=dict)
    outbound_trunks: dict[str, Any] = field(default_factory=dict)
    dispatch_rules: dict[str, Any] = field(default_factory=dict)
    sip_participants: list[Any] = field(default_factory=list)
    transfers: list[Any] = field(default_factory=list)
    sip_outcomes: dict[str, int] = field(default_factory=dict)
    next_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


REQUIRED_GRANT = {
    "RoomService/CreateRoom": "roomCreate",
    "RoomService/DeleteRoom": "roomCreate",
    "AgentDispatchService/CreateDispatch": "roomAdmin",
    "AgentDispatchService/ListDispatch": "roomAdmin",
    **SIP_GRANTS,
}
SIP_PREFIX = "SIP/"


def _handler(state: FakeLiveKitState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, msg: str) -> None:
            self._reply(status, json.dumps({"code": code, "msg": msg}).encode(), "application/json")

        def _authorised(self, method: str) -> bool:
            header = self.headers.get("Authorization", "")
            try:
                claims = jwt.decode(
                    header.removeprefix("Bearer "), state.api_secret, algorithms=["HS256"]
                )
            except jwt.PyJWTError as exc:
                state.auth_errors.append(f"{method}: {exc}")
                return False
            grants = REQUIRED_GRANT[method]
            for grant in grants if isinstance(grants, tuple) else (grants,):
                section, _, name = grant.rpartition(".")
                if claims.get("iss") != state.api_key or not claims.get(section or "video", {}).get(
                    name
                ):
                    state.auth_errors.append(f"{method}: missing {grant} or wrong issuer")
                    return False
            return True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            method = self.path.removeprefix("/twirp/livekit.")
            with state.lock:
                state.calls.append(method)
                if state.fail_next > 0:
                    state.fail_next -= 1
                    self._error(state.fail_status, "unavailable", "injected failure")
                    return
                stall = method == "RoomService/CreateRoom" and state.stall_create_room > 0
                if stall:
                    state.stall_create_room -= 1
            if stall:
                state.stalled.set()
                state.release.wait(timeout=30)
            if method not in REQUIRED_GRANT:
                self._error(404, "bad_route", f"no handler for {self.path}")
                return
            if not self._authorised(method):
                self._error(401, "unauthenticated", "invalid token")
                return
            with state.lock:
                response = self._handle(method, body)
            if isinstance(response, tuple) and len(response) == 4:
                status, code, msg, meta = response
                body = {"code": code, "msg": msg, "meta": meta}
                self._reply(status, json.dumps(body).encode(), "application/json")
            elif isinstance(response, tuple):
                self._error(*response)
            else:
                self._reply(200, response.SerializeToString(), "application/protobuf")

        def _handle(self, method: str, body: bytes) -> Any:
            if method.startswith(SIP_PREFIX):
                return handle_sip(state, method.removeprefix(SIP_PREFIX), body)
            if method == "RoomService/CreateRoom":
                request = room.CreateRoomRequest.FromString(body)
                existing = state.rooms.get(request.name)
                if existing is None:
                    existing = models.Room(
                        sid=f"RM_{len(state.rooms) + 1}",
                        name=request.name,
                        empty_timeout=request.empty_timeout,
                        max_participants=request.max_participants,
                        metadata=request.metadata,
                    )
                    state.rooms[request.name] = existing
                return existing
            if method == "RoomService/DeleteRoom":
                request = room.DeleteRoomRequest.FromString(body)
                if request.room not in state.rooms:
                    return (404, "not_found", "room not found")
                del state.rooms[request.room]
                state.dispatches.pop(request.room, None)
                return room.DeleteRoomResponse()
            if method == "AgentDispatchService/CreateDispatch":
                request = agent_dispatch.CreateAgentDispatchRequest.FromString(body)
                dispatch = agent_dispatch.AgentDispatch(
                    id=f"AD_{sum(len(v) for v in state.dispatches.values()) + 1}",
                    agent_name=request.agent_name,
                    room=request.room,
                    metadata=request.metadata,
                )
                state.dispatches.setdefault(request.room, []).append(dispatch)
                return dispatch
            request = agent_dispatch.ListAgentDispatchRequest.FromString(body)
            return agent_dispatch.ListAgentDispatchResponse(
                agent_dispatches=state.dispatches.get(request.room, [])
            )

    return Handler


class FakeLiveKitServer:
    """Runs on 127.0.0.1 on a free port in a background thread."""

    def __init__(
        self, api_key: str = "devkey", api_secret: str = "devsecret-0123456789abcdef-0123456789"
    ):
        self.state = FakeLiveKitState(api_key=api_key, api_secret=api_secret)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeLiveKitServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.state.release.set()
        self._server.shutdown()
        self._server.server_close()
