"""Report: readers of records. Records become data frames (:mod:`.frames`), tables and
terminal output (:mod:`.tables`, :mod:`.terminal`, :mod:`.show`), scaling fits
(:mod:`.scaling`), comparisons of two result folders (:mod:`.compare`) and the view of a paper
setup (:mod:`.recipe_view`).

May import the kernel only: no torch, ``methods`` or ``datasets``, so reading records stays
cheap.
"""
