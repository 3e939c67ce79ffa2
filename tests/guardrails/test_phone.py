from tests.guardrails.conftest import found, labels


def test_us_formats():
    text = "Call (415) 555-2671, 212-555-0147 or 415.555.0132."
    assert found("phone", text) == ["(415) 555-2671", "212-555-0147", "415.555.0132"]


def test_international_numbers_with_plus():
    assert labels("phone", "London +44 20 7946 0958, Berlin +49 30 901820") == ["phone_gb", "phone_de"]


def test_tel_uri():
    assert found("phone", "tel:+14155552671") == ["+14155552671"]


def test_bare_digits_count_only_after_a_phone_word():
    assert found("phone", "phone 4155552671") == ["4155552671"]
    assert found("phone", "build 4155552671") == []


def test_order_numbers_years_versions_dates_are_not_phones():
    text = "Order #4155552671 shipped in 2024. Order 415-555-2671 too. v3.12.1, 2024-05-17, 10.42.7.19, 12:30:45"
    assert found("phone", text) == []


def test_a_list_of_small_numbers_is_not_a_phone():
    assert found("phone", "1 2 3 4 5 6 7 8") == []


def test_trailing_group_is_cut_when_it_breaks_the_number():
    assert found("phone", "call 212 555 0100 2 times") == ["212 555 0100"]
