"""A light open-loop HTTP/1.1 load generator: raw non-blocking sockets and one epoll loop.

Request *i* is due at ``start + i / rate`` whatever the answers before it, and its latency
counts from when it was due (client-side waiting for a free connection included), so a slow
server cannot slow the load down and hide its own queueing. Keep-alive connections are reused;
one the server closed while idle is reopened and the GET sent again, as any HTTP client does.

It runs as its own process (``bench/api_load.py`` starts it), so its CPU can be read from
``/proc`` and kept apart from the server's: on a 2-core machine the generator shares the
cores with the server, and a generator that costs more than the request would measure itself.
It costs about 0.2–0.3 ms of CPU per request here (mostly system calls), a tenth of the
server's; ``bench/api_load.py`` prints it.

    python bench/loadgen.py --port 8000 --path /healthz --rate 200 --duration 20 \\
        --header "Host: 127.0.0.1"

Prints one JSON object: requests, rps, latency percentiles (ms), errors by kind, and the
generator's own CPU seconds during the run.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Conn:
    sock: socket.socket | None = None
    buffer: bytearray = field(default_factory=bytearray)
    due: float | None = None  # the due time of the request in flight, if any
    retried: bool = False
    idle: bool = True


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def _response_end(buffer: bytearray) -> tuple[int, str] | None:
    """(length of the complete response, status code) once the buffer holds a whole one."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).decode("latin-1")
    lines = head.split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    total = head_end + 4 + length
    if len(buffer) < total:
        return None
    parts = lines[0].split()
    return total, parts[1] if len(parts) > 1 else "?"


def run(
    *, port: int, request: bytes, rate: float, duration: float, connections: int
) -> dict[str, object]:
    total = int(rate * duration)
    before = resource.getrusage(resource.RUSAGE_SELF)
    selector = selectors.DefaultSelector()
    conns = [Conn() for _ in range(connections)]
    for conn in conns:
        conn.sock = _connect(port)
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    idle = collections.deque(conns)
    waiting: collections.deque[float] = collections.deque()  # due times without a connection
    latencies: list[float] = []
    errors: dict[str, int] = {}
    start = time.monotonic() + 0.2
    sent = 0
    done = 0

    def send(conn: Conn, due: float) -> None:
        conn.due = due
        conn.idle = False
        conn.buffer.clear()
        try:
            conn.sock.sendall(request)  # a GET fits the socket buffer: never blocks
        except OSError:
            reopen(conn)
            conn.sock.sendall(request)

    def reopen(conn: Conn) -> None:
        if conn.sock is not None:
            selector.unregister(conn.sock)
            conn.sock.close()
        conn.sock = _connect(port)
        selector.register(conn.sock, selectors.EVENT_READ, conn)

    def finish(conn: Conn, status: str) -> None:
        nonlocal done
        latencies.append((time.monotonic() - conn.due) * 1000)
        if status != "200":
            errors[status] = errors.get(status, 0) + 1
        done += 1
        conn.due = None
        conn.retried = False
        conn.idle = True
        if waiting:
            send(conn, waiting.popleft())
        else:
            idle.append(conn)

    give_up_at = start + duration + 30.0
    while done < total:
        now = time.monotonic()
        if now > give_up_at:  # the server stopped answering: the rest count as timeouts
            errors["timeout"] = total - done
            break
        while sent < total and start + sent / rate <= now:
            due = start + sent / rate
            sent += 1
            if idle:
                send(idle.popleft(), due)
            else:
                waiting.append(due)
        next_due = start + sent / rate if sent < total else now + 1.0
        timeout = max(0.0, next_due - time.monotonic())
        for key, _ in selector.select(timeout):
            conn: Conn = key.data
            try:
                chunk = conn.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:  # closed by the server
                in_flight = conn.due
                was_idle = conn.idle
                if was_idle:
                    idle.remove(conn)
                reopen(conn)
                if in_flight is not None and not conn.retried and not conn.buffer:
                    conn.retried = True  # closed while idle: send the GET again
                    send(conn, in_flight)
                elif in_flight is not None:
                    finish(conn, "closed")
                else:
                    idle.append(conn)
                continue
            if conn.due is None:
                continue
            conn.buffer += chunk
            end = _response_end(conn.buffer)
            if end is not None:
                finish(conn, end[1])
    took = time.monotonic() - start
    for conn in conns:
        conn.sock.close()
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return {
        "requests": len(ordered),
        "rps": len(ordered) / took,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1] if ordered else 0.0,
        "errors": errors,
        "cpu_seconds": cpu,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args(argv)
    request = (
        f"GET {args.path} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in args.header) + "\r\n"
    ).encode()
    result = run(
        port=args.port,
        request=request,
        rate=args.rate,
        duration=args.duration,
        connections=args.connections,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
