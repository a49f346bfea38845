"""A local TCP port that nothing listens on, for the servers the tests start (or fail to reach)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the kernel just handed out and took back: free now, and nobody listens on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
