import copy
import pickle


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance
        self.history = []

    def deposit(self, amount):
        self.balance += amount
        self.history.append(("dep", amount))
        return self

    def __eq__(self, other):
        return vars(self) == vars(other)


acct = Account("ann", 100).deposit(50).deposit(25)
blob = pickle.dumps(acct)
restored = pickle.loads(blob)
print(restored.owner, restored.balance, restored.history)
print(restored == acct, restored is acct, type(restored).__module__)
clone = copy.deepcopy(acct)
clone.deposit(1)
print(acct.balance, clone.balance)


def square(x):
    return x * x


funcs = pickle.loads(pickle.dumps([square, Account]))
print(funcs[0](7), funcs[1].__name__)
balance = restored.balance
