"""How a method trains: the algorithm protocol (protocol.py, step.py), the standard algorithm and its composition of
parts, and one file per algorithm holding its Params, its Part and its class (see registry.py)."""
