"""Who may read what: contexts' own read rule, restated for the index.

search serves contexts' data, so it answers a reader with exactly the contexts contexts would
let them read (contexts' `domain/policy.py` and `ContextAccess.readable_by`): a context is
readable by

- a holder of the admin scope `contexts:admin`, every ACL notwithstanding;
- its owner (`owner == subject`);
- anyone whose ACL entries (`subject:<sub>` and each `group:<g>`) meet its `readers` or its
  `writers` (writers may read).

The SQL adapters state the same rule as a WHERE clause (so pages and counts are right);
`may_read` is the reference the tests hold both to.
"""

from collections.abc import Collection

from search.domain.model import IndexedContext, Reader

READ_SCOPE = "contexts:read"
ADMIN_SCOPE = "contexts:admin"


def is_admin(reader: Reader) -> bool:
    """Whether the reader holds the admin scope, which overrides every ACL."""
    return ADMIN_SCOPE in reader.scopes


def may_read_acl(
    reader: Reader, owner: str, readers: Collection[str], writers: Collection[str]
) -> bool:
    """Whether `reader` may read a context with this owner and ACL."""
    entries = reader.acl_entries
    return (
        is_admin(reader)
        or owner == reader.subject
        or not entries.isdisjoint(readers)
        or not entries.isdisjoint(writers)
    )


def may_read(reader: Reader, context: IndexedContext) -> bool:
    """Whether `reader` may read `context` (owner, reader, writer or admin)."""
    return may_read_acl(reader, context.owner, context.readers, context.writers)
