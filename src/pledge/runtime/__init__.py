"""The composition root: the installation, serving it, supervising workers, run files.

`installation.open_installation` builds, once, what every face shares (settings, store with
vault and signer, manifest holder, mail, connections); `server.run` serves it,
`supervisor` runs several API processes, `runfiles` lets `pledge reload` find them. Faces
(`api`, `cli`) take an installation; nothing here reads the environment but `Settings`.
Kept free of imports here, so `pledge --help` does not load the service.
"""
