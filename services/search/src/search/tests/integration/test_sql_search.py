"""The SQL search index, the same tests on SQLite FTS5 and on PostgreSQL full-text search."""

import itertools
from typing import Any

import pytest

from search.adapters.sql import SqlSearchIndex
from search.domain.acl import may_read
from search.domain.errors import InvalidCursorError, InvalidQueryError
from search.domain.model import ContextRef, IndexedContext, Reader, SearchQuery
from search.tests.builders import ALICE, BOB, CAROL, EVE, EVERYONE, ROOT, indexed, removal

RUNBOOK = ContextRef("team-a", "runbook")


async def names(
    index: SqlSearchIndex, text: str, reader: Reader = ROOT, **filters: object
) -> list[str]:
    page = await index.search(SearchQuery(text=text, **filters), reader)  # type: ignore[arg-type]
    return [f"{hit.ref.namespace}/{hit.ref.name}" for hit in page.hits]


async def load(index: SqlSearchIndex, *contexts: IndexedContext) -> None:
    for context in contexts:
        await index.put(context)


async def test_words_phrases_alternatives_and_exclusions(index: SqlSearchIndex) -> None:
    await load(
        index,
        indexed("deploy", "How to deploy the service and roll back a release"),
        indexed("release", "Release checklist: tag, build, publish"),
        indexed("draft", "A draft of the deploy checklist"),
    )

    assert set(await names(index, "deploy")) == {"team-a/deploy", "team-a/draft"}
    assert await names(index, "deploy -draft") == ["team-a/deploy"]
    assert await names(index, '"roll back"') == ["team-a/deploy"]
    assert await names(index, '"back roll"') == []
    assert set(await names(index, "publish or rollback or roll")) == {
        "team-a/release",
        "team-a/deploy",
    }
    assert await names(index, "CHECKLIST tag") == ["team-a/release"]
    assert await names(index, "-deploy") == []
    assert await names(index, 'x AND ) NEAR( "*') == []  # operators are only words


async def test_names_and_labels_are_searchable_and_outrank_the_text(
    index: SqlSearchIndex,
) -> None:
    await load(
        index,
        indexed("notes", "the rollback happened twice, rollback again"),
        indexed("rollback", "what to do"),
        indexed("ops", "nothing here", labels={"topic": "rollback"}),
    )

    assert await names(index, "rollback") == ["team-a/rollback", "team-a/ops", "team-a/notes"]


async def test_more_matches_rank_higher_and_scores_descend(index: SqlSearchIndex) -> None:
    await load(
        index,
        indexed("once", "deploy " + "filler " * 30),
        indexed("thrice", "deploy deploy deploy " + "filler " * 28),
    )

    page = await index.search(SearchQuery(text="deploy"), ROOT)

    assert [hit.ref.name for hit in page.hits] == ["thrice", "once"]
    assert page.hits[0].score > page.hits[1].score > 0


async def test_snippets_mark_matches_and_escape_the_rest(index: SqlSearchIndex) -> None:
    await load(
        index,
        indexed("html", "<b>bold</b> & the rollback <script>x</script>"),
        indexed("math", "if 1 < 2 & 3 > 2 then rollback"),
    )

    html = (await index.search(SearchQuery(text="rollback", namespace="team-a"), ROOT)).hits
    snippets = {hit.ref.name: hit.snippet for hit in html}

    # PostgreSQL's parser drops markup from headlines; SQLite keeps it, escaped.
    assert "<mark>rollback</mark>" in snippets["html"]
    assert "&amp;" in snippets["html"]
    assert "bold" in snippets["html"]
    assert "<script>" not in snippets["html"]
    assert "<b>" not in snippets["html"]
    assert "1 &lt; 2 &amp; 3 &gt; 2 then <mark>rollback</mark>" in snippets["math"]


async def test_filters_by_namespace_kind_and_every_label(index: SqlSearchIndex) -> None:
    await load(
        index,
        indexed("a", "deploy", labels={"env": "prod", "team": "ops"}),
        indexed("b", "deploy", labels={"env": "prod"}, kind="config"),
        indexed("c", "deploy", labels={"env": "dev", "team": "ops"}, namespace="team-b"),
    )

    assert await names(index, "deploy", namespace="team-b") == ["team-b/c"]
    assert await names(index, "deploy", kind="config") == ["team-a/b"]
    assert set(await names(index, "deploy", labels={"env": "prod"})) == {"team-a/a", "team-a/b"}
    assert await names(index, "deploy", labels={"env": "prod", "team": "ops"}) == ["team-a/a"]
    assert await names(index, "deploy", labels={"team": "prod"}) == []
    assert await names(index, "deploy", namespace="team-b", kind="config") == []


ACLS = [
    ("owned-by-alice", "alice", [], []),
    ("shared-with-bob", "zed", ["subject:bob"], []),
    ("written-by-editors", "zed", [], ["group:editors"]),
    ("read-by-editors", "zed", ["group:editors"], []),
    ("written-by-eve", "zed", [], ["subject:eve"]),
    ("nobodys", "zed", [], []),
    ("everyones-group", "zed", ["group:everyone"], ["subject:carol"]),
]


async def test_hits_are_exactly_what_contexts_rule_lets_each_reader_read(
    index: SqlSearchIndex,
) -> None:
    corpus = [
        indexed(name, "incident report", owner=owner, readers=readers, writers=writers)
        for name, owner, readers, writers in ACLS
    ]
    await load(index, *corpus)
    readers = [*EVERYONE, Reader("dan", groups=frozenset({"everyone", "editors"}))]

    for reader in readers:
        expected = {f"team-a/{c.ref.name}" for c in corpus if may_read(reader, c)}
        assert set(await names(index, "incident", reader)) == expected, reader.subject
    assert await names(index, "incident", EVE) == ["team-a/written-by-eve"]
    assert len(await names(index, "incident", ROOT)) == len(ACLS)


async def test_pages_cover_every_hit_once_in_order(index: SqlSearchIndex) -> None:
    await load(
        index,
        *(indexed(f"doc-{n:02d}", "deploy " * (1 + n % 4) + "filler " * 10) for n in range(23)),
        indexed("hidden", "deploy", owner="zed", readers=[], writers=[]),
    )
    everything = await index.search(SearchQuery(text="deploy", limit=100), BOB)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await index.search(SearchQuery(text="deploy", limit=5, cursor=cursor), BOB)
        seen += [hit.ref.name for hit in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [hit.ref.name for hit in everything.hits]
    assert len(seen) == 23
    assert "hidden" not in seen
    scores = [hit.score for hit in everything.hits]
    assert scores == sorted(scores, reverse=True)


async def test_a_cursor_only_continues_its_own_search(index: SqlSearchIndex) -> None:
    await load(index, *(indexed(f"doc-{n}", "deploy") for n in range(3)))
    first = await index.search(SearchQuery(text="deploy", limit=2), ROOT)
    assert first.next_cursor is not None

    with pytest.raises(InvalidCursorError):
        await index.search(SearchQuery(text="other", cursor=first.next_cursor), ROOT)
    with pytest.raises(InvalidCursorError):
        await index.search(SearchQuery(text="deploy", cursor=first.next_cursor + "x"), ROOT)
    with pytest.raises(InvalidQueryError):
        await index.search(SearchQuery(text="deploy", limit=101), ROOT)


async def test_an_older_version_never_replaces_a_newer_one(index: SqlSearchIndex) -> None:
    await index.put(indexed("runbook", "second edition", version=2))
    await index.put(indexed("runbook", "first edition", version=1))
    await index.put(indexed("runbook", "second edition again", version=2))

    assert await index.indexed_version(RUNBOOK) == 2
    assert await names(index, "first") == []
    assert await names(index, "second") == ["team-a/runbook"]


async def test_a_removal_hides_the_context_and_keeps_older_versions_out(
    index: SqlSearchIndex,
) -> None:
    await index.put(indexed("runbook", "rollback steps", version=1))
    await index.put(removal("runbook", version=2))

    assert await names(index, "rollback") == []
    assert await names(index, "runbook") == []
    assert await index.indexed_version(RUNBOOK) is None
    assert await index.latest_version(RUNBOOK) == 2
    assert await index.count() == 0

    await index.put(indexed("runbook", "rollback steps", version=1))  # late, older
    assert await names(index, "rollback") == []

    await index.put(indexed("runbook", "recreated rollback", version=3))  # created again
    assert await names(index, "recreated") == ["team-a/runbook"]
    assert await index.count() == 1


async def test_a_removal_of_an_unknown_context_is_remembered(index: SqlSearchIndex) -> None:
    await index.put(removal("runbook", version=5))
    await index.put(indexed("runbook", "stale", version=4))

    assert await index.indexed_version(RUNBOOK) is None
    assert await names(index, "stale") == []


async def test_an_event_is_applied_once(index: SqlSearchIndex) -> None:
    assert await index.apply("event-1", indexed("runbook", "first", version=1))
    assert not await index.apply("event-1", indexed("runbook", "first", version=1))
    assert await index.apply("event-2", indexed("runbook", "second", version=2))
    # A repeat carrying a newer change still changes nothing: the id was applied.
    assert not await index.apply("event-2", indexed("runbook", "third", version=3))

    assert await index.indexed_version(RUNBOOK) == 2
    assert await index.apply("event-3", removal("runbook", version=3))
    assert await index.count() == 0


async def test_an_acl_change_applies_to_search_at_once(index: SqlSearchIndex) -> None:
    await index.put(indexed("runbook", "rollback", version=1))
    assert await names(index, "rollback", BOB) == ["team-a/runbook"]

    await index.put(indexed("runbook", "rollback", version=2, readers=[], writers=[]))

    assert await names(index, "rollback", BOB) == []
    assert await names(index, "rollback", CAROL) == []
    assert await names(index, "rollback", ALICE) == ["team-a/runbook"]


async def test_text_with_nul_and_huge_bodies_is_indexed(index: SqlSearchIndex) -> None:
    await index.put(indexed("nul", "before\x00after " + "word " * 30_000 + "tail"))

    assert await names(index, "after") == ["team-a/nul"]


WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]
SPECIAL = [
    "mail ops@example.com or see https://docs.example.com/run-book?x=1",
    "pi is 3.14, path /etc/app.conf, it's a foo-bar_baz",
    "Éclair ñandú 日本語 CamelCase",
]
QUERIES = [
    *WORDS,
    "example",
    "ops@example.com",
    "docs.example.com",
    "run-book",
    "3.14",
    "14",
    "app.conf",
    "etc",
    "foo bar baz",
    '"foo-bar baz"',
    "it's",
    "éclair",
    "eclair",
    "camelcase",
    "日本語",
    "alpha beta",
    '"beta gamma"',
    "alpha or epsilon",
    "alpha -delta",
    "gamma or -alpha",
    "missing",
]


@pytest.mark.integration
async def test_both_backends_give_the_same_answers(tmp_path: object, postgres_url: str) -> None:
    from pathlib import Path

    from search.migrations import MIGRATIONS_DIR
    from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database

    corpus = [
        indexed(
            f"doc-{n}",
            " ".join(combination),
            owner=["alice", "zed"][n % 2],
            readers=[["subject:bob"], []][n % 3 % 2],
            writers=[[], ["group:editors"]][n % 5 % 2],
            labels={"parity": str(n % 2)},
        )
        for n, combination in enumerate(itertools.permutations(WORDS, 3))
    ] + [indexed(f"special-{n}", text) for n, text in enumerate(SPECIAL)]
    answers: list[dict[tuple[str, str], set[str]]] = []
    directory = Path(str(tmp_path))
    async with (
        throwaway_sqlite_database(directory, migrations_dir=MIGRATIONS_DIR) as sqlite,
        throwaway_postgres_database(postgres_url, migrations_dir=MIGRATIONS_DIR) as postgres,
    ):
        for database in (sqlite, postgres):
            index = SqlSearchIndex(database)
            await load(index, *corpus)
            answer = {}
            for query, reader in itertools.product(QUERIES, EVERYONE):
                hits = await names(index, query, reader, limit=100)
                answer[(query, reader.subject)] = set(hits)
                assert len(hits) == len(set(hits))
            answers.append(answer)

    assert answers[0] == answers[1]
    found = answers[0]
    assert found[("docs.example.com", "root")] == {"team-a/special-0"}
    assert found[("3.14", "root")] == {"team-a/special-1"}
    assert found[('"foo-bar baz"', "root")] == {"team-a/special-1"}
    assert found[("日本語", "root")] == {"team-a/special-2"}
    assert found[("eclair", "root")] == set()  # diacritics are kept, on both
    assert len(found[("alpha -delta", "bob")]) > 0


@pytest.mark.integration
async def test_postgres_searches_through_the_gin_index(postgres_url: str) -> None:
    import sqlalchemy as sa

    from search.adapters.sql.queries import postgres_search
    from search.domain.search import plan_search
    from search.migrations import MIGRATIONS_DIR
    from slipway.db.testing import throwaway_postgres_database

    async with throwaway_postgres_database(postgres_url, migrations_dir=MIGRATIONS_DIR) as db:
        index = SqlSearchIndex(db)
        await load(index, *(indexed(f"doc-{n}", f"word{n} common") for n in range(50)))
        statement = postgres_search(plan_search(SearchQuery(text="word7")), BOB)

        def explain(*args: Any) -> tuple[str, Any]:
            _connection, _cursor, sql, parameters = args[:4]
            return "EXPLAIN " + sql, parameters

        async with db.engine.connect() as connection:
            await connection.execute(sa.text("SET enable_seqscan = off"))
            sa.event.listen(
                connection.sync_connection, "before_cursor_execute", explain, retval=True
            )
            rows = (await connection.execute(statement)).all()
        plan = "\n".join(str(row[0]) for row in rows)

    assert "ix_search_contexts_document" in plan


HOSTILE = [
    '"',
    "-",
    "or",
    "OR OR",
    "NEAR(a b) AND * ^",
    "a' OR 1=1 --",
    "(((",
    "x:*",
    "\\",
    "!&|<->",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_query_text_is_only_words(index: SqlSearchIndex, text: str) -> None:
    await load(index, indexed("runbook", "or near x a 1"))

    await index.search(SearchQuery(text=text), ALICE)  # no syntax error, whatever it finds


async def test_concurrent_writers_of_one_context_leave_the_newest(index: SqlSearchIndex) -> None:
    import asyncio

    versions = [7, 2, 12, 5, 1, 9, 3, 11, 4, 8, 10, 6]  # any order

    await asyncio.gather(
        *(index.put(indexed("runbook", f"edition{v}", version=v)) for v in versions),
        index.put(removal("other", version=3)),
    )

    assert await index.indexed_version(RUNBOOK) == 12
    assert await names(index, "edition12") == ["team-a/runbook"]
    assert await names(index, "edition11") == []
