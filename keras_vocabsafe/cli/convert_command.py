"""`vocabsafe convert` (to be written)."""

from __future__ import annotations

import argparse

from keras_vocabsafe.cli._output import CommandError, Output


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("convert", parents=[common], help="(not written yet)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, output: Output) -> int:
    raise CommandError("`vocabsafe convert` is not written yet.")
