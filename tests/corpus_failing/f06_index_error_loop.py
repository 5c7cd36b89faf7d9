# expect: IndexError 7
matrix = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
print("rows", len(matrix))
diagonal = []
for i in range(4):
    print("row", i)
    row = matrix[i]
    diagonal.append(row[i])
print("AFTER-FAILURE")
print(diagonal)
transposed = [[matrix[j][i] for j in range(3)] for i in range(3)]
print(transposed)
trace = sum(matrix[i][i] for i in range(3))
print("trace", trace)
flat = [x for row in matrix for x in row]
print(flat)
col_sums = [sum(col) for col in zip(*matrix)]
print(col_sums)
