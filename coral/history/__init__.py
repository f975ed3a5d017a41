"""Reading the past: the commit graph, ref resolution, log, diff, show, blame, bisect, the
lane layout every view draws, and reading weights back."""
