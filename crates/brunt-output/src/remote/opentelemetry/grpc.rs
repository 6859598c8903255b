//! The OTLP output's gRPC transport: one unary `MetricsService/Export` call per batch, on tonic
//! (plaintext with `K6_OTEL_GRPC_EXPORTER_INSECURE=true`, else TLS against the public roots).
//! The batch is already encoded, so the codec passes bytes through.

use super::proto::ExportMetricsServiceResponse;
use bytes::{Buf, BufMut};
use prost::Message;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Status;

const EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// Where the calls go, made on the sender's thread (the channel lives on its runtime).
pub(crate) struct GrpcTarget {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

pub(crate) struct GrpcClient {
    grpc: tonic::client::Grpc<Channel>,
    metadata: MetadataMap,
}

impl GrpcTarget {
    /// A channel that connects on first use (and again after a failure).
    pub(crate) fn connect(&self) -> Result<GrpcClient, String> {
        let mut endpoint = Endpoint::from_shared(self.url.clone())
            .map_err(|e| format!("{}: {e}", self.url))?
            .timeout(self.timeout)
            .connect_timeout(self.timeout);
        if self.url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_webpki_roots())
                .map_err(|e| format!("TLS: {e}"))?;
        }
        let mut metadata = MetadataMap::new();
        for (k, v) in &self.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("header '{k}' cannot be gRPC metadata"))?;
            let value = MetadataValue::try_from(v.as_str())
                .map_err(|_| format!("header '{k}' has a value gRPC metadata cannot carry"))?;
            metadata.insert(key, value);
        }
        Ok(GrpcClient {
            grpc: tonic::client::Grpc::new(endpoint.connect_lazy()),
            metadata,
        })
    }
}

impl GrpcClient {
    /// Sends one encoded `ExportMetricsServiceRequest`; a partial success that rejected points
    /// is an error too.
    pub(crate) async fn export(&mut self, body: Vec<u8>) -> Result<(), String> {
        self.grpc
            .ready()
            .await
            .map_err(|e| format!("gRPC connection: {e}"))?;
        let mut req = tonic::Request::new(body);
        *req.metadata_mut() = self.metadata.clone();
        let path = http::uri::PathAndQuery::from_static(EXPORT);
        let reply = self
            .grpc
            .unary(req, path, RawCodec)
            .await
            .map_err(|s| format!("gRPC status {:?}: {}", s.code(), s.message()))?;
        let reply = ExportMetricsServiceResponse::decode(reply.into_inner().as_slice())
            .map_err(|e| format!("the collector's reply: {e}"))?;
        match reply.partial_success {
            Some(p) if p.rejected_data_points > 0 => Err(format!(
                "the collector rejected {} data points: {}",
                p.rejected_data_points, p.error_message
            )),
            _ => Ok(()),
        }
    }
}

/// Bytes in, bytes out.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}
