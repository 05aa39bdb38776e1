"""Holds N served-but-idle connections for scripts/idle-rss.sh.

    python3 bench/idle_clients.py HOST PORT N [--tls]

Opens N connections; each sends one line and waits for its answer, then
stays open and silent. Prints "ready" once all N are answered, then holds
them until it is killed (SIGTERM).
"""

import signal
import socket
import ssl
import sys


def main(args):
    host, port, count = args[0], int(args[1]), int(args[2])
    tls = "--tls" in args[3:]
    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    held = []
    for i in range(count):
        sock = socket.create_connection((host, port), timeout=30)
        if context:
            sock = context.wrap_socket(sock, server_hostname=host)
        sock.sendall(b"hello %d\n" % i)
        if not sock.recv(4096):
            sys.exit(f"connection {i}: closed before its answer")
        held.append(sock)
    print("ready", flush=True)
    signal.pause()


if __name__ == "__main__":
    main(sys.argv[1:])
