"""Keeping a repository healthy: fsck, gc and repack."""
