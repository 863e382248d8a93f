"""The vector_io service: OpenAI Files and Vector Stores, and Llama Stack's raw vector IO."""
