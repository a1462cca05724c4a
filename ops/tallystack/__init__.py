"""Tally's stack, known in one place.

What a local or test stack is made of, where it keeps its state and how its parts are started
and stopped: profiles and their ports (`profiles`), the `.run/<profile>/` pid and meta files
(`pidfiles`), PostgreSQL (`postgres`), the Tansu broker (`broker`), the support processes beside
the services such as SMTP relays (`sidecars`), the services catalog and the environment each
service process gets (`services`), and the commands `ops/stack.sh` delegates to
(`python3 -m tallystack`, see `cli`).

The e2e scripts, the crash test and the bench import this package instead of keeping their own
copies of ports, file formats or pg_ctl calls. Importing it starts nothing and writes nothing.
"""
