"""``spola serve``: the HTTP API under uvicorn, its listening address checked first and the
public base URL its QR codes and Digital Link URIs name."""

from __future__ import annotations

import argparse
import errno
import os
import sys

from spola.cli import CommandError, open_store


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.limits import HEAD_BUFFER_BYTES

    if args.db:
        os.environ["SPOLA_DATABASE_URL"] = args.db  # the workers read the same settings
    if "SPOLA_PUBLIC_BASE_URL" not in os.environ:
        base = served_base_url(args.host, args.port)
        if base is None:  # every address: this machine's own stands for them, on this port
            base = f"http://127.0.0.1:{args.port}"
            print(
                f"spola: serving on every address of this machine; QR codes and Digital Link "
                f"URIs name {base}: set SPOLA_PUBLIC_BASE_URL to the address phones reach",
                file=sys.stderr,
            )
        os.environ["SPOLA_PUBLIC_BASE_URL"] = base  # what the workers' QR codes and URIs name
    _check_listen(args.host, args.port)
    # Migrate and write the genesis once, here, before any worker starts: a bad URL (the
    # replica's too) or key fails with one line now instead of inside every worker.
    open_store(args, read_replica=True)[1].close()
    uvicorn.run(
        "api.main:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        h11_max_incomplete_event_size=HEAD_BUFFER_BYTES,
    )
    return 0


def served_base_url(host: str, port: int) -> str | None:
    """The URL ``spola serve --host --port`` answers on, for QR codes and Digital Link URIs
    when SPOLA_PUBLIC_BASE_URL is not set; None for a wildcard address (0.0.0.0, ::), which
    names no host a phone could reach."""
    import ipaddress

    try:
        if not host or ipaddress.ip_address(host).is_unspecified:
            return None
    except ValueError:
        pass  # a host name
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address (RFC 3986 §3.2.2)
    return f"http://{shown}:{port}"


def _check_listen(host: str, port: int) -> None:
    """Bind ``host``:``port`` once and let it go, as the server will (SO_REUSEADDR): an address
    in use or a host that does not resolve is one line now, not a server log after start-up.
    Like asyncio's server, an address of a family this machine lacks is skipped."""
    import socket

    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    failure: OSError | None = None
    bound = False
    for family, kind, proto, _, address in found:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:  # worded as uvicorn words it, the address included
                raise CommandError(
                    f"cannot listen on {address!r}: address already in use (another server?)"
                ) from None
            failure = exc
        else:
            bound = True
    if bound:
        return
    reason = "no address" if failure is None else failure.strerror or str(failure)
    raise CommandError(f"cannot listen on {host}:{port}: {reason}")


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: 0 to 65535")
    return int(text)


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1 worker")
    return int(text)


def add_serve_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str
) -> None:
    """``spola serve``, its ``--host``, ``--port`` and ``--workers`` checked as they are read."""
    p = sub.add_parser("serve", help="serve the HTTP API")
    p.add_argument("--db", help=db_help)
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="the TCP port (8000)")
    p.add_argument("--workers", type=_workers, default=1, help="worker processes (default 1)")
    p.set_defaults(func=cmd_serve)
