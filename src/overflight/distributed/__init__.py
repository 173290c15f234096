"""Transit and locate on Dask: the same kernel as one machine, on partitions of an archive.

``pip install 'overflight[dask]'``. See :mod:`overflight.distributed.dask_engine` for how tracks are
partitioned and why, and :mod:`overflight.analysis.transit_kernel` for the kernel boundary.
"""

from overflight.distributed.dask_engine import (
    DaskRun,
    archive_pieces,
    check_inputs,
    dask_client,
    locate_dask,
    read_archive,
    transit_dask,
)

__all__ = ["DaskRun", "archive_pieces", "check_inputs", "dask_client", "locate_dask", "read_archive", "transit_dask"]
