"""Errors of composing and sending mail.

Messages name the message kind, the context key, the server or the outbox folder, and never a
recipient address or a context value: they end up in job records and logs, which must hold no
personal data (DESIGN §2 rule 3).
"""

from __future__ import annotations

from pledge.errors import PledgeError


class MailError(PledgeError):
    """A message cannot be composed: unknown kind, missing or malformed context, bad address.

    Retrying cannot help; the caller has to pass something else.
    """

    status = 500


class DeliveryError(MailError):
    """The message could not be handed over now (server down, disk full): retry later.

    The job that sends the mail fails with this error and the job queue runs it again with
    backoff, so an outage delays a message and never loses it.
    """

    status = 503


class RejectedError(DeliveryError):
    """The mail server refused the recipient for good (5xx to RCPT TO): retrying cannot help.

    The job fails at once and stays visible to staff, who can correct the address and retry.
    Other refusals (a wrong password, a relay rule) stay plain `DeliveryError`s: an operator
    fixes those, and the queued mail should then go out by itself.
    """
