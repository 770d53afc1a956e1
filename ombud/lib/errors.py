class ServiceError(Exception):
    """A write refused for a reason the person can act on; the message is shown
    to them, so it never carries report content, keys or receipts."""
