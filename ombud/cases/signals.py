"""What cases tells the layers above it about a case (they connect receivers
in their `ready()`). Sent inside the transaction of the change."""

from django.dispatch import Signal

# A new receipt replaced the case's receipt, so the old one opens nothing any
# more: `case`. ombud.portal ends the reporter's visits opened with it.
receipt_replaced = Signal()
