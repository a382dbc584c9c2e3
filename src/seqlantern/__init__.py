"""seqlantern: which bases a DNA sequence model relies on, and whether that is biology.

Stages (one module each, plain functions over arrays): :mod:`~seqlantern.simulate`,
:mod:`~seqlantern.encode`, :mod:`~seqlantern.train`, :mod:`~seqlantern.attribute`,
:mod:`~seqlantern.seqlets`, :mod:`~seqlantern.annotate`, :mod:`~seqlantern.export`,
:mod:`~seqlantern.report`, :mod:`~seqlantern.evaluate`.
"""

__version__ = "0.1.0"
