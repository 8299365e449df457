"""Active learning: ranking documents by how much labeling them would teach the model,
and the annotation queue that hands them out."""
