"""Numeric options take ASCII digits only: ``int`` and ``float`` alone also read "３"
(full-width) and other scripts' digits, and ``isdigit`` lets "²" through to a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolbox_uploader.cli import EXIT_USAGE, build_parser, main

FULL_WIDTH_3 = "\uff13"


@pytest.mark.parametrize("args", [
    ["upload", "--concurrency", FULL_WIDTH_3, "x"],
    ["upload", "--concurrency", "\u00b2", "x"],
    ["upload", "--give-up-after", FULL_WIDTH_3, "x"],
    ["upload", "--give-up-after", "\u0663", "x"],  # Arabic-Indic three
    ["upload", "--bandwidth-limit", f"{FULL_WIDTH_3}M", "x"],
    ["upload", "--max-chunk-size", "4\u212a", "x"],  # the Kelvin sign, not a "k"
    ["validate", "--jobs", FULL_WIDTH_3, "x"],
    ["validate", "--jobs", " 2", "x"],
    ["serve", "--port", f"80{FULL_WIDTH_3}"],
    ["serve", "--max-size", f"{FULL_WIDTH_3}G"],
    ["user", "add", "bob", "--quota", f"1{FULL_WIDTH_3}"],
])
def test_non_ascii_digits_are_usage_errors(args: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(args)
    assert stopped.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: argument" in err and "Traceback" not in err


def test_ascii_numbers_still_parse() -> None:
    args = build_parser().parse_args(["upload", "--concurrency", "4", "--give-up-after", "0.5",
                                      "--bandwidth-limit", "2M", "x"])
    assert (args.concurrency, args.give_up_after, args.bandwidth_limit) == (4, 0.5, 2 << 20)
    assert build_parser().parse_args(["validate", "--jobs", "2", "x"]).jobs == 2
    assert build_parser().parse_args(["serve", "--port", "8080", "--max-size", "1k"]).port == 8080


def test_the_command_itself_exits_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["validate", "--jobs", FULL_WIDTH_3, str(tmp_path)])
    assert stopped.value.code == EXIT_USAGE
