"""The HTTP face of Pledge: FastAPI under /v1, public pages, OpenAPI at /openapi.json."""
