"""Errors: the CLI's checks and messages, raised as kneetrack exceptions with their fields."""

from __future__ import annotations

from pathlib import Path

import pytest

import kneetrack
from conftest import PARAMETRIC_FLEXION, SCENARIOS, cli


def line_of(text: str, needle: str) -> int:
    return next(i + 1 for i, l in enumerate(text.splitlines()) if l.strip().startswith(needle))


def test_set_out_of_range_carries_file_line_key_value_range(quick_file: Path) -> None:
    sc = kneetrack.load(quick_file)
    with pytest.raises(kneetrack.ScenarioError) as ei:
        sc.set("subject.q_angle_deg", 55.0)
    e = ei.value
    assert isinstance(e, ValueError)
    assert e.file == str(quick_file)
    assert e.key == "subject.q_angle_deg"
    assert e.value == 55.0
    assert (e.min, e.max, e.unit) == (-10.0, 40.0, "degrees")
    assert e.range == (-10.0, 40.0)
    # a new key goes into a new [subject] section at the end: its line in the edited text
    ok = kneetrack.load(quick_file).set("subject.q_angle_deg", 20.0)
    assert "[subject]" in ok.to_toml()
    assert e.line == line_of(ok.to_toml(), "q_angle_deg =") > PARAMETRIC_FLEXION.count("\n")
    assert str(e) == (
        f"{quick_file}:{e.line}: subject.q_angle_deg = 55 is out of range: "
        "allowed -10 to 40 degrees"
    )


def test_set_existing_key_keeps_its_line(quick_file: Path) -> None:
    sc = kneetrack.load(quick_file)
    with pytest.raises(kneetrack.ScenarioError) as ei:
        sc.set("muscles.vmo", 4)
    e = ei.value
    assert e.line == line_of(PARAMETRIC_FLEXION, "vmo =")
    assert (e.key, e.value, e.min, e.max, e.unit) == ("muscles.vmo", 4.0, 0.0, 3.0, "")
    assert "muscles.vmo = 4 is out of range: allowed 0 to 3" in str(e)


def test_failed_set_leaves_the_scenario_unchanged(quick_text: str) -> None:
    sc = kneetrack.Scenario.from_toml(quick_text)
    before = sc.to_toml()
    with pytest.raises(kneetrack.ScenarioError):
        sc.set("muscles.vmo", -1.0)
    assert sc.to_toml() == before
    assert sc.get("muscles.vmo") == 1.0
    sc.set("muscles.vmo", 0.5).set("subject.q_angle_deg", 20)
    assert sc.get("muscles.vmo") == 0.5 and sc.get("subject.q_angle_deg") == 20
    assert "vmo = 0.5" in sc.to_toml()
    assert "# parametric knee, quick flexion rig" in sc.to_toml()  # comments kept


def test_unknown_key_and_wrong_type(quick_text: str) -> None:
    sc = kneetrack.Scenario.from_toml(quick_text)
    with pytest.raises(kneetrack.ScenarioError) as ei:
        sc.set("muscles.vmoo", 0.5)
    e = ei.value
    assert e.file == "<string>" and e.key == "muscles.vmoo"
    assert "unknown field `vmoo`" in str(e)
    assert e.line == line_of(sc.to_toml(), "vmo =") + 1
    with pytest.raises(kneetrack.ScenarioError) as ei:
        sc.set("muscles.vmo", "strong")
    assert ei.value.key == "muscles.vmo" and "string" in str(ei.value)
    with pytest.raises(kneetrack.ScenarioError) as ei:
        sc.set("muscles.vmo.x", 1.0)
    assert "`vmo` is a value, not a section" in str(ei.value)
    with pytest.raises(TypeError):
        sc.set("muscles.vmo", object())
    with pytest.raises(KeyError):
        sc.get("muscles.nothing")


def test_same_message_as_the_cli(tmp_path: Path) -> None:
    f = tmp_path / "edited.toml"
    f.write_text(PARAMETRIC_FLEXION)
    sc = kneetrack.load(f)
    with pytest.raises(kneetrack.ScenarioError) as ei:
        sc.set("muscles.vmo", 3.5)
    # the file as the override edits it, checked by the CLI
    f.write_text(PARAMETRIC_FLEXION.replace("vmo = 1.0", "vmo = 3.5"))
    p = cli("check", str(f))
    assert p.returncode == 2
    assert p.stderr.strip() == f"error: {ei.value}"


def test_file_errors() -> None:
    with pytest.raises(kneetrack.ScenarioError) as ei:
        kneetrack.load(SCENARIOS / "no_such_file.toml")
    assert "cannot read the scenario file" in str(ei.value)
    assert ei.value.file.endswith("no_such_file.toml")
    with pytest.raises(kneetrack.ScenarioError) as ei:
        kneetrack.Scenario.from_toml("# nothing\n", "empty.toml")
    assert str(ei.value).startswith("empty.toml: the scenario file is empty")
    with pytest.raises(kneetrack.ScenarioError) as ei:
        kneetrack.Scenario.from_toml("[scenario]\nkind = \"walk\"\n", "k.toml")
    e = ei.value
    assert (e.file, e.line, e.key) == ("k.toml", 2, "scenario.kind")
    assert e.column is not None


def test_values_that_do_not_fit_together(quick_text: str) -> None:
    sc = kneetrack.Scenario.from_toml(quick_text)
    with pytest.raises(kneetrack.ScenarioError) as ei:
        sc.set("flexion.extensor_moment_nm", 30.0)
    e = ei.value
    assert e.key is not None and e.reason
    assert str(e).startswith("<string>:")
