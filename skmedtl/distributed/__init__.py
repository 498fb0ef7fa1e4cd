"""Scale out with Dask: sharded feature extraction across the workers of a cluster.

:func:`extract` embeds images on a Dask cluster: the workers build the backbone
once each and embed shards of the images, the calling process looks the images
up in the embedding cache first, sends only the misses and stores the returned
rows (it is the cache's only writer). ``CNNFeatures(client=...)`` does the same
inside a Pipeline. Searches over cached embeddings run on the same cluster with
scikit-learn's usual ``joblib.parallel_backend("dask")``. :class:`DaskCellExecutor`
runs a whole study's cells as tasks on the cluster.

Dask is optional (``pip install "skmedtl[distributed]"``) and imported on first
use: importing this module does not need it.
"""

from ._cells import DaskCellExecutor
from ._extract import extract

__all__ = ["DaskCellExecutor", "extract"]
