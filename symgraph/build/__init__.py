"""Building graphs: expressions and named assignments (every shape), coarsen and refine."""
