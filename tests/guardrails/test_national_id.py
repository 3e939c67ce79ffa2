from tests.guardrails.conftest import found, labels


def test_us_ssn_with_dashes_anywhere():
    assert found("national_id", "SSN on file: 536-90-4399.") == ["536-90-4399"]


def test_us_ssn_validity_rules():
    # area 000, 666 and 9xx, group 00, serial 0000 are never issued; 078-05-1120 is the famous wallet card
    assert found("national_id", "000-12-3456 666-12-3456 912-12-3456 536-00-4399 536-90-0000 078-05-1120") == []


def test_the_customary_example_is_not_reported():
    assert found("national_id", "format like 123-45-6789") == []


def test_bare_ssn_needs_a_naming_word():
    assert found("national_id", "my ssn is 536904399") == ["536904399"]
    assert found("national_id", "ticket 536904399") == []


def test_eu_ids_are_labelled_by_kind():
    text = ("Steuer-ID 36 574 261 809; NIR 2 95 10 99 126 111 93; DNI 54362315-K; NIE X-2482300W; "
            "CF RCCMNL83S18D969H; BSN 1112.22.333; PESEL 44051401359; personnummer 880320-0016; "
            "NINO AB 12 34 56 C")
    assert labels("national_id", text) == ["de_idnr", "fr_nir", "es_dni", "es_nie", "it_codice_fiscale",
                                           "nl_bsn", "pl_pesel", "se_personnummer", "uk_nino"]


def test_checksums_are_checked():
    assert found("national_id", "Steuer-ID 36 574 261 890, DNI 54362315-A, PESEL 44051401358") == []


def test_digit_only_ids_without_their_name_are_order_numbers():
    assert found("national_id", "order 44051401359, invoice 36574261809, ref 111222333") == []


def test_uk_nino_letter_rules():
    # D, F, I, Q, U, V never lead; BG, GB, NK, KN, TN, NT, ZZ are not allocated; the suffix is A-D
    assert found("national_id", "QQ 12 34 56 C, GB 12 34 56 A, AB 12 34 56 E") == []
