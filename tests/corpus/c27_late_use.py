def helper(values):
    return sorted(set(values), reverse=True)[:3]


class Config:
    debug = False
    level = 1


print("defined things, now some unrelated work")
data = [5, 3, 9, 1, 9, 7, 5]
squares = [d * d for d in data]
print(squares)
words = ["alpha", "beta", "gamma"]
print(", ".join(w.upper() for w in words))
for i in range(3):
    print("tick", i)
Config.level += 1
Config.debug = True
print(Config.level, Config.debug)
Config.level *= 10
Config.extra = "added later"
print(helper(data))
print(vars(Config)["level"], Config.extra)
top3 = helper(squares)
level = Config.level
