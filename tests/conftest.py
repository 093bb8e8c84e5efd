"""Shared test set-up: quiet TensorFlow, and tokens that break naive vocabulary handling."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Tokens that a text file, a JSON file or a careless str/bytes conversion would change or lose.
AWKWARD_TOKENS = [
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\n",
    "para\u2028graph",
    "nul\x00inside",
    "trailing-nul\x00",
    "tab\tinside",
    " leading space",
    "trailing space ",
    " ",
    "naïve",
    "日本語",
    "emoji 🙂",
    b"\xff\xfe not utf-8",
    b"\xc3",
    "[UNK]x",
]
