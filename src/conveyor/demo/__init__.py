"""`conveyor demo`: the whole lifecycle, narrated, on the bundled penguins project."""
