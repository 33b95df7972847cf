"""References and names as the matcher compares them."""

from autoledger.reconcile.normalize import party_key, reference_key, reference_tokens


def test_references_compare_without_case_and_separators() -> None:
    assert reference_key("INV-00042") == reference_key("inv 00042") == "INV00042"


def test_short_references_are_not_trusted() -> None:
    assert reference_key("12") is None
    assert reference_key("A-1") is None
    assert reference_key(None) is None


def test_tokens_find_references_in_free_text() -> None:
    tokens = set(reference_tokens("Payment INV-00042, INV 00043 thanks", None))
    assert {"INV00042", "INV00043"} <= tokens


def test_party_key_drops_boilerplate_legal_form_and_numbers() -> None:
    assert party_key("ACH CREDIT BLUE BOTTLE COFFEE 123456") == "BLUE BOTTLE COFFEE"
    assert party_key("Blue Bottle Coffee Inc.") == "BLUE BOTTLE COFFEE"
    assert party_key("SQ *BLUE BOTTLE #0423") == "BLUE BOTTLE"
    assert party_key("DEPOSIT 1234") == ""
    assert party_key(None) == ""
