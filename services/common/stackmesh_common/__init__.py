"""The shared runtime every stackmesh service is built on."""
