"""Consent and choices (issue 6): the proof-of-consent log, receipts, programmes, GPC,
marketing preferences and the cookie banner's configuration.

Faces (the API routes, the banner) call the functions here; decisions themselves are made by
`pledge.policy.decide` from the state these modules derive from the append-only logs.
"""
