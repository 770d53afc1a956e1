"""Permissions of the outbox; the predicates are the ones in cases/rules.py."""

import rules

from ombud.cases.rules import is_chair

# Delivery status of the organisation's messages (never addresses or text).
rules.add_perm("notify.view_outbox", is_chair)
