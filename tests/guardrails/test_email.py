from tests.guardrails.conftest import found


def test_finds_addresses_in_prose():
    assert found("email", "Write to maria.gonzalez84@gmail.com or d.okafor@outlook.com.") == [
        "maria.gonzalez84@gmail.com", "d.okafor@outlook.com"]


def test_documentation_addresses_are_addresses():
    assert found("email", "Use user@example.com in the docs") == ["user@example.com"]


def test_subdomains_and_plus_tags():
    assert found("email", "<ops+alerts@mail.eu.acme-corp.io>") == ["ops+alerts@mail.eu.acme-corp.io"]


def test_not_an_address():
    assert found("email", "@property, pkg@1.2.3, user@localhost, a@@b.com, npm i @types/node") == []


def test_git_ssh_remote_is_not_a_mailbox():
    assert found("email", "git clone git@github.com:acme/app.git") == []


def test_local_part_longer_than_64_is_not_an_address():
    assert found("email", "a" * 65 + "@example.com") == []
