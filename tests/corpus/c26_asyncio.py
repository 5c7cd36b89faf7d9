import asyncio


async def worker(name, n, results):
    for i in range(n):
        await asyncio.sleep(0)
        results.append(f"{name}{i}")
    return name * n


async def main():
    results = []
    out = await asyncio.gather(worker("a", 3, results), worker("b", 2, results))
    print(out)
    print(results)
    q = asyncio.Queue()
    for i in range(5):
        q.put_nowait(i)
    total = 0
    while not q.empty():
        total += await q.get()
    return total


answer = asyncio.run(main())
print("answer", answer)


async def agen(n):
    for i in range(n):
        yield i * i


async def collect():
    return [x async for x in agen(5)]


squares = asyncio.run(collect())
print(squares)
