"""`conveyor ui`: a web dashboard of runs, artifacts, models and monitoring, and its JSON API."""
