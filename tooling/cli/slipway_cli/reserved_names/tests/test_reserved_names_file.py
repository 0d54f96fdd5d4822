"""3rdparty/python/reserved-names.yml: current with the lockfile, and how it is computed."""

import importlib.metadata
from pathlib import Path

import pytest
import yaml

from slipway_cli.reserved_names import generate


def committed() -> object:
    return yaml.safe_load(generate.RESERVED_FILE.read_text(encoding="utf-8"))


def test_the_committed_file_is_current_with_the_lockfile_and_the_interpreter() -> None:
    locked = generate.locked_distributions(generate.LOCKFILE.read_text(encoding="utf-8"))
    installed = generate.installed_modules()
    expected = generate.compute(locked, installed)
    problems = generate.differences(committed(), expected, unknown=locked - installed.keys())
    assert not problems, (
        f"{generate.RESERVED_FILE} is stale:\n  "
        + "\n  ".join(problems)
        + f"\nRegenerate it with `{generate.COMMAND}` and commit it."
    )


@pytest.mark.parametrize(
    "package", ["idna", "hypothesis_graphql", "httpx2", "httpcore2", "mcp_types", "attr", "jwt"]
)
def test_locked_distributions_and_their_modules_are_reserved(package: str) -> None:
    reserved = committed()
    assert isinstance(reserved, dict)
    assert package in reserved["third_party"]


def test_the_standard_library_keywords_and_the_repository_names_are_reserved() -> None:
    reserved = committed()
    assert isinstance(reserved, dict)
    assert {"json", "logging", "cprofile", "tomllib"} <= set(reserved["stdlib"])
    assert {"class", "match", "none", "type"} <= set(reserved["keywords"])
    assert {"slipway", "services", "libs", "tests"} <= set(reserved["platform"])


def _distribution(site: Path, name: str, files: dict[str, str]) -> importlib.metadata.Distribution:
    for relative, text in files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    return importlib.metadata.PathDistribution(info)


def test_modules_come_from_the_record_of_a_shared_site_packages(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    _distribution(site, "other", {})  # not alone: the directory listing says nothing
    record = (
        "attr/__init__.py,,\nattrs/__init__.py,,\n_private.py,,\nfast.cpython-311-x86_64.so,,\n"
        "extra.pth,,\n../../bin/tool,,\nattrs-1.0.dist-info/METADATA,,\n"
    )
    dist = _distribution(site, "attrs", {"attrs-1.0.dist-info/RECORD": record})
    assert generate.top_level_modules(dist) == {"attr", "attrs", "fast"}


def test_modules_of_a_pex_installed_wheel_come_from_its_directory(tmp_path: Path) -> None:
    chroot = tmp_path / "installed_wheels" / "abc" / "pyjwt-1.0-py3-none-any.whl"
    dist = _distribution(chroot, "PyJWT", {"jwt/__init__.py": "", ".layout.json": "{}"})
    assert dist.files is None  # pex drops the RECORD
    assert generate.top_level_modules(dist) == {"jwt"}


def test_top_level_txt_counts_too(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    _distribution(site, "other", {})
    top_level = {"googleapis-common-protos-1.0.dist-info/top_level.txt": "google\n"}
    dist = _distribution(site, "googleapis-common-protos", top_level)
    assert generate.top_level_modules(dist) == {"google"}


def test_third_party_names_each_package_with_the_locked_distributions_behind_it() -> None:
    locked = {"python-dotenv", "protobuf", "googleapis-common-protos", "async-timeout"}
    installed = {
        "python-dotenv": {"dotenv"},
        "protobuf": {"google"},
        "googleapis-common-protos": {"google"},
        "pip": {"pip"},  # installed but not locked: an exported virtualenv's own
    }
    assert generate.third_party(locked, installed) == {
        "async_timeout": ["async-timeout"],
        "dotenv": ["python-dotenv"],
        "google": ["googleapis-common-protos", "protobuf"],
        "googleapis_common_protos": ["googleapis-common-protos"],
        "protobuf": ["protobuf"],
        "python_dotenv": ["python-dotenv"],
    }


def test_the_lockfile_locks_every_platform_s_distributions() -> None:
    text = (
        "// a header\n"
        '{"locked_resolves": [{"locked_requirements": [{"project_name": "PyYAML"}]},'
        ' {"locked_requirements": [{"project_name": "Jinja2_Ansible.Filters"}]}]}\n'
    )
    assert generate.locked_distributions(text) == {"pyyaml", "jinja2-ansible-filters"}
    with pytest.raises(ValueError, match="not a Pants lockfile"):
        generate.locked_distributions("{}")


def test_the_file_reads_back_as_what_was_rendered() -> None:
    names = generate.ReservedNames(
        platform=["slipway"],
        keywords=["false", "none", "true", "yes", "on"],
        stdlib=[f"module{i}" for i in range(40)],
        third_party={"opentelemetry": [f"opentelemetry-part{i}" for i in range(12)]},
    )
    text = generate.render(names)
    assert yaml.safe_load(text) == names
    assert max(len(line) for line in text.splitlines()) <= 100
    assert generate.COMMAND in text


def test_a_stale_file_names_what_is_missing_and_what_is_no_longer_locked() -> None:
    expected = generate.ReservedNames(
        platform=["slipway"], keywords=[], stdlib=["json"], third_party={"idna": ["idna"]}
    )
    stale = {
        "platform": ["slipway"],
        "keywords": [],
        "stdlib": ["json"],
        "third_party": {"gone": ["gone"], "other_platform": ["winonly"]},
    }
    assert generate.differences(stale, expected, unknown={"winonly"}) == [
        "third_party: missing idna (idna)",
        "third_party: no longer reserved gone (gone)",
    ]
    assert generate.differences(None, expected) == [
        "the file does not hold a YAML mapping of categories"
    ]
