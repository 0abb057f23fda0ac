"""The core: Graph, Gradient, adjoint symbols and the expression helpers every stage shares."""
