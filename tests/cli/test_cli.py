"""The ``autoledger`` command line on an embedded SQLite file: what it prints, how it fails."""

import re

import pytest

from autoledger.db.migrate import head_revision
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.errors import InvalidApiKey
from autoledger.platform.auth.roles import Role
from tests.cli.conftest import Cli, assert_one_line_error, in_database

KEY = re.compile(r"^al_[0-9a-f]{12}_[A-Za-z0-9]{43}$")


async def test_migrate_brings_the_database_to_head(cli: Cli) -> None:
    result = await cli("migrate")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"database at revision {head_revision()}"
    assert (await cli("migrate")).exit_code == 0


async def test_a_tenant_is_created_once(migrated: Cli) -> None:
    created = await migrated("tenants", "create", "acme")
    assert created.exit_code == 0, created.output
    assert re.fullmatch(r"[0-9a-f-]{36}\s+acme", created.stdout.strip()), created.stdout

    again = await migrated("tenants", "create", "acme")
    assert_one_line_error(again, "error: tenants.name_taken")

    listed = await migrated("tenants", "list")
    assert listed.exit_code == 0, listed.output
    assert "acme" in listed.stdout


async def test_an_invalid_tenant_name_is_one_line(migrated: Cli) -> None:
    result = await migrated("tenants", "create", "Not Valid")
    assert_one_line_error(result, "error: tenants.invalid_name")


async def test_a_created_key_authenticates_with_its_roles(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated("keys", "create", "--tenant", "acme", "--roles", "admin")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert KEY.match(key), key

    principal = await in_database(migrated.settings, lambda s: auth.authenticate(s, key))
    assert principal.tenant_name == "acme"
    assert principal.roles == frozenset({Role.ADMIN})


async def test_roles_may_be_repeated_or_comma_separated(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated(
        "keys", "create", "--tenant", "acme", "--roles", "viewer,approver", "--roles", "auditor"
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    principal = await in_database(migrated.settings, lambda s: auth.authenticate(s, key))
    assert principal.roles == frozenset({Role.VIEWER, Role.APPROVER, Role.AUDITOR})


async def test_an_unknown_role_is_one_line(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated("keys", "create", "--tenant", "acme", "--roles", "root")
    assert_one_line_error(result, "error: unknown role")


async def test_a_key_for_an_unknown_tenant_is_refused(migrated: Cli) -> None:
    result = await migrated("keys", "create", "--tenant", "nobody", "--roles", "viewer")
    assert_one_line_error(result, "error: tenants.not_found")


async def test_a_revoked_key_no_longer_authenticates(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    key = (await migrated("keys", "create", "--tenant", "acme", "--roles", "viewer")).stdout.strip()
    principal = await in_database(migrated.settings, lambda s: auth.authenticate(s, key))

    result = await migrated("keys", "revoke", "--tenant", "acme", str(principal.key_id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"revoked {principal.key_id}"
    with pytest.raises(InvalidApiKey):
        await in_database(migrated.settings, lambda s: auth.authenticate(s, key))


async def test_revoking_a_malformed_key_id_is_one_line(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated("keys", "revoke", "--tenant", "acme", "not-a-uuid")
    assert_one_line_error(result, "error: 'not-a-uuid' is not a key id")


async def test_an_invalid_setting_is_one_line_naming_it(cli: Cli) -> None:
    result = await cli("tenants", "list", AUTOLEDGER_PORT="abc")
    assert_one_line_error(result, "error: invalid setting AUTOLEDGER_PORT:")


async def test_an_unmigrated_database_is_one_line(cli: Cli) -> None:
    result = await cli("tenants", "list")
    assert_one_line_error(result, "error: database error: no such table: tenants")


async def test_an_unreachable_database_is_one_line(cli: Cli) -> None:
    result = await cli(
        "tenants", "list", AUTOLEDGER_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere"
    )
    assert_one_line_error(result, "error: cannot reach the database:")
