"""One cell over several processes with torch.distributed: the ranks' world
(:mod:`.world`), their start (:mod:`.launch`), gradients averaged per optimizer step
(:mod:`.gradients`) and BatchNorm over all ranks (:mod:`.batchnorm`)."""

from benches.worker.distributed.world import World, is_main, world

__all__ = ["World", "is_main", "world"]
