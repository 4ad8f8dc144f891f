"""Every right a notice offers can be used: in the privacy centre, or by the channel it names.

The walk starts from the notices of the example as the service serves them, so a right added to
the manifest (or a notice) without a way to use it fails here.
"""

from __future__ import annotations

import html
import re

from centresupport import Centre, known_person
from flowsupport import run_jobs
from sqlalchemy import select

from pledge.notices.view import Rights, build_view
from pledge.requests.tables import REQUEST_KINDS, DataRequest

_ROW = re.compile(r'<tr>\s*<th scope="row">(.*?)</th>\s*<td[^>]*>(.*?)</td>', re.S)
_DEFINITION = re.compile(r'<dt id="right-([\w-]+)">.*?</dt>\s*<dd>(.*?)</dd>', re.S)


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def rights_of(centre: Centre, notice: str) -> Rights | None:
    view = build_view(centre.manifest, notice)
    found = [s.body for s in view.sections if s.key == "rights"]
    return found[0] if found and isinstance(found[0], Rights) else None


def rights_rows(page: str, jurisdiction: str) -> dict[str, str]:
    """The rights table of `jurisdiction` in a served notice: the right's label → its meaning,
    as HTML (links kept)."""
    start = page.index(f'id="rights-{jurisdiction}"')
    section = page[start : page.index("</section>", start)]
    rows = {text(label): meaning for label, meaning in _ROW.findall(section)}
    assert rows, f"{jurisdiction}: no rights table"
    return rows


def complaint_channels(centre: Centre) -> list[str]:
    """What the manifest gives for complaints: the contact's e-mail and postal address, the
    dispute-resolution body and the authority, in English."""
    org = centre.manifest.organization
    assert org.contact.email and org.contact.postal
    assert org.dispute_resolution and org.supervisory_authority
    return [
        org.contact.email,
        centre.manifest.text(org.contact.postal, "en"),
        centre.manifest.text(org.dispute_resolution.name, "en"),
        centre.manifest.text(org.supervisory_authority.name, "en"),
    ]


def test_every_right_of_every_notice_can_be_used(centre: Centre) -> None:
    client = centre.client
    front = client.get("/privacy", params={"lang": "en"}).text
    on_front = {right: text(dd) for right, dd in _DEFINITION.findall(front)}
    choices = client.get("/privacy/choices", params={"lang": "en"})
    assert choices.status_code == 200
    channels = complaint_channels(centre)
    walked: set[str] = set()
    notices = [n for n in centre.manifest.notices if rights_of(centre, n) is not None]
    assert len(notices) >= 3, notices
    for notice in notices:
        rights = rights_of(centre, notice)
        assert rights is not None and rights.jurisdictions, notice
        page = client.get(f"/notices/{notice}", params={"lang": "en"}).text
        for j in rights.jurisdictions:
            form = client.get("/privacy/requests", params={"jurisdiction": j.key}).text
            rows = rights_rows(page, j.key)
            assert len(rows) == len(j.rights), f"{notice}/{j.key}: {sorted(rows)}"
            for right in j.rights:
                where = f"{notice}/{j.key}/{right.kind}"
                walked.add(right.kind)
                if right.kind in REQUEST_KINDS:
                    # a choice of the request form where the person lives
                    assert f'id="kind-{right.kind}" name="kind"' in form, where
                elif right.kind == "unsubscribe":
                    assert "unsubscribe link" in on_front[right.kind], where
                elif right.kind == "withdraw_consent":
                    assert 'href="/privacy/choices?lang=en"' in front, where
                    assert "data-pledge-open" in choices.text, where  # the cookie settings
                    assert "Change your choices" in on_front[right.kind], where
                elif right.kind == "complaint":
                    meaning = text(rows["Complain"])
                    missing = [c for c in channels if c not in meaning]
                    assert not missing, f"{where}: the notice does not name {missing}"
                    assert "Contact us" in on_front[right.kind], where
                else:
                    raise AssertionError(f"{where}: no way to use this right is known")
    assert {"limit_sensitive", "complaint", "unsubscribe", "withdraw_consent"} <= walked
    # The centre's contact section holds the complaint channels too.
    assert all(html.escape(c, quote=False) in front for c in channels), channels


def test_the_front_page_lists_every_right_offered_somewhere(centre: Centre) -> None:
    front = centre.client.get("/privacy", params={"lang": "en"}).text
    listed = [right for right, _ in _DEFINITION.findall(front)]
    offered = {
        r.kind
        for notice in centre.manifest.notices
        if (rights := rights_of(centre, notice)) is not None
        for j in rights.jurisdictions
        for r in j.rights
    }
    assert set(listed) == offered and len(listed) == len(offered), listed


def test_a_limit_on_sensitive_data_from_the_form_needs_no_code(centre: Centre) -> None:
    person = known_person()  # whoever says they live in California
    sent = centre.submit(kind="limit_sensitive", email=person.email, jurisdiction="us-ca")
    assert sent.status_code == 303, sent.text
    page = centre.client.get(sent.headers["location"])
    assert "Enter the code" not in page.text
    run_jobs(centre.store)
    with centre.store.reader() as session:
        (req,) = session.scalars(select(DataRequest)).all()
    assert (req.kind, req.jurisdiction, req.state) == ("limit_sensitive", "us-ca", "completed")
    done = centre.client.get(sent.headers["location"]).text
    assert "only as far as needed to provide what you asked for" in done


def test_the_limit_is_not_offered_outside_california(centre: Centre) -> None:
    form, _ = centre.form(jurisdiction="eu")
    assert 'id="kind-limit_sensitive"' not in form
    sent = centre.submit(kind="limit_sensitive", email="someone@example.org", jurisdiction="eu")
    assert sent.status_code == 422
    assert centre.requests_stored() == 0
