# expect: ValueError 11
SUPPORTED = ("csv", "json")
print("supported:", SUPPORTED)


class Exporter:
    kind = "parquet"
    suffix = "." + kind

    if kind not in SUPPORTED:
        raise ValueError(f"unsupported format {kind!r}")

    def export(self, rows):
        return [str(r) + self.suffix for r in rows]


print("AFTER-FAILURE")
exporter = Exporter()
print(exporter.export([1, 2, 3]))
rows = list(range(10))
print(rows)
chunks = [rows[i:i + 3] for i in range(0, len(rows), 3)]
print(chunks)
sizes = [len(c) for c in chunks]
print(sizes)
