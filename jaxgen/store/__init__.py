"""The files of a workdir, with no knowledge of models (imports no other jaxgen layer).

    paths       the one path layer: local or gs:// (etils.epath), atomic writes
    lock        one writer per workdir (lock.json)
    checkpoint  Orbax save / (partial) restore, fallback to the newest good step
    digest      per-leaf SHA-256 digests of a checkpoint (with checkpoint, the Orbax importers)
    shards      resumable verified folders of numbered files (plan, records, index)
"""
