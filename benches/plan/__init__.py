"""Plan: what runs. A matrix file (packaged ones in ``matrices/``) is validated and expanded
into cells (:mod:`.matrix`), and its cost estimated (:mod:`.estimate`).

May import the kernel (``benches.cell``, ``benches.errors``, ...), ``methods`` and ``datasets``
(to check names and defaults); nothing else of ``benches``.
"""
