"""Attention page (being built)."""
import streamlit as st

import services

st.title("Attention")
st.code(services.view().sentence_a, language=None)
