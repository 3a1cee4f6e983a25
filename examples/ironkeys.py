#!/usr/bin/env python3
"""Ironhouse keys: certificates for a CURVE server and its clients (security).

Taught in notebooks/18_security.ipynb. Writes into ``FOLDER``: ``server.key`` (public: give it to
the clients) and ``server.key_secret`` (secret: the server's alone); for each client NAME,
``NAME.key`` and ``NAME.key_secret``; and a copy of each client's public ``NAME.key`` in
``FOLDER/allowed``, the folder the server's authenticator reads. A client left out of ``allowed``
(``--stranger``) has good keys that the server does not know.

    python examples/ironkeys.py certs --clients alice --stranger mallory
    python examples/ironserver.py --certs certs &  python examples/ironclient.py --certs certs --name alice
"""
from __future__ import annotations

import argparse
import os
import shutil

import zmq.auth


def main() -> int:
    parser = argparse.ArgumentParser(description="CURVE certificates for ironserver.py and ironclient.py")
    parser.add_argument("folder")
    parser.add_argument("--clients", nargs="*", default=["client"], help="clients the server lets in")
    parser.add_argument("--stranger", nargs="*", default=[], help="clients with keys the server does not know")
    args = parser.parse_args()

    allowed = os.path.join(args.folder, "allowed")
    os.makedirs(allowed, exist_ok=True)
    for name in ["server", *args.clients, *args.stranger]:
        public, secret = zmq.auth.create_certificates(args.folder, name)
        os.chmod(secret, 0o600)                  # a secret key: readable by its owner only
        if name in args.clients:
            shutil.copy(public, allowed)
        print(f"ironkeys: {name}: {public} (public), {secret} (secret)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
