"""Process entry for uvicorn: builds the app from the environment (once per worker process)."""

from fastapi import FastAPI

from autoledger.api.app import create_app
from autoledger.kit.settings import load_settings
from autoledger.platform.observability.logging import configure_logging


def create_app_from_env() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
