import string
import textwrap
import unicodedata
from collections import Counter

corpus = """It was the best of times, it was the worst of times, it was the age of
wisdom, it was the age of foolishness, it was the epoch of belief, it was the
epoch of incredulity, it was the season of Light, it was the season of Darkness"""
clean = corpus.lower().translate(str.maketrans("", "", string.punctuation))
words = clean.split()
freq = Counter(words)
print(freq.most_common(5))
print(len(words), len(freq))
bigrams = Counter(zip(words, words[1:]))
print(bigrams.most_common(3))
print(textwrap.fill(corpus.replace("\n", " "), width=40))
print(textwrap.shorten(corpus, width=50, placeholder=" ..."))
print(textwrap.dedent("""
    indented
      more
    back
"""))
caesar = str.maketrans(string.ascii_lowercase, string.ascii_lowercase[3:] + string.ascii_lowercase[:3])
secret = "attack at dawn".translate(caesar)
print(secret)
accents = "Crème brûlée à la café"
plain = "".join(c for c in unicodedata.normalize("NFKD", accents) if not unicodedata.combining(c))
print(plain)
vowel_share = round(sum(clean.count(v) for v in "aeiou") / len(clean.replace(" ", "")), 4)
print(vowel_share)
