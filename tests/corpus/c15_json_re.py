import json
import re

raw = '{"users": [{"name": "Ann", "age": 31, "email": "ann@example.com"}, {"name": "Bob", "age": 25, "email": "bob@test.org"}], "ok": true}'
data = json.loads(raw)
print(data["ok"], len(data["users"]))
adults = sorted(u["name"] for u in data["users"] if u["age"] > 28)
print(adults)
domains = [re.search(r"@([\w.]+)$", u["email"]).group(1) for u in data["users"]]
print(domains)
log = """2024-01-03 ERROR disk full
2024-01-03 INFO started
2024-01-04 WARNING low memory
2024-01-05 ERROR timeout
"""
pattern = re.compile(r"^(\d{4})-(\d\d)-(\d\d) (?P<level>[A-Z]+) (?P<msg>.*)$", re.M)
errors = [m.group("msg") for m in pattern.finditer(log) if m.group("level") == "ERROR"]
print(errors)
print(re.sub(r"(\d+)-(\d+)-(\d+)", r"\3/\2/\1", log.splitlines()[0]))
print(re.split(r"[,;]\s*", "a, b;c ,d"))
encoded = json.dumps({"b": [1, 2.5, None], "a": "é\n"}, sort_keys=True, indent=2)
print(encoded)
roundtrip = json.loads(encoded)
compact = json.dumps(roundtrip, separators=(",", ":"), ensure_ascii=False)
print(compact)
