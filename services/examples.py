"""The sentence every page opens with, the teachers' example sentences, and the point each one makes."""
from __future__ import annotations

DEFAULT_SENTENCE = "The animal didn't cross the street because it was too tired."

# Teachers' example sentences: (label, sentence A, sentence B).
EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("What does 'it' refer to?", DEFAULT_SENTENCE, ""),
    ("Two meanings of 'bank'", "She sat on the bank of the river.", "He paid the money into the bank."),
    ("Subject-verb agreement", "The keys to the old wooden cabinet are on the table.", ""),
    ("Question and answer pair", "Where did the cat sleep?", "The cat slept on the warm mat."),
    ("Word order matters", "The dog chased the cat.", "The cat chased the dog."),
    ("A fact to complete", "Paris is the capital of France.", ""),
    ("Which noun is 'it'?", "The trophy did not fit in the suitcase because it was too big.", ""),
)
# The point of each example as a (query word, key word) pair: the Attention page opens on the head that sends
# the most weight from the query to the key (the head finder's first answer for that pair).
EXAMPLE_POINTS: dict[str, tuple[str, str]] = {
    DEFAULT_SENTENCE: ("it", "animal"),
    "She sat on the bank of the river.": ("bank", "river"),
    "The keys to the old wooden cabinet are on the table.": ("are", "keys"),
    "Where did the cat sleep?": ("slept", "sleep"),
    "The dog chased the cat.": ("chased", "cat"),
    "Paris is the capital of France.": ("france", "capital"),
    "The trophy did not fit in the suitcase because it was too big.": ("it", "trophy"),
}
