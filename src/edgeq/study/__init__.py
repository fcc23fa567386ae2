"""The FP8-vs-INT8 study (van Baalen et al., arXiv 2303.17951): theory, PTQ and QAT, run by `python -m edgeq.study`."""
