"""Views: the analysis and figures of each notebook, one module per pattern.

A view reads what a run left behind (structured events, counters, samples, ``peer.data``) and turns
it into a verdict or a figure. Patterns never import views; views import patterns (for protocol
constants) and the UI (``zguide_py.plots``). This is the notebook side: it needs matplotlib.
"""
