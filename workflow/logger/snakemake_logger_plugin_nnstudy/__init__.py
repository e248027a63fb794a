"""Snakemake finds logger plugins by module name: this one is ``--logger nnstudy``."""

from nnstudy.console import LogHandler

__all__ = ["LogHandler"]
