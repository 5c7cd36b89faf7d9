template = """
def not_real():
    return 1

class AlsoNotReal:
    pass
if True:
print("this is just text")
"""
print(len(template.splitlines()))
sql = '''SELECT *
FROM t
WHERE x = 'y'
'''
print(sql.strip().replace("\n", " | "))
raw = r"""
\d+ "quoted" '''
else:
"""
print(repr(raw))
doc = """
    indented
text at column 0
""" + "tail"
print(doc)
lines = [line for line in template.splitlines() if line and not line.startswith(" ")]
print(lines)
