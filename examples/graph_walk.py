"""Walk a computational graph: nodes, roles, edges, forward values, δ-equations.

Run with ``python examples/graph_walk.py``.
"""

import sympy as sp

import symgraph as sg

w, x, b, y = sp.symbols("w x b y", real=True)
# tanh(w*x + b) is used twice: it becomes one node with two out-edges.
h = sp.tanh(w * x + b)
expr = (h - y) ** 2 + h
g = sg.Graph.from_expr(expr, wrt=[w, b])
print(g)
print("size:", g.size)

print("\nnodes in topological order:")
for node in g.topological_order():
    data = g.nx.nodes[node]
    print(f"  {str(node):3} {data['role']:12} op = {str(data['op']):10} expr = {data['expr']}")

print("\ngenerations (nodes computable at the same time):")
for k, generation in enumerate(g.generations()):
    print(f"  {k}: {', '.join(map(str, generation))}")

print("\nedges, with the local partial ∂result/∂operand:")
for operand, result in g.nx.edges:
    print(f"  {operand} -> {result}: {g.partial(operand, result)}")

print("\nforward values at x=0.5, y=1, w=2, b=-0.5:")
values = g.forward({x: 0.5, y: 1.0, w: 2.0, b: -0.5})
for node, value in values.items():
    print(f"  {node} = {float(value):.6f}")

grad = g.backward()
print("\nbackpropagation, the δ-equations (δ_n = ∂L/∂n):")
for lhs, rhs in grad.equations:
    print(f"  {lhs} = {rhs}")
print("\nclosed forms:")
print(grad)
