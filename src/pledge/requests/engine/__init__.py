"""Execution of data subject requests against the organisation's stores (DESIGN §5).

The engine binds the manifest's traversal plan (`pledge.manifest.graph`) to connectors,
checking everything that can be wrong with it before any store is touched, then reads the
person's rows level by level and runs access, erasure (as checkpointable steps) and
rectification over them.

- `plan`: the bound plan (`Plan`, `Bound`, `Step`, …), immutable once bound;
- `binding`: the graph bound to reflected tables, every problem raised as one `PlanError`;
- `traversal`: what each collection is read with, and which rows are the person's own;
- `erasure`: the `collect`, `erase:<collection>` and `verify` steps, and the report;
- `rectification`: corrections checked against their columns and applied;
- `core`: the `Engine` that ties these together (thread pool, steps, reports).

No value of a person is logged or put into an exception.
"""

from pledge.requests.engine.core import Engine
from pledge.requests.engine.erasure import ROW
from pledge.requests.engine.plan import Action, Bound, Inbound, Plan, RefCheck, Step, Target
from pledge.requests.engine.traversal import Found, identity_values

__all__ = [
    "ROW",
    "Action",
    "Bound",
    "Engine",
    "Found",
    "Inbound",
    "Plan",
    "RefCheck",
    "Step",
    "Target",
    "identity_values",
]
