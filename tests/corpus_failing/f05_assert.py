# expect: AssertionError 9
import math

angles = [0, 30, 45, 60, 90]
sines = [round(math.sin(math.radians(a)), 6) for a in angles]
print(sines)
cosines = [round(math.cos(math.radians(a)), 6) for a in angles]
print(cosines)
assert all(s < 1 for s in sines), "a sine reached 1"
print("AFTER-FAILURE")
identity = [round(s * s + c * c, 6) for s, c in zip(sines, cosines)]
print(identity)
tangents = [round(s / c, 4) if c else None for s, c in zip(sines, cosines)]
print(tangents)
degrees = [math.degrees(math.asin(s)) for s in sines]
print([round(d, 3) for d in degrees])
table = list(zip(angles, sines, cosines))
for row in table:
    print(row)
