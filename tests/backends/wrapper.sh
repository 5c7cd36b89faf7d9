#!/bin/sh
# A plain wrapper: runs its arguments (the contract suite runs a REPL session behind it).
exec "$@"
