#!/usr/bin/env python3
"""A small client for the bank cluster, written from docs/PROTOCOL.md alone.

    python3 docs/examples/client.py --gateway tcp://127.0.0.1:5555 --key var/keys/clients/app/local-app.key_secret

Connects with the client's CURVE key (--key, default $BANK_KEY; the gateway's public key from --gateway-key,
default $BANK_GATEWAY_KEY, else gateway.key in the key directory above the key's clients/ROLE/ folder); with no
key, in plaintext (only a cluster file with "insecure": true answers). Tours the protocol: opens two accounts, deposits, transfers, repeats a request id (the reply is a replay and
nothing changes), reads a balance and a statement, and asks the gateway for its status. Exits non-zero on any
unexpected reply. Needs pyzmq (`apt-get install python3-zmq` or `pip install pyzmq`).
"""

import argparse
import json
import os
import random
import sys
import time
import uuid

import zmq
import zmq.auth


class ClientError(Exception):
    pass


class Client:
    """One DEALER socket; one request in flight at a time; every wait bounded by `timeout` seconds."""

    def __init__(self, endpoint, timeout=10.0, keys=None):
        """keys: (client public, client secret, gateway public), Z85 bytes each; None: no CURVE."""
        self.endpoint = endpoint
        self.timeout = timeout
        self.keys = keys
        self.context = zmq.Context.instance()
        self.socket = None
        self._open()

    def _open(self):
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if self.keys:
            self.socket.curve_publickey, self.socket.curve_secretkey, self.socket.curve_serverkey = self.keys
        self.socket.connect(self.endpoint)

    def call(self, op, **fields):
        """Sends {"op": op, **fields} and returns the reply object (ok or not). Raises ClientError on timeout.

        An `overloaded` reply is definite (the gateway did not forward the request; nothing was applied): the same
        bytes are sent again after `retry_after_ms`, doubling up to 1 s, while `timeout` allows."""
        body = json.dumps({"op": op, **fields}).encode("utf-8")
        deadline = time.monotonic() + self.timeout
        backoff = 0.0
        while True:
            reply = self._exchange(op, body)
            if reply.get("error") != "overloaded":
                return reply
            backoff = min(1.0, max(reply.get("retry_after_ms", 20) / 1000.0, backoff * 2))
            wait = backoff * random.uniform(1.0, 1.5)
            if time.monotonic() + wait >= deadline:
                return reply
            time.sleep(wait)

    def _exchange(self, op, body):
        # An empty delimiter frame, then the body: the gateway treats us like a REQ client and echoes it back.
        self.socket.send_multipart([b"", body])
        if not self.socket.poll(int(self.timeout * 1000), zmq.POLLIN):
            # The reply may still arrive later; start afresh so it cannot be mistaken for the next one.
            self.socket.close()
            self._open()
            hint = "" if self.keys else " (no key given: a gateway with CURVE on hears nothing without one)"
            raise ClientError(f"no reply from {self.endpoint} within {self.timeout} s to {op}; "
                              f"is the cluster running?{hint}")
        frames = self.socket.recv_multipart()
        return json.loads(frames[-1].decode("utf-8"))

    def call_ok(self, op, **fields):
        """Like call, but a failure reply is an error."""
        reply = self.call(op, **fields)
        if reply.get("ok") is not True:
            raise ClientError(f"{op} failed: {reply.get('error')}: {reply.get('message')}")
        return reply

    def close(self):
        self.socket.close()


def new_id(prefix):
    return f"{prefix}-{uuid.uuid4()}"


def money(minor):
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def expect(condition, what, reply):
    if not condition:
        raise ClientError(f"unexpected reply ({what}): {json.dumps(reply)}")


def tour(client):
    run = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{run}", f"bob-{run}"

    for account in (alice, bob):
        reply = client.call_ok("open_account", request_id=new_id("open"), account=account, currency="GBP")
        print(f"opened {account} [seq {reply['seq']}]")

    reply = client.call_ok("deposit", request_id=new_id("dep"), account=alice, amount=10_000)
    expect(reply["balance"] == 10_000, "balance after deposit", reply)
    print(f"deposited 100.00 to {alice}: balance {money(reply['balance'])} [seq {reply['seq']}]")

    transfer = dict(request_id=new_id("xfer"), to=bob, amount=2_500, reference="rent")
    first = client.call_ok("transfer", **{"from": alice}, **transfer)
    expect(first["account"] == alice and first["balance"] == 7_500, "sender's figures", first)
    expect("replayed" not in first, "a first attempt is not a replay", first)
    print(f"transfer seq {first['seq']}: {alice} -> {bob} {money(first['amount'])} GBP; "
          f"{alice} balance {money(first['balance'])}, available {money(first['available'])}")

    # The same request again (as after a lost reply): the original reply, marked replayed; nothing moves twice.
    again = client.call_ok("transfer", **{"from": alice}, **transfer)
    expect(again.get("replayed") is True and again["seq"] == first["seq"], "replay of the same request_id", again)
    print(f"retried the same request_id: replayed, seq {again['seq']}, nothing changed")

    # The same id with different parameters is refused.
    conflict = client.call("transfer", **{"from": alice}, **{**transfer, "amount": 9_999})
    expect(conflict.get("ok") is False and conflict.get("error") == "idempotency_conflict", "conflict", conflict)
    print("same request_id, different amount: idempotency_conflict")

    # A refusal does not consume its request id.
    refused = client.call("withdraw", request_id=new_id("wd"), account=bob, amount=1_000_000)
    expect(refused.get("ok") is False and refused.get("error") == "insufficient_funds", "refusal", refused)
    expect(refused.get("retryable") is False, "refusals are not retryable", refused)
    print(f"withdraw too much from {bob}: insufficient_funds")

    for account, expected in ((alice, 7_500), (bob, 2_500)):
        reply = client.call_ok("balance", account=account)
        expect(reply["balance"] == expected and reply["currency"] == "GBP", f"balance of {account}", reply)
        print(f"{account}: balance {money(reply['balance'])} {reply['currency']}, "
              f"available {money(reply['available'])}, held {money(reply['held'])}")

    statement = client.call_ok("statement", account=alice, limit=10)
    entries = statement["entries"]
    expect([e["kind"] for e in entries] == ["transfer", "deposit"], "statement kinds, newest first", statement)
    expect(entries[0]["amount"] == -2_500 and entries[0].get("reference") == "rent", "transfer line", statement)
    print(f"statement of {alice}:")
    for entry in entries:
        print(f"  seq {entry['seq']:>4}  {entry['time']}  {entry['kind']:<10} {money(entry['amount']):>10}  "
              f"balance {money(entry['balance_after']):>10}  {entry['counterparty']}")

    status = client.call_ok("status")
    expect(status.get("leader") in ("primary", "backup"), "a leader", status)
    print(f"leader {status['leader']}, epoch {status['epoch']}")
    for node in status.get("nodes", []):
        print(f"  {node.get('name', '?'):<8} {node.get('role', '?'):<12} last seq {node.get('last_seq', '-')}, "
              f"commit seq {node.get('commit_seq', '-')}, lag {node.get('replication_lag', '-')}, "
              f"heartbeat {node.get('heartbeat_age_ms', '-')} ms")


def load_keys(key_path, gateway_key_path):
    """(client public, client secret, gateway public) from ZeroMQ certificate files, or None without a key."""
    if not key_path:
        return None
    public, secret = zmq.auth.load_certificate(key_path)
    if not secret:
        raise ValueError(f"{key_path} holds no secret key (give the .key_secret file)")
    if not gateway_key_path:
        # keys/clients/ROLE/NAME.key_secret -> keys/gateway.key
        gateway_key_path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(key_path))), "gateway.key")
    gateway_public, _ = zmq.auth.load_certificate(gateway_key_path)
    return public, secret, gateway_public


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="tcp://127.0.0.1:5555", help="the gateway's client endpoint")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each reply")
    parser.add_argument("--key", default=os.environ.get("BANK_KEY"), help="this client's NAME.key_secret")
    parser.add_argument("--gateway-key", default=os.environ.get("BANK_GATEWAY_KEY"),
                        help="the gateway's public key file (gateway.key)")
    args = parser.parse_args()
    try:
        keys = load_keys(args.key, args.gateway_key)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    client = Client(args.gateway, args.timeout, keys)
    try:
        tour(client)
    except (ClientError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
