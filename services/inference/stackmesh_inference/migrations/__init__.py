"""SQL migrations of the inference schema, applied in file-name order."""
