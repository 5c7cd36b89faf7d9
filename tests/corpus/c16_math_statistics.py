import math
import statistics
from decimal import ROUND_HALF_UP, Decimal, getcontext
from fractions import Fraction

values = [2.5, 3.1, 4.7, 1.2, 9.9, 3.3, 4.4]
print(round(statistics.mean(values), 6), statistics.median(values))
print(round(statistics.stdev(values), 6), round(statistics.pvariance(values), 6))
print(statistics.mode([1, 2, 2, 3, 3, 3]), statistics.quantiles(range(1, 101), n=4))
print(math.gcd(84, 36), math.lcm(4, 6), math.comb(10, 3), math.perm(5, 2))
print(math.isclose(0.1 + 0.2, 0.3), math.floor(-2.5), math.ceil(-2.5), math.factorial(12))
print(f"{math.pi:.10f} {math.e:.10f} {math.hypot(3, 4)} {math.log2(1024)}")
frac = Fraction(1, 3) + Fraction(1, 6)
print(frac, frac.limit_denominator(10), Fraction("0.125"))
harmonic = sum(Fraction(1, k) for k in range(1, 11))
print(harmonic)
getcontext().prec = 30
third = Decimal(1) / Decimal(3)
print(third)
money = Decimal("19.995").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
print(money, Decimal("0.1") + Decimal("0.2"))
primes = [n for n in range(2, 60) if all(n % d for d in range(2, math.isqrt(n) + 1))]
print(primes)
