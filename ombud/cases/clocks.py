"""The procedure's clocks (DESIGN §4): paging for ongoing incidents with
escalation, and reminders for the 24-hour meeting. Services call these inside
their transaction; the work is scheduled on the task worker after commit and
takes ids only."""


def clocks_start(*, case) -> None:
    """A new case arrived: page now if it is urgent, else tell the team and
    schedule the meeting reminders."""
    from django.db import transaction

    from ombud.cases.tasks import case_notify_new

    case_id = str(case.pk)
    transaction.on_commit(lambda: case_notify_new.enqueue(case_id=case_id))


def paging_start(*, case) -> None:
    """A case became urgent after it arrived: page every entitled responder now."""
    raise NotImplementedError
