# expect: AttributeError 14
class Report:
    def __init__(self, title):
        self.title = title
        self.lines = []

    def add(self, line):
        self.lines.append(line)
        return self


r = Report("weekly").add("one").add("two")
print(r.title, len(r.lines))
r.render()
print("AFTER-FAILURE")
print(r.lines)
for line in r.lines:
    print("-", line)
r.add("three")
print(len(r.lines))
titles = [Report(t).title for t in ["a", "b", "c"]]
print(titles)
upper = [t.upper() for t in titles]
print(upper)
