"""Settings every service shares: each service's own database, from one setting too."""

from kernel.settings import ServiceSettings


def test_each_service_owns_its_database_even_from_one_shared_setting() -> None:
    assert ServiceSettings(service_name="sla").database_name == "lapor_sla"
    shared = "staging_{service}"
    names = {
        ServiceSettings(service_name=s, mongo_database=shared).database_name
        for s in ("sla", "standards")
    }
    assert names == {"staging_sla", "staging_standards"}
    assert ServiceSettings(service_name="sla", mongo_database="only").database_name == "only"
