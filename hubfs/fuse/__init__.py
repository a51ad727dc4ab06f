"""The FUSE view of a dataset: ``view.py`` (paths <-> samples, no FUSE), ``ops.py`` (thin mfusepy class),
``mount.py`` (serving process, unmount, stale mounts)."""
