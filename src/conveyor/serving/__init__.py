"""`conveyor serve`: a registered model behind HTTP, following its alias, logging predictions."""
