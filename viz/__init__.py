"""Figure builders: numpy arrays and token strings in, a ``viz.common.Chart`` (figure + the table it draws) out.

Modules:
  common      Chart, palettes, plain-dict figures and subplot grids, token labels, CSV of a table
  heatmap     one matrix as a heatmap (heatmap, attention_heatmap, heatmap_spec), axis ticks, segment marks
  overview    every layer and head at a glance (heads_grid)
  lines       one head as lines from query tokens to key tokens
  masks       one head's steps, the allowed matrix, padding, the prefix experiment
  positional  sinusoidal waves, position tables, similarity, the offset rotation, PCA map
  embeddings  embedding parts, segment strips, grouped bars, cosine by layer, neighbours
  predictions top-k bars, BERT's masking recipe, heads switched off
  walkthrough one head's step heatmaps and tables, concat + W_O, sqrt(d_k), GELU, LayerNorm vs BatchNorm

Rules: builders only draw. The numbers come from ``analysis``; viz imports numpy, pandas and
plotly only (no torch, streamlit, services or analysis; tests/test_layout.py checks).
Figures are plain dicts wrapped by ``viz.common.figure`` (no go.* objects or update_* calls),
checked by plotly's validation in tests/test_viz_figures_valid.py. Each builder's
``Chart.table`` holds exactly the data drawn, labelled as the axes are, so ``Chart.csv()`` is
what is on screen. No global state, no model.
"""
