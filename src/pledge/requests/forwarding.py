"""Finding the controlling customer's privacy contact of a processor system (P-S14).

A processor system names, in `controller.contact_field` (`dataset.collection.field`), where
its controlling customer's contact is kept, e.g. `customer_content.tenants.privacy_contact_email`.
To tell that customer of a request, Pledge reads — and only reads — the declared columns of the
processor's dataset from the person's identities along `fides_meta.references` until it reaches
that collection, then takes the contact field. Nothing in the processor's store is changed.
Any failure (store unreachable, no path) means "no contact found": the person is still told
whom to ask, and the request goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pledge.connectors import FACTORIES
from pledge.connectors.base import ReadSpec, TableName
from pledge.manifest import graph
from pledge.manifest.model import Manifest

log = logging.getLogger("pledge.requests.forwarding")
MAX_CONTACTS = 10


def contacts(
    manifest: Manifest,
    system_key: str,
    identities: Mapping[str, list[str]],
    environ: Mapping[str, str],
) -> list[str]:
    """The privacy contacts of the customers controlling the person's data in `system_key`.

    `environ` holds the connections' URLs (the installation's, see `pledge.runtime`).
    """
    system = manifest.systems[system_key]
    ref = system.controller
    if ref is None or not ref.contact_field or system.connection is None:
        return []
    connection = manifest.connections.get(system.connection)
    factory = FACTORIES.get(connection.type) if connection is not None else None
    if connection is None or factory is None:
        return []
    try:
        connector = factory(system.connection, connection, environ)
    except Exception as exc:
        log.warning("cannot open %s to find its controller: %s", system_key, type(exc).__name__)
        return []
    try:
        return _walk(manifest, system_key, ref.contact_field, identities, connector)
    except Exception as exc:
        log.warning("cannot read %s's controller contact: %s", system_key, type(exc).__name__)
        return []
    finally:
        connector.close()


def _walk(
    manifest: Manifest,
    system_key: str,
    contact_field: str,
    identities: Mapping[str, list[str]],
    connector: Any,
) -> list[str]:
    dataset_key, target, field = contact_field.split(".", 2)
    dataset = next(
        (d for d in manifest.datasets_of(system_key) if d.fides_key == dataset_key), None
    )
    if dataset is None:
        return []
    columns = {c.name: [f.name for f in c.fields] for c in dataset.collections}
    known: dict[tuple[str, str], set[Any]] = {}
    for collection in dataset.collections:
        for fld in collection.fields:
            kind = fld.meta.identity
            if kind and identities.get(kind):
                known[(collection.name, fld.name)] = set(identities[kind])
    links: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for link in graph.links(dataset):  # followed either way: only reads, never a change
        if link.to_dataset == dataset_key and link.to_field:
            a, b = (link.collection, link.field), (link.to_collection, link.to_field)
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
    read: dict[str, list[dict[str, Any]]] = {}
    with connector.session() as reader:
        while target not in read:
            ready = [
                c for c in columns if c not in read and any((c, f) in known for f in columns[c])
            ]
            if not ready:
                return []
            for name in ready:
                match = {f: list(known[(name, f)]) for f in columns[name] if (name, f) in known}
                spec = ReadSpec(TableName(name), tuple(columns[name]))
                rows = [dict(zip(columns[name], r, strict=True)) for r in reader.read(spec, match)]
                read[name] = rows
                for f in columns[name]:
                    values = {r[f] for r in rows if r[f] is not None}
                    for other in links.get((name, f), ()):
                        if values:
                            known.setdefault(other, set()).update(values)
    found = {str(r[field]) for r in read[target] if r.get(field)}
    return sorted(found)[:MAX_CONTACTS]


#: The resolver the jobs use; tests replace it.
resolver = contacts
