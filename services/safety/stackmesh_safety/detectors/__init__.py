"""Pure detection logic (no I/O): prompt formats, parsers, patterns, scoring."""


def warm_up() -> None:
    """Builds what a worker's first check would otherwise wait for: bandit's test set and
    phone-number metadata."""
    from stackmesh_safety.detectors import pii_patterns, python_code

    python_code.scanner()
    pii_patterns.find("call +1 202 555 0143")
