"""One person, one identity: spellings of the same e-mail or phone number normalise to one
value, and different addresses stay different (no provider-specific rules)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pledge.identities import InvalidIdentity, check_region, normalise

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüß0123456789.+_-", min_size=1, max_size=20)
DOMAIN = st.sampled_from(["example.org", "bücher.example", "mail.example.co.uk", "ÉCOLE.example"])
REGIONS = st.sampled_from(["NO", "GB", "US", "DE", "NL", "FR", "JP", "BR"])


def respell(text: str, flips: list[bool]) -> str:
    return "".join(
        c.upper() if f and len(c.upper()) == 1 else c for c, f in zip(text, flips, strict=False)
    )


@given(LOCAL, DOMAIN, st.lists(st.booleans(), min_size=60, max_size=60), st.sampled_from(["", " "]))
def test_an_address_in_any_letter_case_is_one_identity(
    local: str, domain: str, flips: list[bool], pad: str
) -> None:
    address = f"{local}@{domain}"
    assert normalise("email", pad + respell(address, flips) + pad) == normalise("email", address)


@given(LOCAL, LOCAL, DOMAIN)
def test_different_mailboxes_stay_different(a: str, b: str, domain: str) -> None:
    assume(a.lower() != b.lower())
    assert normalise("email", f"{a}@{domain}") != normalise("email", f"{b}@{domain}")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("a.b@x.example", "ab@x.example"),
        ("ab+news@x.example", "ab@x.example"),
        ("straße@x.example", "strasse@x.example"),
    ],
)
def test_no_provider_rules_merge_two_people(a: str, b: str) -> None:
    assert normalise("email", a) != normalise("email", b)


def test_idn_domains_are_stored_in_their_ascii_form() -> None:
    assert normalise("email", "Ada@Bücher.Example") == "ada@xn--bcher-kva.example"
    assert normalise("email", "ada@XN--BCHER-KVA.example") == "ada@xn--bcher-kva.example"
    with pytest.raises(InvalidIdentity, match="internationalised"):
        normalise("email", "ada@bü--cher..example")


@settings(deadline=None)  # phonenumbers loads a region's metadata on first use
@given(REGIONS, st.data())
def test_a_phone_number_written_any_way_is_one_identity(region: str, data: st.DataObject) -> None:
    number = phonenumbers.example_number(region)
    assert number is not None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = [
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        e164,
        phonenumbers.national_significant_number(number) if region != "BR" else e164,
    ]
    spaced = data.draw(st.sampled_from(written))
    gaps = data.draw(st.lists(st.sampled_from(["", " ", "-"]), min_size=40, max_size=40))
    digits_only = spaced.replace(" ", "").replace("-", "")
    respaced = digits_only[0] + "".join(g + c for g, c in zip(gaps, digits_only[1:], strict=False))
    assert normalise("phone", respaced, region) == e164
    assert normalise("phone", spaced, region) == e164


def test_national_numbers_are_read_in_the_region() -> None:
    assert normalise("phone", "22 33 44 55", "NO") == "+4722334455"
    assert normalise("phone", "+47 22 33 44 55", "US") == "+4722334455"
    assert normalise("phone", "(202) 555-0143") == "+12025550143"  # default region US
    with pytest.raises(InvalidIdentity, match="possible"):
        normalise("phone", "123", "NO")
    assert check_region(" no ") == "NO"
    with pytest.raises(InvalidIdentity, match="alpha-2"):
        check_region("XX")
