"""An agent traced by the OpenTelemetry Python SDK and real instrumentations, configured only
through the standard OTEL_* variables. Prints one JSON line: what it recorded.

usage: otel_agent.py sdk|openinference|openai-v2|traceloop   (OTEL_EXPORTER_OTLP_PROTOCOL picks the exporter)
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def exporter():
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/json":
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def provider():
    p = TracerProvider(resource=Resource.create({"service.name": "python-agent"}))
    p.add_span_processor(BatchSpanProcessor(exporter()))
    trace.set_tracer_provider(p)
    return p


# A local stand-in for the OpenAI API (the one thing we cannot run here): a chat completion,
# streamed when asked, with usage.
class FakeOpenAI(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                 "prompt_tokens_details": {"cached_tokens": 20}}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            chunks = [
                {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Sun"}}]},
                {"choices": [{"index": 0, "delta": {"content": "ny"}, "finish_reason": "stop"}]},
                {"choices": [], "usage": usage},
            ]
            for c in chunks:
                c.update({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"})
                self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        answer = {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Sunny"}}],
            "usage": usage,
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def fake_openai():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/v1"


def sdk(tracer):
    with tracer.start_as_current_span("invoke_agent weather", attributes={
        "gen_ai.operation.name": "invoke_agent", "session.id": "py-conversation"}) as root:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 50,
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Rain."}]}]),
        }):
            pass
        with tracer.start_as_current_span("execute_tool lookup", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}) as tool:
            tool.record_exception(ValueError("no such city"))
            tool.set_status(trace.Status(trace.StatusCode.ERROR, "lookup failed"))
        return root.get_span_context().trace_id


def metric_exporter():
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    elif protocol == "http/json":
        from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    return OTLPMetricExporter()


def record_metrics():
    """A program configured by the standard variables exports every signal to the same server:
    the metrics must be answered (not stored) without the exporter reporting a failure."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    reader = PeriodicExportingMetricReader(metric_exporter(), export_interval_millis=60_000)
    meters = MeterProvider(metric_readers=[reader])
    meters.get_meter("agent").create_counter("agent.requests").add(3)
    meters.force_flush()
    meters.shutdown()


def log_exporter():
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    return OTLPLogExporter()


def instrumented(tracer, which):
    import openai
    if which == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
        OpenAIInstrumentor().instrument()
        logs = None
    else:
        # The official instrumentation sends chat messages as log records (GenAI events).
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        logs = LoggerProvider(resource=Resource.create({"service.name": "python-agent"}))
        logs.add_log_record_processor(BatchLogRecordProcessor(log_exporter()))
        set_logger_provider(logs)
        OpenAIInstrumentor().instrument(logger_provider=logs)
    client = openai.OpenAI(base_url=fake_openai(), api_key="sk-test")
    with tracer.start_as_current_span("agent", attributes={"session.id": "py-" + which}) as root:
        client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}])
        stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                stream_options={"include_usage": True},
                                                messages=[{"role": "user", "content": "Again?"}])
        for _ in stream:
            pass
        trace_id = root.get_span_context().trace_id
    if logs is not None:
        logs.force_flush()
        logs.shutdown()
    return trace_id


def traceloop():
    """OpenLLMetry (traceloop-sdk): its own init and its openai instrumentation, which writes the
    legacy indexed gen_ai.prompt.N / gen_ai.completion.N attributes."""
    import openai
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import workflow

    Traceloop.init(app_name="traceloop-agent", exporter=exporter(), disable_batch=True,
                   telemetry_enabled=False)
    client = openai.OpenAI(base_url=fake_openai(), api_key="sk-test")

    @workflow(name="support_flow")
    def flow():
        client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}])
        return trace.get_current_span().get_span_context().trace_id

    trace_id = flow()
    trace.get_tracer_provider().force_flush()
    print(json.dumps({"trace_id": format(trace_id, "032x")}))


def main():
    which = sys.argv[1]
    if which == "traceloop":
        return traceloop()
    p = provider()
    tracer = trace.get_tracer("northstar-test")
    trace_id = sdk(tracer) if which == "sdk" else instrumented(tracer, which)
    if which == "sdk":
        record_metrics()
    p.force_flush()
    p.shutdown()
    print(json.dumps({"trace_id": format(trace_id, "032x")}))


if __name__ == "__main__":
    main()
