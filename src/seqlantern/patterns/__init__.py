"""De novo patterns of seqlets, clustered by contribution profile (TF-MoDISco-style).

:func:`~seqlantern.patterns.discover.write_patterns` is the stage (``seqlantern
patterns``); :func:`~seqlantern.patterns.discover.discover` the array-level function;
the similarity kernels are in :mod:`seqlantern.patterns.kernels`.
"""

from seqlantern.patterns.discover import (
    MEMBER_COLUMNS,
    PATTERN_COLUMNS,
    Pattern,
    PatternParams,
    discover,
    write_patterns,
)

__all__ = [
    "MEMBER_COLUMNS",
    "PATTERN_COLUMNS",
    "Pattern",
    "PatternParams",
    "discover",
    "write_patterns",
]
