import os
import time

_t0 = time.perf_counter()
print("joined:", os.path.join("a", "b", "c.txt"))
with open("corpus_tmp_file.txt", "w") as fh:
    fh.write("line one\nline two\n")
with open("corpus_tmp_file.txt") as fh:
    content = fh.read().splitlines()
print(content)
size = os.path.getsize("corpus_tmp_file.txt")
print("size", size)
os.remove("corpus_tmp_file.txt")
print("exists after remove:", os.path.exists("corpus_tmp_file.txt"))
elapsed_ok = time.perf_counter() - _t0 >= 0
print(elapsed_ok)
