"""The files of a workdir, with no knowledge of models (imports no other jaxgen layer).

    paths       the one path layer: local or gs:// (etils.epath), atomic writes
    lock        one writer per workdir (lock.json)
    liveness    who holds a lock and whether that process still runs
    checkpoint  Orbax save / (partial) restore, fallback to the newest good step
    digest      per-leaf SHA-256 digests of a checkpoint (with checkpoint, the Orbax importers)
    shards      the files of resumable folders: byte-deterministic npz, records, SHA-256, readers
    resumable   the one resumable writer: plan refusal, --force, verify-or-make, processes, index
"""
