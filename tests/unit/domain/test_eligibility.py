"""Eligibility values are shared: a million students hold references to a handful of them."""

from __future__ import annotations

from rostersync.domain.eligibility import EligibilityStatus, eligibility, eligibility_from_value


def test_equal_eligibilities_are_one_shared_value() -> None:
    assert eligibility_from_value("rd") is eligibility_from_value(" RD ")
    assert eligibility(EligibilityStatus.ELIGIBLE, "RD") is eligibility_from_value("RD")
    assert eligibility_from_value("no") is eligibility(EligibilityStatus.NOT_ELIGIBLE)
    assert eligibility_from_value("") is None
