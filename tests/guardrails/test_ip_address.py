from tests.guardrails.conftest import found, labels


def test_ipv4_and_ipv6():
    text = "from 185.220.101.47 and 2a01:4f8:c17:2b3f::1, full 2001:0db8:85a3:0000:0000:8a2e:0370:7334"
    assert labels("ip_address", text) == ["ipv4", "ipv6", "ipv6"]


def test_ports_and_brackets_are_not_part_of_the_address():
    assert found("ip_address", "10.0.0.5:8080 [2001:db8::42]:443") == ["10.0.0.5", "2001:db8::42"]


def test_loopback_and_unspecified_are_not_reported():
    assert found("ip_address", "127.0.0.1 127.1.2.3 0.0.0.0 ::1 :: 0.1.2.3") == []


def test_private_and_documentation_ranges_are_reported():
    assert found("ip_address", "10.42.7.19 192.168.1.1 192.0.2.1") == ["10.42.7.19", "192.168.1.1", "192.0.2.1"]


def test_versions_are_not_addresses():
    assert found("ip_address", "version 1.2.3.4, v4.18.2.1, 3.12.1, build 10.0.19045.3803, OID 1.3.6.1.4.1") == []


def test_invalid_octets_times_macs_and_namespaces():
    assert found("ip_address", "256.1.1.1 12:30:45 00:1a:2b:3c:4d:5e std::vector Foo::Bar dead::beef") == []
