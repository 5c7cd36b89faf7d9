import random

random.seed(2024)
deck = [f"{r}{s}" for s in "SHDC" for r in "A23456789TJQK"]
random.shuffle(deck)
hand = deck[:5]
print(hand)
print([random.randint(1, 6) for _ in range(10)])
print(round(random.random(), 10), round(random.gauss(0, 1), 10))
sample = random.sample(range(100), 8)
print(sample)
choices = random.choices("abc", weights=[5, 1, 1], k=12)
print("".join(choices))
rng = random.Random(99)
walk = [0]
for _ in range(20):
    walk.append(walk[-1] + rng.choice([-1, 1]))
print(walk)
state = random.getstate()
first = random.random()
random.setstate(state)
again = random.random()
print(first == again)
