"""``set_limits``: two first writes at once for one owner, and what a model's cap may hold."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from portal import services
from portal.models import LimitSettings


@pytest.mark.django_db(transaction=True)
def test_two_first_writes_at_once_leave_one_row_and_no_error(make_tenant):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite takes one writer at a time: there is no race to lose")
    application = services.create_application(actor=None, tenant=make_tenant("racing"), name="racer")
    key, _ = services.create_api_key(actor=None, application=application)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(rpm: int) -> None:
        try:
            start.wait()
            services.set_limits(actor=None, owner=key, values={"requests_per_minute": rpm})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(rpm,)) for rpm in (10, 20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert LimitSettings.objects.filter(key=key).count() == 1
    assert LimitSettings.objects.get(key=key).requests_per_minute in (10, 20)


@pytest.mark.django_db
def test_a_models_cap_takes_rates_not_budgets(make_alias):
    alias = make_alias("capped-chat")
    services.set_limits(actor=None, owner=alias, values={"requests_per_minute": 1000})
    with pytest.raises(ValidationError, match="budgets belong to keys"):
        services.set_limits(actor=None, owner=alias, values={"cost_per_day": Decimal("5")})
    assert LimitSettings.objects.get(alias=alias).cost_per_day is None
