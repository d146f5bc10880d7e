"""The CLI's surface: --version, -h, fixed choices in help and in errors, flags, completion."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import insr
from insr.cli import app

cli = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _err(res) -> str:
    return res.stderr if hasattr(res, "stderr") else res.output


def test_version_prints_the_package_version():
    res = cli.invoke(app, ["--version"])
    assert res.exit_code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert res.output.strip() == f"insr {version}" == f"insr {insr.__version__}"


@pytest.mark.parametrize("args", [["-h"], ["render", "-h"], ["run", "-h"], ["compare", "-h"]])
def test_h_is_help(args):
    res = cli.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output and "--help" in res.output


def test_help_shows_choices_and_flags_without_types():
    out = cli.invoke(app, ["render", "--help"], terminal_width=200).output
    assert "field|gradient|error|all" in out and "gif|mp4" in out and "linear|log" in out
    run = cli.invoke(app, ["run", "--help"], terminal_width=200).output
    assert "stop|retry" in run
    for text in (out, run, cli.invoke(app, ["gradcheck", "--help"]).output):
        assert "<bool>" not in text


def test_shell_completion_is_offered():
    out = cli.invoke(app, ["--help"], terminal_width=200).output
    assert "--install-completion" in out and "--show-completion" in out


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["render", "x", "--what", "vorticity"], "field, gradient, error, all"),
        (["render", "x", "--format", "avi"], "gif, mp4"),
        (["render", "x", "--error-scale", "cubic"], "linear, log"),
        (["run", "advection1d", "--on-diverge", "explode"], "stop, retry"),
    ],
)
def test_bad_choice_is_one_line_naming_allowed_values(args, allowed):
    res = cli.invoke(app, args)
    assert res.exit_code == 2
    err = _err(res).strip()
    assert len(err.splitlines()) == 1, err
    assert f"{args[-2]} '{args[-1]}' is not allowed" in err and allowed in err
    assert "Traceback" not in err


def test_cli_choices_are_the_values_render_accepts():
    from insr.cli.render import ErrorScaleChoice, FormatChoice, WhatChoice
    from insr.render import ERROR_SCALES, FORMATS, WHATS

    assert tuple(c.value for c in WhatChoice) == WHATS
    assert tuple(c.value for c in FormatChoice) == FORMATS
    assert tuple(c.value for c in ErrorScaleChoice) == ERROR_SCALES
