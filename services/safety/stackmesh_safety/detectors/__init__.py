"""Pure detection logic (no I/O): prompt formats, parsers, patterns, scoring."""
