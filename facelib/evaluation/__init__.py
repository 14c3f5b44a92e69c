"""The 3DFAW-2019 evaluation: ``metrics`` (ARMSE), ``table1`` (the paper's rows),
``captures`` (every row on every test capture) and ``report`` (the book's tables)."""
