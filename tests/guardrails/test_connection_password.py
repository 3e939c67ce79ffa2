import pytest

from guardrails.detectors.secrets import is_placeholder
from tests.guardrails.conftest import found, labels


def test_password_in_url_user_info():
    assert found("connection_password", "postgres://app:s3cr3t-P4ss@db.internal:5432/app") == ["s3cr3t-P4ss"]


def test_url_without_user_name():
    assert found("connection_password", "redis://:hunter2@cache:6379/0") == ["hunter2"]


def test_ado_and_jdbc_fields():
    text = ("Server=tcp:x;Database=db;User ID=admin;Password=Sup3r!Secret;Encrypt=True\n"
            "jdbc:sqlserver://h:1433;databaseName=x;user=sa;password=Tr0ub4dor&3;\n"
            "jdbc:postgresql://h/x?user=app&password=L3dg3r&ssl=true")
    assert found("connection_password", text) == ["Sup3r!Secret", "Tr0ub4dor&3", "L3dg3r"]
    assert set(labels("connection_password", text)) == {"connection_string_password"}


def test_odbc_braced_value():
    assert found("connection_password", "Driver={x};Server=s;Uid=u;Pwd={Br4ced;Pass};") == ["Br4ced;Pass"]


@pytest.mark.parametrize("text", [
    "postgres://user:password@localhost/db",
    "postgres://postgres:postgres@localhost/db",  # the container's default: same as the user name
    "DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db:5432/app",
    "mongodb://<username>:<password>@cluster0.example.mongodb.net/",
    "Server=localhost;Database=Shop;User Id=sa;Password=<your-password>;",
    "Server=x;Uid=u;Pwd={your_password_here};",
    "Server=x;User=u;Password=changeme;",
    "Server=x;User=u;Password=%DB_PASSWORD%;",
    "Server=x;User=u;Password={{ vault_db_password }};",
    "Server=x;User=u;Password=********;",
    "psycopg.connect(host=h, user=u, password=os.getenv('PGPASSWORD'))",
    "mysql.connector.connect(host=HOST, user=USER, password=PASSWORD)",
    "redis.Redis(host='cache', port=6379, password=None)",
    "spring.datasource.password=${DB_PASSWORD}",
])
def test_placeholders_and_code_are_not_passwords(text):
    assert found("connection_password", text) == []


def test_a_password_field_outside_a_connection_string_is_not_reported():
    assert found("connection_password", "The form has fields username= and password=secret123 in the docs") == []


def test_placeholder_words():
    assert is_placeholder("changeme")
    assert is_placeholder("YOUR_PASSWORD")
    assert is_placeholder("guest", user="guest")
    assert not is_placeholder("Winter2026!")
