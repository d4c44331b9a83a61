"""Pure figure builders: numpy arrays and token strings in, plotly/altair figures out.

Nothing here imports torch or streamlit, holds global state, or touches a model.
"""
