from tests.guardrails.conftest import found, labels


def test_with_and_without_spaces():
    text = "DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432"
    assert found("iban", text) == ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]


def test_the_country_length_stops_the_match_before_a_trailing_word():
    assert found("iban", "IBAN DE89 3704 0044 0532 0130 00 DEUTSCHE BANK") == ["DE89 3704 0044 0532 0130 00"]


def test_label_is_the_country():
    assert labels("iban", "NL91ABNA0417164300") == ["iban_nl"]


def test_wrong_check_digits_are_not_an_iban():
    assert found("iban", "DE88 3704 0044 0532 0130 00") == []


def test_uppercase_words_and_codes_are_not_ibans():
    assert found("iban", "AB12 CDEF GHIJ KLMN and SHA256 and HTTP2 ISO8601") == []
