"""OpenTelemetry: the app is always instrumented; spans are exported only when an OTLP
endpoint is configured. Without one the sampler drops every span, so instrumentation
costs next to nothing, while W3C trace context still flows through (see RequestContext)."""

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

from autoledger.kit.settings import Settings


def tracer_provider(settings: Settings) -> TracerProvider:
    resource = Resource.create({"service.name": settings.service_name})
    if settings.otlp_endpoint is None:
        return TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(1.0)))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")
        )
    )
    return provider


def instrument(app: FastAPI, provider: TracerProvider) -> None:
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics"
    )
