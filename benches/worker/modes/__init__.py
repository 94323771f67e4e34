"""What a cell does, by ``cell.mode``: ``train`` (accuracy and cost), ``efficiency`` (a T sweep
point on fixed-shape input), ``alignment`` (gradient agreement with BPTT)."""
