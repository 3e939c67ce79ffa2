from tests.guardrails.conftest import found, labels

BODY = "MIIEowIBAAKCAQEAFakeKeyBodyForTestsOnlyEXAMPLE0123456789abcdefghijklmn"


def test_a_whole_block_is_one_finding():
    text = f"key:\n-----BEGIN RSA PRIVATE KEY-----\n{BODY}\n-----END RSA PRIVATE KEY-----\nthanks"
    assert found("private_key", text) == [f"-----BEGIN RSA PRIVATE KEY-----\n{BODY}\n-----END RSA PRIVATE KEY-----"]


def test_kinds_are_labelled():
    text = "\n".join(f"-----BEGIN {k}PRIVATE KEY-----\n{BODY}\n-----END {k}PRIVATE KEY-----"
                     for k in ("OPENSSH ", "EC ", "ENCRYPTED ", ""))
    assert labels("private_key", text) == ["private_key_openssh", "private_key_ec", "private_key_encrypted",
                                           "private_key_pkcs8"]


def test_a_begin_without_end_still_counts():
    text = f"half of it:\n-----BEGIN OPENSSH PRIVATE KEY-----\n{BODY}"
    assert found("private_key", text) == [f"-----BEGIN OPENSSH PRIVATE KEY-----\n{BODY}"]


def test_a_key_inside_json_with_escaped_newlines():
    text = '{"private_key": "-----BEGIN PRIVATE KEY-----\\n' + BODY + '\\n-----END PRIVATE KEY-----\\n"}'
    assert labels("private_key", text) == ["private_key_pkcs8"]


def test_a_header_alone_is_not_a_key():
    assert found("private_key", "What is `-----BEGIN RSA PRIVATE KEY-----` versus `-----BEGIN PRIVATE KEY-----`?") == []


def test_public_keys_and_certificates_are_not_private_keys():
    text = f"-----BEGIN PUBLIC KEY-----\n{BODY}\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n{BODY}"
    assert found("private_key", text) == []
