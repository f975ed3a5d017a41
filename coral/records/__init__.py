"""What a repository is made of, each behind a small interface with a disk and a memory
implementation: refs (HEAD, branches, reflogs), commits, tags, the staging area,
remote-tracking refs and the configuration. No history queries, no policy: records."""
