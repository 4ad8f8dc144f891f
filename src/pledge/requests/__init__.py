"""Data subject requests (DESIGN §5).

The execution engine lives here: it asks the manifest's dataset graph (`pledge.manifest.graph`)
for the traversal and its masking table for each field's strategy; `masking` checks strategies
against the real columns and applies them, `engine` runs access, erasure (as checkpointable
steps) and rectification against the connectors, `report` holds the results. The request
workflow (intake, verification, deadlines, jobs, mail) builds on these.
"""
