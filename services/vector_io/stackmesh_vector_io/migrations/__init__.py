"""SQL migrations of the vector_io schema, applied in file-name order."""
