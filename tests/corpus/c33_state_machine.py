from enum import Enum, auto


class State(Enum):
    IDLE = auto()
    RUNNING = auto()
    PAUSED = auto()
    DONE = auto()


TRANSITIONS = {
    (State.IDLE, "start"): State.RUNNING,
    (State.RUNNING, "pause"): State.PAUSED,
    (State.PAUSED, "resume"): State.RUNNING,
    (State.RUNNING, "finish"): State.DONE,
}


class Machine:
    def __init__(self):
        self.state = State.IDLE
        self.log = []

    def fire(self, event):
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            self.log.append(f"ignored {event} in {self.state.name}")
            return False
        self.log.append(f"{self.state.name} -> {nxt.name}")
        self.state = nxt
        return True


m = Machine()
fired = [m.fire(e) for e in ["pause", "start", "pause", "resume", "finish", "start"]]
print(fired)
for entry in m.log:
    print(entry)
print(m.state, m.state.value, State["PAUSED"], list(State)[-1].name)
final_state = m.state.name
