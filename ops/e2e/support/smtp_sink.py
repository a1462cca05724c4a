"""A real SMTP server (aiosmtpd) that keeps what it receives, and misbehaves on request.

The notifications service's Swift tests and the e2e acceptance start it as a subprocess:

    python3 ops/e2e/support/smtp_sink.py --port P --maildir DIR [--mode MODE] [--fail-first N]
        [--fail-code 421|451] [--tls-cert C --tls-key K [--require-starttls]]
        [--auth user:password] [--size-limit BYTES] [--ready-file F]

Modes (`--fail-first N` counts transactions across all connections, from the start):
- `normal`: accepts every message.
- `flaky`: the first N DATA transactions are answered `--fail-code` (451 by default; 421 also
  closes the connection, as RFC 5321 says a 421 does), later ones are accepted.
- `drop`: the first N transactions lose their connection abruptly right after RCPT TO.
- `reject-rcpt`: every RCPT TO is answered 550, so nothing is ever accepted.
- `silent`: not SMTP at all: a TCP listener that accepts connections and never says anything
  (for greeting timeouts).

Every accepted message is written, exactly as received after dot-unstuffing, to the Maildir DIR
(`DIR/new/...`, through `mailbox.Maildir`), and one JSON line is appended to `DIR/log.jsonl`:
`{"message_id", "to", "subject", "time", "tls", "authenticated"}` with the subject decoded
(RFC 2047). `--port 0` takes a free port; the port actually bound is written to `--ready-file`
only once the server listens, so a caller waits for that file and then connects.
"""
import argparse
import asyncio
import email.parser
import email.policy
import json
import mailbox
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class SinkHandler:
    """aiosmtpd handler hooks; one instance serves every connection, so counters span them."""

    def __init__(self, args):
        self.mode = args.mode
        self.fail_first = args.fail_first
        self.fail_code = args.fail_code
        self.maildir = mailbox.Maildir(args.maildir, create=True)
        self.log_path = os.path.join(args.maildir, "log.jsonl")
        self.dropped = 0
        self.failed = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "reject-rcpt":
            return "550 5.1.1 Mailbox unavailable"
        if self.mode == "drop" and self.dropped < self.fail_first:
            self.dropped += 1
            # abort(), not close(): no 250 is flushed, the client sees the connection vanish.
            server.transport.abort()
            return "250 OK"  # never reaches the client
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "flaky" and self.failed < self.fail_first:
            self.failed += 1
            if self.fail_code == 421:
                # aiosmtpd writes the answer before the loop runs this callback, and close()
                # flushes it first: the client reads the 421, then the connection ends.
                asyncio.get_running_loop().call_soon(server.transport.close)
                return "421 4.3.2 Service not available, closing transmission channel"
            return "451 4.3.0 Temporary failure, try again later"
        content = envelope.original_content or b""
        self.maildir.add(content)
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(content)
        entry = {
            "message_id": str(headers.get("Message-ID", "")),
            "to": envelope.rcpt_tos,
            "subject": str(headers.get("Subject", "")),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
        return "250 2.0.0 OK: queued"


def authenticator_for(credentials):
    """An aiosmtpd authenticator accepting exactly `user:password` (PLAIN or LOGIN)."""
    user, _, password = credentials.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
        # handled=False: aiosmtpd itself answers 235 or 535.
        return AuthResult(success=ok, handled=False)

    return authenticate


def smtp_factory(args):
    """A protocol factory: one aiosmtpd `SMTP` per connection, all sharing one handler."""
    handler = SinkHandler(args)
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    options = {
        "hostname": "tally-smtp-sink",
        "tls_context": tls_context,
        "require_starttls": bool(tls_context) and args.require_starttls,
        "data_size_limit": args.size_limit,
    }
    if args.auth:
        options.update(
            authenticator=authenticator_for(args.auth),
            auth_required=True,
            # Without TLS configured, the tests authenticate in the clear on loopback.
            auth_require_tls=tls_context is not None,
        )
    return lambda: SMTP(handler, **options)


async def stay_silent(reader, writer):
    """`silent` mode: hold the connection open, read and discard, never answer."""
    try:
        while await reader.read(4096):
            pass
    finally:
        writer.close()


async def serve(args):
    loop = asyncio.get_running_loop()
    if args.mode == "silent":
        server = await asyncio.start_server(stay_silent, host=args.host, port=args.port)
    else:
        server = await loop.create_server(smtp_factory(args), host=args.host, port=args.port)
    port = server.sockets[0].getsockname()[1]
    if args.ready_file:
        # Written to a temporary name and renamed, so a reader never sees a half-written port.
        partial = args.ready_file + ".partial"
        with open(partial, "w", encoding="utf-8") as ready:
            ready.write(f"{port}\n")
        os.replace(partial, args.ready_file)
    print(f"smtp_sink listening on {args.host}:{port} mode={args.mode}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 takes a free port (see --ready-file)")
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--mode", choices=["normal", "flaky", "drop", "reject-rcpt", "silent"], default="normal")
    parser.add_argument("--fail-first", type=int, default=1, help="transactions that fail in flaky and drop modes")
    parser.add_argument("--fail-code", type=int, choices=[421, 451], default=451)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--auth", help="user:password; AUTH becomes required")
    parser.add_argument("--size-limit", type=int, default=33554432, help="the SIZE advertised and enforced")
    parser.add_argument("--ready-file")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.require_starttls and not args.tls_cert:
        parser.error("--require-starttls needs --tls-cert and --tls-key")
    return args


if __name__ == "__main__":
    try:
        asyncio.run(serve(parse_arguments(sys.argv[1:])))
    except KeyboardInterrupt:
        pass
