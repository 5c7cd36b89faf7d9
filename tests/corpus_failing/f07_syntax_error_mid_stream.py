# expect: SyntaxError 9
import statistics

scores = [88, 92, 79, 65, 95, 70]
print("mean", statistics.mean(scores))
print("median", statistics.median(scores))
best = max(scores)
print("best", best)
curved = [s + 5 for s in scores if s <> 90]
print("AFTER-FAILURE")
print(curved)
passed = [s for s in scores if s >= 70]
print(len(passed), "passed")
ranks = sorted(range(len(scores)), key=lambda i: -scores[i])
print(ranks)
letter = {90: "A", 80: "B", 70: "C"}
grades = [next((g for t, g in letter.items() if s >= t), "F") for s in scores]
print(grades)
