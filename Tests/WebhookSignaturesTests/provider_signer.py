"""Signs and verifies webhooks with the providers' own SDKs, for the Swift signature tests.

Usage (the body is read from stdin, raw bytes):
  provider_signer.py stripe-sign SECRET UNIX_TIME            -> Stripe-Signature value
  provider_signer.py stripe-verify SECRET HEADER TOLERANCE   -> exit 0 if Stripe's SDK accepts it
  provider_signer.py standard-sign SECRET MSG_ID UNIX_TIME   -> webhook-signature value (standardwebhooks)
  provider_signer.py svix-sign SECRET MSG_ID UNIX_TIME       -> svix-signature value (svix)
  provider_signer.py paddle-verify SECRET HEADER             -> exit 0 if Paddle's SDK accepts it
"""
import datetime
import sys

command, args = sys.argv[1], sys.argv[2:]
body = sys.stdin.buffer.read()


def moment(text):
    return datetime.datetime.fromtimestamp(int(text), tz=datetime.timezone.utc)


if command == "stripe-sign":
    import stripe
    print(stripe.WebhookSignature.generate_signature_header(body.decode(), args[0], int(args[1])), end="")
elif command == "stripe-verify":
    import stripe
    try:
        stripe.WebhookSignature.verify_header(body.decode(), args[1], args[0], int(args[2]))
    except Exception as error:  # the SDK raises SignatureVerificationError
        print(error, file=sys.stderr)
        sys.exit(1)
elif command == "standard-sign":
    from standardwebhooks.webhooks import Webhook
    print(Webhook(args[0]).sign(args[1], moment(args[2]), body.decode()), end="")
elif command == "svix-sign":
    from svix.webhooks import Webhook
    print(Webhook(args[0]).sign(args[1], moment(args[2]), body.decode()), end="")
elif command == "paddle-verify":
    from paddle_billing.Notifications import Secret, Verifier

    class Request:
        def __init__(self, headers, payload):
            self.headers = headers
            self.body = payload

    # The SDK's default tolerance is 5 s; a loaded test machine can take that long to start
    # this process after the header was signed. The signature is what is checked here.
    ok = Verifier(maximum_variance=120).verify(Request({"Paddle-Signature": args[1]}, body), Secret(args[0]))
    sys.exit(0 if ok else 1)
else:
    sys.exit(f"unknown command {command}")
