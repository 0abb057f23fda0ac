"""Teach symgraph the derivative of your own SymPy function.

A rule is ``rule(op, index) -> ∂op/∂op.args[index]``: ``op`` is the node's
local operation (its operands are node symbols), ``index`` the operand's
position.  Lookup walks the class's ``__mro__``, so subclasses inherit the
rule.  Run with ``python examples/custom_rule.py``.
"""

import numpy as np
import sympy as sp

import symgraph as sg


class softsign(sp.Function):
    """softsign(x) = x / (1 + |x|): a SymPy Function with no derivative of its own."""

    def _numpycode(self, printer):  # how SymPy's NumPy printer writes it
        arg = printer._print(self.args[0])
        return f"({arg} / (1 + numpy.abs({arg})))"


w, x = sp.symbols("w x", real=True)

# Register its rule: d softsign(u)/du = 1 / (1 + |u|)**2.
sg.register_rule(softsign, lambda op, index: 1 / (1 + sp.Abs(op.args[0])) ** 2)

grad = sg.gradient(softsign(w * x), wrt=[w])
print("∂L/∂w =", grad[w])
for lhs, rhs in grad.equations:
    print(f"  {lhs} = {rhs}")

f = grad.lambdify()
value, (dw,) = f(x=2.0, w=np.array([-1.0, 0.0, 0.5]))
print("L     =", value)
print("∂L/∂w =", dw)


# A subclass inherits the rule through its __mro__.
class my_softsign(softsign):
    pass


print("\nsubclass:", sg.gradient(my_softsign(w), wrt=[w])[w])


# register_rule also works as a decorator; the rule may use the op itself.
class expm1_(sp.Function):
    def _numpycode(self, printer):
        return f"numpy.expm1({printer._print(self.args[0])})"


@sg.register_rule(expm1_)
def _expm1_rule(op, index):
    return op + 1  # d/du (e^u - 1) = e^u = op + 1


grad = sg.gradient(expm1_(w**2), wrt=[w])
print("decorator:", grad[w])
print("compiled at w = 0.5:", grad.lambdify()(w=0.5))

# Classes that are not functions and have no rule are refused when backpropagating.
i = sp.Symbol("i", integer=True)
try:
    sg.gradient(sp.Sum(w**i, (i, 1, 3)), wrt=[w])
except sg.NoRuleError as err:
    print("\nNoRuleError:", err)
