"""Masks page (being built)."""
import streamlit as st

import services

st.title("Masks")
st.code(services.view().sentence_a, language=None)
