"""Keep one-time tokens out of the logs: Django logs the path of every 4xx
answer (and runserver every request), and reset and invitation links carry
their token in the path."""

import logging
import re

TOKEN_PATHS = re.compile(
    r"(/accounts/password/reset/)[^/\s]+/[^/\s]+/|(/accounts/invitation/)[^/\s]+/"
)


def redact(text: str) -> str:
    return TOKEN_PATHS.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]/", text)


class RedactTokens(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
