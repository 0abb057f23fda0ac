"""Save a graph as JSON and load it back (nothing in a file is evaluated); GraphML and DOT."""

import networkx as nx
import sympy as sp

import symgraph as sg

w, x, b, y = sp.symbols("w x b y", real=True)
graph = sg.Graph.from_expr((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])

sg.save_json(graph, "graph.json")
loaded = sg.load_json("graph.json")
print("JSON round trip:", loaded.size == graph.size, loaded.output, loaded.wrt)
assert loaded.backward()[w] == graph.backward()[w]

sg.save_graphml(graph, "graph.graphml")
other_tool = nx.read_graphml("graph.graphml")
print("GraphML:", other_tool.number_of_nodes(), "nodes,", other_tool.number_of_edges(), "edges")

sg.save_dot(graph, "graph.dot")
print("DOT:", open("graph.dot").read().splitlines()[0], "...")
