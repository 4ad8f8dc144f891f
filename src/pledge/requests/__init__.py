"""Data subject requests (DESIGN §5).

The execution engine lives here: `graph` plans the traversal over the datasets, `masking`
resolves and checks erasure strategies, `engine` runs access, erasure (as checkpointable
steps) and rectification against the connectors, `report` holds the results. The request
workflow (intake, verification, deadlines, jobs, mail) builds on these.
"""
