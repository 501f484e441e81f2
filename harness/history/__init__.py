"""History files: the JSONL writer and reader, other tools' formats, and their errors.

The records and ``History`` themselves are the vocabulary every layer shares; they live
at the bottom, in :mod:`models.history`.
"""
