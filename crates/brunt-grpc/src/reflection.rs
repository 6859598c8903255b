//! gRPC server reflection (`grpc.reflection.v1` and `v1alpha`, whose messages are the same): the
//! client side that `connect(addr, { reflect: true })` runs, and the server side that
//! `brunt target` serves. The messages are written out here with prost's derive (a handful of
//! fields) rather than generated.

use crate::client::Connection;
use crate::codec::{Codec, Typed};
use crate::protos::Protos;
use crate::status::error_text;
use prost::Message;
use prost_types::FileDescriptorProto;
use std::collections::{HashMap, HashSet};
use tonic::{Code, Status};

pub const V1: &str = "grpc.reflection.v1.ServerReflection";
pub const V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

#[derive(Clone, PartialEq, Message)]
pub struct Request {
    #[prost(string, tag = "1")]
    pub host: String,
    #[prost(oneof = "Ask", tags = "3, 4, 5, 6, 7")]
    pub ask: Option<Ask>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Ask {
    #[prost(string, tag = "3")]
    FileByFilename(String),
    #[prost(string, tag = "4")]
    FileContainingSymbol(String),
    #[prost(message, tag = "5")]
    FileContainingExtension(ExtensionRequest),
    #[prost(string, tag = "6")]
    AllExtensionNumbersOfType(String),
    #[prost(string, tag = "7")]
    ListServices(String),
}

#[derive(Clone, PartialEq, Message)]
pub struct ExtensionRequest {
    #[prost(string, tag = "1")]
    pub containing_type: String,
    #[prost(int32, tag = "2")]
    pub extension_number: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct Response {
    #[prost(string, tag = "1")]
    pub valid_host: String,
    #[prost(message, optional, tag = "2")]
    pub original_request: Option<Request>,
    #[prost(oneof = "Answer", tags = "4, 5, 6, 7")]
    pub answer: Option<Answer>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Answer {
    #[prost(message, tag = "4")]
    Files(FileDescriptorResponse),
    #[prost(message, tag = "5")]
    ExtensionNumbers(ExtensionNumberResponse),
    #[prost(message, tag = "6")]
    Services(ListServiceResponse),
    #[prost(message, tag = "7")]
    Error(ErrorResponse),
}

#[derive(Clone, PartialEq, Message)]
pub struct FileDescriptorResponse {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub file_descriptor_proto: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ExtensionNumberResponse {
    #[prost(string, tag = "1")]
    pub base_type_name: String,
    #[prost(int32, repeated, tag = "2")]
    pub extension_number: Vec<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ListServiceResponse {
    #[prost(message, repeated, tag = "1")]
    pub service: Vec<ServiceResponse>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ServiceResponse {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ErrorResponse {
    #[prost(int32, tag = "1")]
    pub error_code: i32,
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// Asks the server for its services and the files that define them (with their imports), as
/// k6's reflection client does: v1 first, v1alpha when the server has only that. The error is
/// k6's (`can't list services: rpc error: ...`).
pub async fn reflect(
    conn: &Connection,
    metadata: &[(String, String)],
) -> Result<Vec<FileDescriptorProto>, String> {
    let list = Ask::ListServices(String::new());
    let (mut session, answer) = match Session::open(conn, V1, metadata, list.clone()).await {
        Err(s) if s.code() == Code::Unimplemented => {
            Session::open(conn, V1ALPHA, metadata, list).await
        }
        other => other,
    }
    .map_err(|s| format!("can't list services: {}", error_text(&s)))?;
    let services = match answer {
        Answer::Services(list) => list.service,
        other => return Err(format!("can't list services: unexpected answer {other:?}")),
    };
    let mut files: HashMap<String, FileDescriptorProto> = HashMap::new();
    for service in services.iter().map(|s| &s.name) {
        // The server's own reflection service is of no use to scripts (k6 lists it too, harmlessly).
        let answer = session
            .ask(Ask::FileContainingSymbol(service.clone()))
            .await;
        let got = files_of(answer)
            .map_err(|e| format!("can't get method on service \"{service}\": {e}"))?;
        for f in got {
            files.entry(f.name().to_string()).or_insert(f);
        }
    }
    // Imports the server did not send with the files that need them.
    loop {
        let missing: HashSet<String> = files
            .values()
            .flat_map(|f| f.dependency.iter())
            .filter(|d| !files.contains_key(*d))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        for name in missing {
            let answer = session.ask(Ask::FileByFilename(name.clone())).await;
            let got =
                files_of(answer).map_err(|e| format!("can't resolve import \"{name}\": {e}"))?;
            if !got.iter().any(|f| f.name() == name) {
                return Err(format!(
                    "can't resolve import \"{name}\": the server did not send it"
                ));
            }
            for f in got {
                files.entry(f.name().to_string()).or_insert(f);
            }
        }
    }
    Ok(files.into_values().collect())
}

fn files_of(answer: Result<Answer, Status>) -> Result<Vec<FileDescriptorProto>, String> {
    match answer {
        Ok(Answer::Files(f)) => f
            .file_descriptor_proto
            .iter()
            .map(|b| FileDescriptorProto::decode(b.as_slice()).map_err(|e| e.to_string()))
            .collect(),
        Ok(Answer::Error(e)) => Err(format!(
            "rpc error: code = {} desc = {}",
            crate::status::code_name(Code::from_i32(e.error_code)),
            e.error_message
        )),
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(s) => Err(error_text(&s)),
    }
}

/// One reflection stream: a request written, its answer read, in turn.
struct Session {
    send: tokio::sync::mpsc::UnboundedSender<Request>,
    answers: tonic::Streaming<Response>,
}

impl Session {
    /// Opens the stream with `first` asked and returns its answer too: a server sends its
    /// headers with its first answer, so the stream cannot wait for them before asking.
    async fn open(
        conn: &Connection,
        service: &str,
        metadata: &[(String, String)],
        first: Ask,
    ) -> Result<(Session, Answer), Status> {
        let (send, requests) = tokio::sync::mpsc::unbounded_channel();
        let _ = send.send(Request {
            host: String::new(),
            ask: Some(first),
        });
        let path = format!("/{service}/ServerReflectionInfo");
        let codec = Codec::<Request, Typed<Response>>::new(Typed::default(), usize::MAX);
        let (_, answers) = conn.streaming(&path, requests, metadata, codec).await?;
        let mut session = Session { send, answers };
        let answer = session.read().await?;
        Ok((session, answer))
    }

    async fn ask(&mut self, ask: Ask) -> Result<Answer, Status> {
        self.send
            .send(Request {
                host: String::new(),
                ask: Some(ask),
            })
            .map_err(|_| Status::internal("the reflection stream ended"))?;
        self.read().await
    }

    async fn read(&mut self) -> Result<Answer, Status> {
        match self.answers.message().await? {
            Some(Response {
                answer: Some(a), ..
            }) => Ok(a),
            Some(_) => Err(Status::internal("an empty reflection answer")),
            None => Err(Status::internal("the reflection stream ended")),
        }
    }
}

/// The server's answer to one reflection request, from the files `protos` knows (each file
/// sent with every file it imports, as grpc-go's server does).
pub fn answer(protos: &Protos, req: Request) -> Response {
    let pool = protos.pool();
    let not_found = |what: String| {
        Answer::Error(ErrorResponse {
            error_code: Code::NotFound as i32,
            error_message: what,
        })
    };
    let answer = match &req.ask {
        Some(Ask::ListServices(_)) => Answer::Services(ListServiceResponse {
            service: pool
                .services()
                .map(|s| ServiceResponse {
                    name: s.full_name().to_string(),
                })
                .collect(),
        }),
        Some(Ask::FileByFilename(name)) => match pool.get_file_by_name(name) {
            Some(f) => with_imports(&f),
            None => not_found(format!("file not found: {name}")),
        },
        Some(Ask::FileContainingSymbol(symbol)) => match file_of(pool, symbol) {
            Some(f) => with_imports(&f),
            None => not_found(format!("symbol not found: {symbol}")),
        },
        Some(Ask::FileContainingExtension(_)) | Some(Ask::AllExtensionNumbersOfType(_)) => {
            not_found("extensions are not served".into())
        }
        None => Answer::Error(ErrorResponse {
            error_code: Code::InvalidArgument as i32,
            error_message: "empty request".into(),
        }),
    };
    Response {
        valid_host: req.host.clone(),
        original_request: Some(req),
        answer: Some(answer),
    }
}

/// The file that defines a service, method, message or enum.
fn file_of(
    pool: &prost_reflect::DescriptorPool,
    symbol: &str,
) -> Option<prost_reflect::FileDescriptor> {
    if let Some(s) = pool.get_service_by_name(symbol) {
        return Some(s.parent_file());
    }
    if let Some(m) = pool.get_message_by_name(symbol) {
        return Some(m.parent_file());
    }
    if let Some(e) = pool.get_enum_by_name(symbol) {
        return Some(e.parent_file());
    }
    let (service, method) = symbol.rsplit_once('.')?;
    let s = pool.get_service_by_name(service)?;
    let found = s.methods().any(|m| m.name() == method);
    found.then(|| s.parent_file())
}

/// A file and everything it imports, encoded.
fn with_imports(file: &prost_reflect::FileDescriptor) -> Answer {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack = vec![file.clone()];
    while let Some(f) = stack.pop() {
        if !seen.insert(f.name().to_string()) {
            continue;
        }
        out.push(f.file_descriptor_proto().encode_to_vec());
        stack.extend(f.dependencies());
    }
    Answer::Files(FileDescriptorResponse {
        file_descriptor_proto: out,
    })
}
