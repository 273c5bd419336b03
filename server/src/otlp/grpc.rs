//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, served by tonic's
//! generated service on the server's own port (the accept loop speaks HTTP/2 as well as
//! HTTP/1.1, see `connections.rs`). gzip in both directions; the same key, admission, size
//! limit and store path as OTLP/HTTP (tonic decodes a message before the handler runs, so the
//! byte budget of HTTP bodies does not apply; `max_decoding_message_size` bounds each).

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use tonic::codec::CompressionEncoding;

use super::OtlpError;
use crate::AppState;

/// The route of the traces' gRPC method.
pub const PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The route of the logs' gRPC method (GenAI events sent as log records).
pub const LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

#[derive(Debug)]
pub(crate) struct Traces {
    state: AppState,
}

/// The gRPC service, ready to be routed at [`PATH`].
pub(crate) fn service(state: AppState) -> TraceServiceServer<Traces> {
    let limit = state.max_body_bytes;
    TraceServiceServer::new(Traces { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}

/// The route of the metrics' gRPC method (answered, not stored).
pub const METRICS_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The metrics service, ready to be routed at [`METRICS_PATH`].
pub(crate) fn metrics_service(state: AppState) -> MetricsServiceServer<Traces> {
    let limit = state.max_body_bytes;
    MetricsServiceServer::new(Traces { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}

/// The logs service, ready to be routed at [`LOGS_PATH`].
pub(crate) fn logs_service(state: AppState) -> LogsServiceServer<Traces> {
    let limit = state.max_body_bytes;
    LogsServiceServer::new(Traces { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}

/// The gRPC status of `err`; one to retry carries its wait as a `RetryInfo`, which exporters
/// honour as HTTP clients honour `Retry-After`.
impl From<OtlpError> for tonic::Status {
    fn from(err: OtlpError) -> Self {
        let (code, message) = (err.grpc_code(), err.message());
        match err.retry_after_secs() {
            Some(seconds) => {
                let details = vec![super::ProtoAny::retry_after(seconds)];
                let status = super::RpcStatus { code: code as i32, message: message.clone(), details };
                tonic::Status::with_details(code, message, status.encode_to_vec().into())
            }
            None => tonic::Status::new(code, message),
        }
    }
}

#[tonic::async_trait]
impl TraceService for Traces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let started = std::time::Instant::now();
        let outcome = async {
            let headers = request.metadata().clone().into_headers();
            let project = super::authenticate(&self.state, &headers).await?;
            let _place = crate::ingest::admit(&self.state, project).await?;
            super::export(&self.state, project, request.into_inner()).await
        }
        .await;
        crate::ops::INGEST_SECONDS.observe(started.elapsed());
        let code = match &outcome {
            Ok(_) => "ok".to_owned(),
            Err(err) => format!("{:?}", err.grpc_code()),
        };
        metrics::counter!("northstar_otlp_grpc_requests_total", "code" => code).increment(1);
        Ok(tonic::Response::new(outcome?))
    }
}

#[tonic::async_trait]
impl LogsService for Traces {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        let project = super::authenticate(&self.state, &headers).await?;
        let _place = crate::ingest::admit(&self.state, project).await.map_err(OtlpError::from)?;
        Ok(tonic::Response::new(super::export_logs(&self.state, project, request.into_inner()).await?))
    }
}

#[tonic::async_trait]
impl MetricsService for Traces {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        let project = super::authenticate(&self.state, &headers).await?;
        let _place = crate::ingest::admit(&self.state, project).await.map_err(OtlpError::from)?;
        Ok(tonic::Response::new(super::export_metrics(&self.state, project, request.into_inner()).await?))
    }
}
