#!/usr/bin/python3
"""Line echo server over TCP, for running under supervisor.

Every line a client sends ("\\n" terminated) comes back unchanged.

  --host HOST            address to listen on (default 0.0.0.0)
  --port PORT            TCP port (default 7000; 0 picks a free port, which
                         the "listening on" log line shows)
  --max-line BYTES       longest line, not counting its "\\n" (default 4096).
                         A longer line gets "ERROR line too long (max N bytes)"
                         and the connection is closed.
  --max-clients N        most clients at once (default 100). One more gets
                         "ERROR too many clients (max N)" and is closed at once.
  --idle-timeout SECONDS a client silent this long, or not reading its
                         echoes, gets "ERROR idle timeout (N seconds)" and is
                         closed (default 300).
  --max-per-address N    most clients at once from one IP address (default 10),
                         so one host holding idle sockets cannot take every
                         slot. One more gets "ERROR too many clients from your
                         address (max N)" and is closed at once.
  --first-line-timeout SECONDS
                         a new client must send its first line this soon
                         (default 10), or it gets "ERROR no line within N
                         seconds" and is closed.

Memory per client stays bounded: lines are read through a StreamReader
limited to --max-line, and echoes wait for the client to take them.

Log lines (UTC timestamps) go to stdout, flushed, for supervisor to capture.
SIGTERM or SIGINT stops accepting, closes all clients and exits 0.
Python 3.8 or later, standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime, timezone

CLOSE_TIMEOUT_S = 1.0
# After refusing a line, how long and how much to keep reading (and dropping)
# before closing. Closing with unread input makes the kernel send a reset,
# which can make the client lose the error line.
LINGER_S = 1.0
LINGER_BYTES = 1024 * 1024


def log(text: str) -> None:
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    try:
        print("%s %s" % (stamp.replace("+00:00", "Z"), text), flush=True)
    except (BrokenPipeError, ValueError):
        pass  # nobody is reading our output any more; keep serving


def address(sockname) -> str:
    host, port = sockname[0], sockname[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def peer_of(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return address(peer) if peer else "unknown peer"


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)
    except (asyncio.TimeoutError, OSError):
        writer.transport.abort()


async def drop_input(reader: asyncio.StreamReader) -> None:
    """Read and discard what the client still sends, within bounds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_S
    dropped = 0
    while dropped < LINGER_BYTES:
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except (asyncio.TimeoutError, OSError):
            return
        if not chunk:
            return
        dropped += len(chunk)


class EchoServer:
    def __init__(self, max_line: int, max_clients: int, idle_timeout: float,
                 max_per_address: int = 10, first_line_timeout: float = 10.0) -> None:
        self.max_line = max_line
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self.max_per_address = max_per_address
        self.first_line_timeout = first_line_timeout
        self.clients = set()  # handler tasks of connected clients
        self.per_address = {}  # IP address -> clients connected from it

    def count(self) -> str:
        return "clients: %d/%d" % (len(self.clients), self.max_clients)

    async def serve_client(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        peer = peer_of(writer)
        if len(self.clients) >= self.max_clients:
            log("refused %s: too many clients (%s)" % (peer, self.count()))
            writer.write(b"ERROR too many clients (max %d)\n" % self.max_clients)
            await close_writer(writer)
            return
        host = (writer.get_extra_info("peername") or ("?",))[0]
        if self.per_address.get(host, 0) >= self.max_per_address:
            log("refused %s: too many clients from its address (max %d)"
                % (peer, self.max_per_address))
            writer.write(b"ERROR too many clients from your address (max %d)\n"
                         % self.max_per_address)
            await close_writer(writer)
            return
        self.per_address[host] = self.per_address.get(host, 0) + 1
        task = asyncio.current_task()
        self.clients.add(task)
        log("connect %s (%s)" % (peer, self.count()))
        reason = "closed by client"
        try:
            reason = await self.echo_lines(reader, writer)
        except asyncio.CancelledError:
            reason = "server shutting down"
            raise
        except OSError as exc:
            reason = "connection error: %s" % (exc.strerror or exc)
        finally:
            self.clients.discard(task)
            self.per_address[host] -= 1
            if not self.per_address[host]:
                del self.per_address[host]
            log("disconnect %s (%s; %s)" % (peer, reason, self.count()))
            await close_writer(writer)

    async def echo_lines(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> str:
        """Echo lines until the client goes; return why it ended."""
        first = True
        while True:
            # a client that connects and says nothing is given far less time than one
            # that has shown it is using the service
            wait = self.first_line_timeout if first else self.idle_timeout
            first = False
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), wait)
            except asyncio.IncompleteReadError as exc:
                # The client closed its side; give back an unfinished last line.
                if exc.partial:
                    await self.send(writer, exc.partial)
                return "closed by client"
            except asyncio.LimitOverrunError:
                await self.refuse(reader, writer,
                                  b"ERROR line too long (max %d bytes)\n" % self.max_line)
                return "line too long"
            except asyncio.TimeoutError:
                if wait == self.first_line_timeout and wait != self.idle_timeout:
                    await self.refuse(reader, writer, b"ERROR no line within %g seconds\n"
                                      % wait)
                    return "no first line"
                await self.refuse(reader, writer, b"ERROR idle timeout (%g seconds)\n"
                                  % self.idle_timeout)
                return "idle timeout"
            if not await self.send(writer, line):
                return "client not reading"

    async def send(self, writer: asyncio.StreamWriter, data: bytes) -> bool:
        # drain() waits while the client does not read, which bounds the
        # buffered output; a client that stays stuck is given up on.
        writer.write(data)
        try:
            await asyncio.wait_for(writer.drain(), self.idle_timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     message: bytes) -> None:
        writer.write(message)
        if writer.can_write_eof():
            writer.write_eof()  # the client sees the error, then end of stream
        await drop_input(reader)


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="TCP line echo server.")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=port_number, default=7000,
                        help="TCP port; 0 picks a free one")
    parser.add_argument("--max-line", type=positive(int), default=4096, metavar="BYTES",
                        help="longest accepted line in bytes, without its newline")
    parser.add_argument("--max-clients", type=positive(int), default=100, metavar="N",
                        help="most clients connected at once")
    parser.add_argument("--idle-timeout", type=positive(float), default=300.0,
                        metavar="SECONDS", help="close clients silent this long")
    parser.add_argument("--max-per-address", type=positive(int), default=10, metavar="N",
                        help="most clients connected at once from one IP address")
    parser.add_argument("--first-line-timeout", type=positive(float), default=10.0,
                        metavar="SECONDS", help="close new clients that send no line this soon")
    return parser.parse_args(argv)


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be 0 to 65535")
    return value


def positive(kind):
    def convert(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be greater than 0")
        return value
    convert.__name__ = kind.__name__  # argparse names the type in its errors
    return convert


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        name = signal.Signals(signum).name
        loop.add_signal_handler(signum, lambda name=name: on_signal(stop, name))


def on_signal(stop: asyncio.Event, name: str) -> None:
    log("got %s; shutting down" % name)
    stop.set()


async def serve(args: argparse.Namespace) -> int:
    echo = EchoServer(args.max_line, args.max_clients, args.idle_timeout,
                      args.max_per_address, min(args.first_line_timeout, args.idle_timeout))
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        # limit bounds each client's StreamReader buffer: readuntil() gives
        # up with LimitOverrunError rather than collecting a longer line.
        server = await asyncio.start_server(echo.serve_client, args.host, args.port,
                                            limit=args.max_line)
    except OSError as exc:
        log("cannot listen on %s port %d: %s" % (args.host, args.port, exc.strerror or exc))
        return 1
    where = ", ".join(address(sock.getsockname()) for sock in server.sockets)
    log("listening on %s (max-line %d bytes, max-clients %d, idle-timeout %g s)"
        % (where, args.max_line, args.max_clients, args.idle_timeout))
    await stop.wait()
    await shut_down(server, echo)
    log("stopped")
    return 0


async def shut_down(server: asyncio.AbstractServer, echo: EchoServer) -> None:
    server.close()  # stop accepting first, so no client slips in meanwhile
    tasks = list(echo.clients)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
    # From Python 3.12 on this also waits for connections; all are closed.
    try:
        await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT_S)
    except asyncio.TimeoutError:
        log("some connections did not close in time")


def main(argv: list | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
