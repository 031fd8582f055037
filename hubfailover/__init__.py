"""Entry points: the `hubfailover` console script (drill, serve, operator commands) and its API client."""
