from tests.guardrails.conftest import found, labels

# Fake keys with the vendors' shapes; none is a real secret.
GITHUB = "ghp_" + "FakeToken0123456789abcdefEXAMPLE0123"
SLACK = "xoxb-123456789012-1234567890123-FakeSlackTokenEXAMPLE123"
OPENAI = "sk-proj-Fake0Key1For2Tests3Only4EXAMPLE5abc"
ANTHROPIC = "sk-ant-api03-" + "FakeAnthropicKeyEXAMPLE0123456789" * 2
GOOGLE = "AIza" + "SyFakeGoogleKeyEXAMPLE0123456789abc"
STRIPE = "sk_live_FakeStripeKeyEXAMPLE0123"
GITLAB = "glpat-FakeGitlabEXAMPLE01234"
NPM = "npm_" + "FakeNpmTokenEXAMPLE0123456789abcdefgh"[:36]
TWILIO = "SK" + "0123456789abcdef0123456789abcdef"


def test_each_vendor_is_labelled():
    text = " ".join(["AKIAIOSFODNN7EXAMPLE", GITHUB, SLACK, OPENAI, ANTHROPIC, GOOGLE, STRIPE, GITLAB, NPM, TWILIO])
    assert labels("api_key", text) == ["aws_access_key", "github_token", "slack_token", "openai_key", "anthropic_key",
                                       "google_api_key", "stripe_key", "gitlab_token", "npm_token", "twilio_api_key"]


def test_aws_secret_is_the_value_after_its_name():
    text = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion = eu-west-1"
    assert found("api_key", text) == ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]


def test_azure_storage_account_key():
    key = "Fake" + "A" * 82 + "=="
    assert labels("api_key", f"AccountName=x;AccountKey={key};EndpointSuffix=core.windows.net") == ["azure_storage_key"]


def test_sk_prefixed_words_are_not_keys():
    assert found("api_key", "sk-learn-compatible-estimator-wrapper and sk-proj-readme-for-the-new-team-members") == []


def test_a_prefix_inside_a_longer_token_is_not_a_key():
    assert found("api_key", "xAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLEX TASK0123456789abcdef0123456789abcdef") == []


def test_prefixes_alone_are_not_keys():
    assert found("api_key", "Keys look like AKIA..., ghp_..., xoxb-..., sk_live_... and AIza...") == []
