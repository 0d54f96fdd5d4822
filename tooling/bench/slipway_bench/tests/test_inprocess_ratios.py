"""`--in-process N --in-process-ratios ...`: platform+otlp measured once per sampling ratio."""

from slipway_bench.inprocess import OTLP_KIND, app_label, measured_apps
from slipway_bench.overhead import parse_args


def test_the_otlp_app_is_measured_at_every_ratio_and_the_others_once() -> None:
    pairs = measured_apps(["bare", "platform", OTLP_KIND], [1.0, 0.25, 0.1])

    assert pairs == [
        ("bare", 1.0),
        ("platform", 1.0),
        (OTLP_KIND, 1.0),
        (OTLP_KIND, 0.25),
        (OTLP_KIND, 0.1),
    ]


def test_labels_name_the_ratio_only_when_several_are_measured() -> None:
    assert app_label(OTLP_KIND, 0.25, [1.0, 0.25]) == "platform+otlp@0.25"
    assert app_label(OTLP_KIND, 0.25, [0.25]) == OTLP_KIND
    assert app_label("platform", 1.0, [1.0, 0.25]) == "platform"


def test_in_process_ratios_are_parsed_and_default_to_none() -> None:
    assert parse_args([]).in_process_ratios is None
    args = parse_args(["--in-process", "100", "--in-process-ratios", "1", "0.25", "0.1"])

    assert args.in_process_ratios == [1.0, 0.25, 0.1]
