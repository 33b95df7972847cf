"""HTTP: the FastAPI app factory, middleware, error mapping and router mounting."""
