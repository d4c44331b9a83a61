"""Positional encoding: the sinusoidal table, its similarity by distance, offsets as rotations,
and the learned position embeddings of the loaded encoder and decoder."""
import numpy as np
import streamlit as st

import analysis
from services import cached, models, state, ui
from viz import positional as vp

D_MODELS = [4, 8, 16, 32, 64, 128, 256, 384, 512, 768]

st.title("Positional encoding")
st.markdown(
    "Attention by itself does not know the order of the words: shuffle the tokens and every "
    "query still finds the same keys. So before the first layer, each token's vector gets a "
    "**position vector** added to it. The original Transformer uses a fixed table of sine and "
    "cosine waves; BERT and GPT learn their table during training instead."
)

view = state.view()

st.header("1. Waves of different lengths")
st.markdown(
    "Each pair of dimensions is one wave over the positions: a sine on the even dimension and a "
    "cosine on the odd one. The first pairs turn fast, later pairs slower and slower: the "
    "wavelengths grow geometrically from 2π to 10000·2π. Together the pairs give every position "
    "its own pattern, like the hands of a clock. The formula works for any position, so the table "
    "extends past the lengths a model was trained on."
)
st.latex(r"PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d_{model}}}\right) \qquad "
         r"PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d_{model}}}\right)")
col_d, col_n = st.columns(2)
with col_d:
    d_model = state.url_widget(st.select_slider, "pe_d", "d_model (width of the table)", options=D_MODELS)
with col_n:
    n_pos = state.url_widget(st.slider, "pe_n", "Number of positions", min_value=2, max_value=2048)
dims = state.url_multiselect(
    "pe_dims", "Dimensions to draw", list(range(d_model)), default=[0, 1, 6, 7, d_model - 2],
    help="Even dimensions are sines, odd ones cosines; pick a low and a high one to compare speeds.",
)
table = cached.sinusoidal(n_pos, d_model)
if dims:
    ui.show_figure(vp.wave_figure(table, dims), "waves", "sinusoidal_waves.csv")
else:
    st.info("Pick at least one dimension above to draw its wave.")

st.header("2. The whole table")
st.markdown(
    "Every row is the vector added at one position; every column is one of the waves above. "
    "Left columns flicker quickly down the rows, right columns barely change: the right half "
    "tells far-apart positions apart, the left half neighbours."
)
ui.show_figure(vp.table_heatmap(table, f"Sinusoidal table: {n_pos} positions x d_model {d_model}"),
               "table", "sinusoidal_table.csv")

st.header("3. A fixed offset is a rotation")
st.markdown(
    "Moving every position by the same offset k turns each (sin, cos) pair by the same angle, "
    "whatever the starting position. So one matrix M_k, made of 2x2 rotations, maps the "
    "encoding of any position p to that of p + k. A layer can therefore learn 'look k tokens "
    "back' as a linear map: relative positions are easy to compute."
)
st.latex(r"\begin{pmatrix}\sin\omega_i(p+k)\\ \cos\omega_i(p+k)\end{pmatrix} = "
         r"\begin{pmatrix}\cos\omega_i k & \sin\omega_i k\\ -\sin\omega_i k & \cos\omega_i k\end{pmatrix}"
         r"\begin{pmatrix}\sin\omega_i p\\ \cos\omega_i p\end{pmatrix},\qquad \omega_i = 10000^{-2i/d_{model}}")
col_k, col_p = st.columns(2)
with col_k:
    offset = state.url_widget(st.slider, "pe_k", "Offset k", min_value=1, max_value=256)
with col_p:
    start = state.url_widget(st.slider, "pe_p", "Position p", min_value=0, max_value=1024)
rotation = analysis.offset_rotation(d_model, offset)
if start + offset < n_pos:
    mapped_all = table[: n_pos - offset] @ rotation.T                 # row p -> M_k PE(p)
    error_one = float(np.abs(rotation @ table[start] - table[start + offset]).max())
    error_all = float(np.abs(mapped_all - table[offset:]).max())
    st.markdown(f"Checked numerically: max |M_{offset} PE({start}) − PE({start + offset})| = **{error_one:.1e}**, "
                f"and over every position p at once: **{error_all:.1e}** (float32 rounding).")
    ui.show_figure(vp.offset_figure(rotation, table[start], table[start + offset], start, offset), "offset",
                   "offset_rotation.csv")
else:
    st.info(f"Position p + k = {start + offset} is past the {n_pos} positions of the table: "
            "make the number of positions larger, or p or k smaller.")

st.header("4. Learned position embeddings")
st.markdown(
    "BERT and GPT do not use the formula: their position table is a matrix of numbers learned "
    "during training, one row per position up to the longest input they accept. The translator "
    "(an encoder-decoder like the original Transformer) uses the formula itself, inside a trained model; "
    "Marian, whose layout it follows, stores all the sine columns first and then the cosine ones, "
    "the same numbers in another column order. Below, the loaded models' tables beside the "
    "sinusoidal one of the same width."
)
KINDS = {"encoder": "encoder, learned", "decoder": "decoder, learned", "seq2seq": "translator, sinusoidal"}
tables, titles = {}, {}
for family in state.LOADABLE:
    info = ui.compute(models.model_info, family, view.model(family), kind="info")
    if info is None:
        continue
    learned_table = ui.compute(cached.position_embeddings, family, view.model(family), kind="info")
    if learned_table is not None:
        tables[family], titles[family] = learned_table, f"{KINDS[family]}: {info.name}"
if tables:
    width = next(iter(tables.values())).shape[1]
    longest = max(t.shape[0] for t in tables.values())
    tables = {"sinusoidal": cached.sinusoidal(longest, width), **tables}
    titles["sinusoidal"] = f"sinusoidal (d_model {width})"
else:
    tables, titles = {"sinusoidal": table}, {"sinusoidal": f"sinusoidal (d_model {d_model})"}
    st.caption("No model could be loaded, so the views below show the sinusoidal table of part 1 alone.")
if tables:
    shown_pos = state.url_widget(st.slider, "pe_lp", "Positions to show", min_value=2, max_value=1024)
    shown_pos = min(shown_pos, min(t.shape[0] for t in tables.values()))
    chosen = state.url_widget(st.selectbox, "pe_t", "Table for the heatmap and the 2-D map",
                              options=list(tables), format_func=titles.get)
    skip_first = state.url_widget(
        st.toggle, "pe_s0", "Leave out position 0",
        help="In BERT-style models position 0 always holds [CLS]; its learned vector is an outlier "
             "that swamps the colours and the 2-D map.")
    first = 1 if skip_first else 0
    learned = tables[chosen][first:shown_pos]
    ui.show_figure(vp.table_heatmap(learned, f"{titles[chosen]}: positions {first} to {shown_pos - 1}",
                                    first_pos=first), "learned_table", "position_table.csv")

    st.subheader("Similarity by distance")
    st.markdown(
        "For every pair of positions p and q, how similar are their vectors? The line is the "
        "average over all pairs at the same distance |p − q|, the band one standard deviation. "
        "For the sinusoidal table the similarity depends only on the distance (the band is flat); "
        "learned tables have found something similar on their own: near positions look alike."
    )
    cosine = state.url_widget(st.toggle, "pe_cos", "Cosine similarity (off: raw dot product)")
    max_distance = state.url_widget(st.slider, "pe_md", "Largest distance", min_value=1, max_value=1023)
    similarities = {name: cached.similarity(t[first:shown_pos], cosine) for name, t in tables.items()}
    curves = {titles[name]: analysis.similarity_by_distance(sim, max_distance) for name, sim in similarities.items()}
    ui.show_figure(vp.distance_figure(curves, cosine), "distance", "similarity_by_distance.csv")
    ui.show_figure(vp.similarity_heatmap(similarities[chosen], f"{titles[chosen]}: similarity of every pair of "
                                         "positions", cosine, first_pos=first),
                   "similarity", "position_similarity.csv")

    st.subheader("A 2-D map of the positions")
    st.markdown(
        "The two directions along which the position vectors vary most (principal components, "
        "computed with numpy). Consecutive positions are joined by a line: a smooth curve means "
        "the model stores position as a gradual drift."
    )
    coords, ratios = cached.position_pca(learned)
    ui.show_figure(vp.pca_figure(coords, ratios, f"{titles[chosen]}: positions in their top-2 PCA plane",
                                 first_pos=first), "pca", "position_pca.csv")
