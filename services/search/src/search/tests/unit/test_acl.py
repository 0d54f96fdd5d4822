"""contexts' read rule, as search states it: the same table of cases as contexts' own."""

import pytest

from search.domain.acl import ADMIN_SCOPE, READ_SCOPE, is_admin, may_read, may_read_acl
from search.domain.model import Reader
from search.tests.builders import ALICE, BOB, CAROL, EVE, ROOT, indexed


@pytest.mark.parametrize(
    ("reader", "reads"),
    [
        (ALICE, True),  # owner
        (BOB, True),  # named reader
        (CAROL, True),  # writer through a group: writers may read
        (EVE, False),  # stranger
        (ROOT, True),  # admin scope, in no ACL
    ],
)
def test_owner_readers_writers_and_admins_may_read(reader: Reader, reads: bool) -> None:
    assert may_read(reader, indexed("runbook", "text")) is reads


@pytest.mark.parametrize(
    ("owner", "readers", "writers", "reader", "reads"),
    [
        ("alice", [], [], Reader("alice"), True),  # the owner, with an empty ACL
        ("subject:alice", [], [], Reader("alice"), False),  # owner is a bare subject
        ("zed", ["subject:eve"], [], Reader("eve"), True),  # a reader by subject
        ("zed", [], ["subject:eve"], Reader("eve"), True),  # a writer by subject
        ("zed", ["group:ops"], [], Reader("eve", groups=frozenset({"ops"})), True),
        ("zed", [], ["group:ops"], Reader("eve", groups=frozenset({"ops"})), True),
        ("zed", ["group:ops"], [], Reader("ops"), False),  # a subject is not a group
        ("zed", ["subject:ops"], [], Reader("eve", groups=frozenset({"ops"})), False),
        ("zed", ["eve"], [], Reader("eve"), False),  # entries carry their prefix
        ("zed", [], [], Reader("eve", scopes=frozenset({READ_SCOPE})), False),
        ("zed", [], [], Reader("eve", scopes=frozenset({ADMIN_SCOPE})), True),
    ],
)
def test_the_rule_entry_by_entry(
    owner: str, readers: list[str], writers: list[str], reader: Reader, reads: bool
) -> None:
    assert may_read_acl(reader, owner, readers, writers) is reads


def test_only_the_admin_scope_overrides_the_acl() -> None:
    assert is_admin(ROOT)
    assert not is_admin(Reader("alice", scopes=frozenset({READ_SCOPE, "contexts:write"})))
