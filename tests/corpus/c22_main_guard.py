import sys


def parse(args):
    opts = {"verbose": False, "n": 3}
    for a in args:
        if a == "-v":
            opts["verbose"] = True
        elif a.startswith("n="):
            opts["n"] = int(a[2:])
    return opts


def main(argv):
    opts = parse(argv)
    for i in range(opts["n"]):
        print(f"step {i}")
    return 0


print("module name:", __name__)
status = None
if __name__ == "__main__":
    status = main(["n=4"])
    print("status", status)
else:
    print("imported")
print(type(sys.argv).__name__)
