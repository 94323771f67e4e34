"""Worker: the cell process. It sets up the method, data set and model (:mod:`.setup`), runs
the cell's mode (``modes/``: train, efficiency, alignment, precise BatchNorm statistics) with
the step runner (:mod:`.step_runner`: precision, layout, CUDA graphs), loads data
(:mod:`.loading`), checkpoints (:mod:`.checkpoint`) and writes the record
(:mod:`.cell_process`).

May import the kernel, ``measure``, ``methods`` and ``datasets``; never ``run``, ``report`` or
``site``.
"""
