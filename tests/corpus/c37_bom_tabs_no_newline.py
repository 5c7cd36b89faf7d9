# a byte-order mark starts this file
import math
values = [math.sqrt(i) for i in range(5)]
print([round(v, 3) for v in values])
if values:
	print("tab-indented block")
	count = len(values)
print("count", count)
class T:
	def m(self):
		return "tabs"
print(T().m())
last = values[-1]  # no newline after this comment