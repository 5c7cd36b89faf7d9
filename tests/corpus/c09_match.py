from dataclasses import dataclass


@dataclass
class Move:
    x: int
    y: int


def describe(cmd):
    match cmd:
        case ["go", direction]:
            return f"going {direction}"
        case ["pick", *items] if items:
            return f"picking {', '.join(items)}"
        case {"action": "say", "text": str(text)}:
            return f"saying {text!r}"
        case Move(x=0, y=0):
            return "staying"
        case Move(x=x, y=y):
            return f"moving {x},{y}"
        case int() | float() as n if n > 100:
            return "big number"
        case _:
            return "unknown"


commands = [["go", "north"], ["pick", "key", "lamp"], {"action": "say", "text": "hi"},
            Move(0, 0), Move(1, -2), 500, 3.5, ["pick"]]
outputs = [describe(c) for c in commands]
for o in outputs:
    print(o)
match = 3
match += 1
print("match as a name:", match)
