"""Seeded sentence generator over a small vocabulary, the text side of the synthetic corpus.

Sentences are word sequences drawn from a fixed vocabulary (``data_samples/vocabulary.txt``: a
few hundred common lower-case English words, content and function words, no proper nouns). They
are not grammatical: what matters for layer-wise analyses and probes is that every word, and so
every phone, recurs many times across even a small corpus. Words are therefore drawn as
"shuffle bags": a seeded permutation of the vocabulary is consumed word by word and redrawn when
used up, so after ``k`` passes every word has occurred exactly ``k`` times, where independent
draws would leave some words rare and others frequent.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

from speechrep.data.errors import CorpusError

#: Where the project's vocabulary file lives (``data_samples/`` at the repository root).
DEFAULT_VOCABULARY = Path(__file__).resolve().parents[3] / "data_samples" / "vocabulary.txt"


def load_vocabulary(path: str | os.PathLike | None = None) -> list[str]:
    """Read a vocabulary file: one word per line; blank lines and ``#`` comments are skipped.

    Raises :class:`CorpusError` when the file is missing or empty, or a line holds more than one
    word or a duplicate (both would silently skew the word frequencies).
    """
    path = Path(path) if path is not None else DEFAULT_VOCABULARY
    if not path.is_file():
        raise CorpusError(
            f"vocabulary file {path} does not exist; pass vocabulary=<file with one word per line>"
        )
    words: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        if len(word.split()) != 1:
            raise CorpusError(f"{path}:{number}: expected one word per line, got {word!r}")
        if word in seen:
            raise CorpusError(f"{path}:{number}: {word!r} repeats line {seen[word]}")
        seen[word] = number
        words.append(word)
    if not words:
        raise CorpusError(f"vocabulary file {path} holds no words")
    return words


class SentenceGenerator:
    """Deterministic stream of random sentences for a seed.

    Args:
        vocabulary: the words, or a vocabulary file (``None``: :data:`DEFAULT_VOCABULARY`).
        seed: the same seed gives the same sentences, in the same order.
        words_per_sentence: inclusive ``(min, max)`` number of words; each sentence's length is
            drawn uniformly from it.
        vocabulary_size: use only the first ``n`` words of the vocabulary (the file lists common
            words first), so that a tiny corpus still repeats its words often.
    """

    def __init__(
        self,
        vocabulary: Sequence[str] | str | os.PathLike | None = None,
        seed: int = 0,
        words_per_sentence: tuple[int, int] = (4, 9),
        vocabulary_size: int | None = None,
    ) -> None:
        if vocabulary is None or isinstance(vocabulary, str | os.PathLike):
            words = load_vocabulary(vocabulary)
        else:
            words = [str(w) for w in vocabulary]
        if vocabulary_size is not None:
            if vocabulary_size < 1:
                raise ValueError(f"vocabulary_size must be positive, got {vocabulary_size}")
            words = words[:vocabulary_size]
        if len(set(words)) < 2:
            raise ValueError("a sentence generator needs at least two distinct words")
        low, high = (int(x) for x in words_per_sentence)
        if not 1 <= low <= high:
            raise ValueError(
                f"words_per_sentence must be (min, max) with 1 <= min <= max, got {words_per_sentence}"
            )
        self.vocabulary: list[str] = words
        self.words_per_sentence = (low, high)
        self._rng = random.Random(seed)
        self._bag: list[str] = []

    def _next_word(self, previous: str | None) -> str:
        if not self._bag:
            self._bag = list(self.vocabulary)
            self._rng.shuffle(self._bag)
        word = self._bag.pop()
        if word == previous and self._bag:
            # Only possible right after a refill (a bag holds each word once): avoid "the the" by
            # swapping with a random word of the fresh bag, which keeps the counts balanced.
            swap = self._rng.randrange(len(self._bag))
            word, self._bag[swap] = self._bag[swap], word
        return word

    def sentence(self) -> str:
        """The next sentence: space-separated words, no punctuation."""
        count = self._rng.randint(*self.words_per_sentence)
        words: list[str] = []
        for _ in range(count):
            words.append(self._next_word(words[-1] if words else None))
        return " ".join(words)

    def sentences(self, n: int) -> list[str]:
        """The next ``n`` sentences."""
        return [self.sentence() for _ in range(n)]


__all__ = ["DEFAULT_VOCABULARY", "SentenceGenerator", "load_vocabulary"]
