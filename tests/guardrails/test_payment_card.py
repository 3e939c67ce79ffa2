from tests.guardrails.conftest import found, labels


def test_grouped_and_plain_card_numbers():
    text = "4111 1111 1111 1111, 4111-1111-1111-1111, 5555555555554444"
    assert found("payment_card", text) == ["4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444"]


def test_amex_grouping_and_network_labels():
    assert labels("payment_card", "3782 822463 10005 and 6011111111111117") == ["amex", "discover"]


def test_luhn_invalid_is_not_a_card():
    assert found("payment_card", "4111 1111 1111 1112") == []


def test_numbers_outside_the_card_ranges_are_not_cards():
    # Luhn-valid, but 0, 1, 7, 8 and 9 start no card network's range; all-same digits is a filler
    assert found("payment_card", "1234567812345670 0000000000000000 7992739871300000") == []


def test_digits_inside_a_longer_token_are_not_a_card():
    assert found("payment_card", "id=x4111111111111111 4111111111111111abc") == []


def test_expiry_after_the_number_does_not_hide_it():
    assert found("payment_card", "card 4111 1111 1111 1111 12/27") == ["4111 1111 1111 1111"]
