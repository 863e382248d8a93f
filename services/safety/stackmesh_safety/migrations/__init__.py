"""SQL migrations of the safety schema, applied in file-name order."""
