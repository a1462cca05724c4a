"""A tenant's webhook endpoint for the notifications acceptance: a threaded HTTP server on
127.0.0.1 that checks every POST with the `standardwebhooks` SDK and answers as told.

Usage:
  webhook_receiver.py --secret whsec_... --log FILE --ready FILE [--port 0] [--mode ok|gone|busy]
                      [--retry-after 1] [--busy-first N] [--secret-file FILE]

Modes: `ok` answers 200 (after `--busy-first N` requests answered 503), `gone` answers 410,
`busy` answers 503 with `Retry-After: --retry-after`. A request whose signature the SDK refuses is
answered 400 whatever the mode. Each request appends one JSON line to the log:
  {"webhook_id", "verified", "error", "path", "status", "time", "timestamp"}
(never the body or the headers' values other than the id and timestamp). Once listening, the
ready file holds {"port", "pid", "url"}; SIGTERM or SIGINT stops the server.
"""
import argparse
import http.server
import json
import os
import pathlib
import signal
import sys
import threading
import time

from standardwebhooks.webhooks import Webhook


class Receiver:
    """What the handlers share: the verifier, the mode, the log, a request counter."""

    def __init__(self, secret, mode, retry_after, busy_first, log_path):
        self.webhook = Webhook(secret)
        self.mode = mode
        self.retry_after = retry_after
        self.busy_first = busy_first
        self.log_path = pathlib.Path(log_path)
        self.lock = threading.Lock()
        self.count = 0

    def verify(self, body, headers):
        """(True, None) when the SDK accepts the delivery, else (False, the SDK's reason)."""
        try:
            self.webhook.verify(body, headers)
            return True, None
        except Exception as error:  # the SDK raises WebhookVerificationError, or a decoding error
            return False, f"{type(error).__name__}: {error}"

    def answer(self, verified):
        """(status, extra headers) for the next request, by mode."""
        with self.lock:
            self.count += 1
            number = self.count
        if not verified:
            return 400, {}
        if self.mode == "gone":
            return 410, {}
        if self.mode == "busy" or number <= self.busy_first:
            return 503, {"Retry-After": str(self.retry_after)}
        return 200, {}

    def record(self, entry):
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self.lock:
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(line)
                log.flush()
                os.fsync(log.fileno())


def handler_for(receiver):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "TallyWebhookReceiver/1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified, error = receiver.verify(body, headers)
            status, extra = receiver.answer(verified)
            receiver.record({
                "webhook_id": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "verified": verified,
                "error": error,
                "path": self.path,
                "status": status,
                "time": time.time(),
            })
            payload = b'{"ok":true}' if status == 200 else b""
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            # A redirect the sender followed, or a probe: recorded, never verified.
            receiver.record({"webhook_id": None, "timestamp": None, "verified": False, "error": "GET", "path": self.path,
                             "status": 405, "time": time.time()})
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (written to the ready file)")
    parser.add_argument("--secret", help="the endpoint's whsec_ secret")
    parser.add_argument("--secret-file", help="a file holding the secret (keeps it out of the process list)")
    parser.add_argument("--mode", choices=["ok", "gone", "busy"], default="ok")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, sent with 503")
    parser.add_argument("--busy-first", type=int, default=0, help="in ok mode, answer 503 to this many requests first")
    parser.add_argument("--log", required=True, help="JSON lines, one per request")
    parser.add_argument("--ready", required=True, help="written once listening")
    args = parser.parse_args(argv)

    secret = args.secret
    if args.secret_file:
        secret = pathlib.Path(args.secret_file).read_text(encoding="utf-8").strip()
    if not secret:
        parser.error("--secret or --secret-file is required")

    receiver = Receiver(secret, args.mode, args.retry_after, args.busy_first, args.log)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(receiver))
    server.daemon_threads = True
    port = server.server_address[1]

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    ready = pathlib.Path(args.ready)
    partial = ready.with_name(ready.name + ".tmp")
    partial.write_text(json.dumps({"port": port, "pid": os.getpid(), "url": f"http://127.0.0.1:{port}"}), encoding="utf-8")
    partial.replace(ready)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
