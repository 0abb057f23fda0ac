"""Reverse mode: the backward pass, and the Jacobian, Hessian and HVP built on it."""
