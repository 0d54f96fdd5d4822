"""Who may do what to a context.

Two layers decide:

- Scopes, granted by the token: `contexts:read` for reads, `contexts:write` for writes
  (creating a context in any namespace needs only this), `contexts:admin` for everything,
  every ACL notwithstanding. A missing scope is `Forbidden`: it says nothing about any context.
- `contexts:index`, for an indexing service (search): it widens reads to every context of
  every namespace, every ACL notwithstanding, and its change feed and listing across
  namespaces; it grants no write, no ACL change and no admin power. Reads still need
  `contexts:read` beside it: the index scope widens what a read may see, never what a caller
  may do.
- The context's owner and ACL: the owner and admins may read, write and change the ACL;
  `writers` may read and write; `readers` may read. The ACL of a context's latest version
  (a tombstone included) governs its whole history, so removing a reader hides old versions too.

403 or 404: a caller who may not read a context gets `NotFound` for every operation on it,
exactly as if it did not exist, so existence is never revealed. Only a caller who may read it
gets `Forbidden`, when they may not write it or change its ACL. Listings drop every context
the caller may not read (`readable`). One thing cannot be hidden: a name in use cannot be
created again by someone who may not read it; they get `NotFound` rather than a new context.
"""

from collections.abc import Iterable

from contexts.domain.errors import Forbidden, NotFound
from contexts.domain.model import Actor, Context, ContextKey

READ_SCOPE = "contexts:read"
WRITE_SCOPE = "contexts:write"
ADMIN_SCOPE = "contexts:admin"
INDEX_SCOPE = "contexts:index"


def is_admin(actor: Actor) -> bool:
    """Whether the actor holds the admin scope, which overrides every ACL."""
    return ADMIN_SCOPE in actor.scopes


def is_indexer(actor: Actor) -> bool:
    """Whether the actor holds the index scope, which lets it read every context (only)."""
    return INDEX_SCOPE in actor.scopes


def require_scope(actor: Actor, scope: str) -> None:
    """Raise `Forbidden` unless the actor was granted `scope` (or admin)."""
    if scope not in actor.scopes and not is_admin(actor):
        raise Forbidden(f"missing scope {scope}")


def can_read(actor: Actor, context: Context) -> bool:
    """Whether the ACL lets the actor read the context (owner, reader, writer, admin or
    indexer)."""
    return (
        is_indexer(actor)
        or can_write(actor, context)
        or not actor.acl_entries.isdisjoint(context.acl.readers)
    )


def can_write(actor: Actor, context: Context) -> bool:
    """Whether the ACL lets the actor write the context (owner, writer or admin)."""
    return can_manage(actor, context) or not actor.acl_entries.isdisjoint(context.acl.writers)


def can_manage(actor: Actor, context: Context) -> bool:
    """Whether the actor may change the context's ACL (owner or admin)."""
    return is_admin(actor) or context.owner == actor.subject


def ensure_readable(actor: Actor, key: ContextKey, context: Context | None) -> Context:
    """The context, or `NotFound` when there is none or the actor may not read it."""
    if context is None or not can_read(actor, context):
        raise NotFound(f"context {key} not found")
    return context


def ensure_writable(actor: Actor, context: Context) -> None:
    """Raise `Forbidden` unless the actor may write a context it may read."""
    if not can_write(actor, context):
        raise Forbidden(f"not a writer of context {context.key}")


def ensure_manageable(actor: Actor, context: Context) -> None:
    """Raise `Forbidden` unless the actor may change the context's ACL."""
    if not can_manage(actor, context):
        raise Forbidden(f"only the owner or an admin may change the ACL of {context.key}")


def readable(actor: Actor, contexts: Iterable[Context]) -> list[Context]:
    """The contexts the actor may read, in their order; the rest are dropped silently."""
    return [context for context in contexts if can_read(actor, context)]
