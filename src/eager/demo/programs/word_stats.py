import random
import re
from collections import Counter
from dataclasses import dataclass

random.seed(11)
VOCAB = (
    "data model code python stream token chunk batch kernel session error latency "
    "result value table column index mean median variance plot figure answer agent"
).split()


def sentence(rng, length):
    words = [rng.choice(VOCAB) for _ in range(length)]
    return " ".join(words).capitalize() + rng.choice([".", ".", "!", "?"])


rng = random.Random(5)
corpus = "\n".join(
    " ".join(sentence(rng, rng.randint(5, 14)) for _ in range(6)) for _ in range(4000)
)
print(len(corpus), "characters,", corpus.count("\n") + 1, "paragraphs")


@dataclass
class Stats:
    words: int
    unique: int
    top: list

    def ratio(self):
        return self.unique / self.words


tokens = re.findall(r"[a-z]+", corpus.lower())
counts = Counter(tokens)
stats = Stats(len(tokens), len(counts), counts.most_common(5))
print(stats.words, "words,", stats.unique, "distinct, ratio", round(stats.ratio(), 5))
print("top:", stats.top)

bigrams = Counter(zip(tokens, tokens[1:]))
print("top bigrams:", bigrams.most_common(3))

lengths = Counter(len(s.split()) for s in re.split(r"[.!?]", corpus) if s.strip())
print("sentence lengths:", sorted(lengths.items())[:5])

questions = sum(1 for ch in corpus if ch == "?")
print("questions:", questions)
