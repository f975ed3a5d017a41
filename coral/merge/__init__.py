"""Three-way merges of weights: the plan, the model-merging methods, and running a merge."""
