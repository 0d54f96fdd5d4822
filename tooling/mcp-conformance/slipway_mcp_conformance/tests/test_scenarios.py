"""The classification of the conformance suite's server scenarios."""

from slipway_mcp_conformance.scenarios import SCENARIOS, parse_list_output, unclassified

# `npx @modelcontextprotocol/conformance@0.1.10 list --server`, verbatim.
LISTED_BY_0_1_10 = """Server scenarios (test against a server):
  - server-initialize
  - logging-set-level
  - ping
  - completion-complete
  - tools-list
  - tools-call-simple-text
  - tools-call-image
  - tools-call-audio
  - tools-call-embedded-resource
  - tools-call-mixed-content
  - tools-call-with-logging
  - tools-call-error
  - tools-call-with-progress
  - tools-call-sampling
  - tools-call-elicitation
  - json-schema-2020-12
  - elicitation-sep1034-defaults
  - server-sse-polling
  - server-sse-multiple-streams
  - elicitation-sep1330-enums
  - resources-list
  - resources-read-text
  - resources-read-binary
  - resources-templates-read
  - resources-subscribe
  - resources-unsubscribe
  - prompts-list
  - prompts-get-simple
  - prompts-get-with-args
  - prompts-get-embedded-resource
  - prompts-get-with-image
"""


def test_every_scenario_of_the_pinned_suite_is_classified_once() -> None:
    listed = parse_list_output(LISTED_BY_0_1_10)
    assert len(listed) == 31
    assert unclassified(listed) == []
    assert sorted(s.name for s in SCENARIOS) == sorted(listed)


def test_a_new_scenario_is_reported_unclassified() -> None:
    listed = parse_list_output(LISTED_BY_0_1_10 + "  - tasks-get\n")
    assert unclassified(listed) == ["tasks-get"]


def test_every_scenario_that_does_not_apply_says_why() -> None:
    skipped = [s for s in SCENARIOS if not s.applies]
    assert skipped
    assert all(s.reason for s in skipped)
    assert all(not s.reason for s in SCENARIOS if s.applies)


def test_the_scenarios_run_are_the_ones_this_server_can_answer() -> None:
    assert {s.name for s in SCENARIOS if s.applies} == {
        "server-initialize",
        "ping",
        "tools-list",
        "resources-list",
        "server-sse-multiple-streams",
    }
