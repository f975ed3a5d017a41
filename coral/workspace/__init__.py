"""Writing the next commit: staging weights, the snapshot a commit records, status, and
moving a branch (or HEAD) to a new commit by compare-and-swap."""
