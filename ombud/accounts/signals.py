"""What accounts tells the layers above it about an account. Accounts sits
below organisations and cases, so it does not know which teams or cases a
person has; the apps that do connect receivers here (in their `ready()`).

Both are sent inside the transaction of the change, so whatever the receivers
write commits or rolls back with it.
"""

from django.dispatch import Signal

# A change to an account worth recording: `user`, `type` (an AuditType) and
# `data`. ombud.orgs writes it to the audit log of each organisation the
# person belongs to.
account_changed = Signal()

# The account got a new key pair (a forgotten password), so its old key opens
# nothing any more: `user`. ombud.cases turns the person's grants into pending
# access; receivers return how many cases wait to be restored.
keys_replaced = Signal()
