"""schemathesis hooks for scripts/contract: teach it to send a raw email (message/rfc822),
the body of POST /v1/intake/email, as the bytes or text it generated."""

from schemathesis.transport.requests import REQUESTS_TRANSPORT, text_serializer

REQUESTS_TRANSPORT.serializer("message/rfc822")(text_serializer)
