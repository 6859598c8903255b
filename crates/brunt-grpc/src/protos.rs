//! The services and messages a client knows, from .proto files (parsed in Rust by protox: no
//! protoc), a protoset (a serialized `FileDescriptorSet`) or the server's reflection. Cheap to
//! clone: the descriptor pool is shared.

use prost::Message;
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use std::collections::HashSet;
use std::path::PathBuf;

/// A method as `client.load()` lists it (k6's `MethodInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodInfo {
    pub package: String,
    pub service: String,
    /// `/package.Service/Method`.
    pub full_method: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
}

#[derive(Clone, Default, Debug)]
pub struct Protos {
    pool: DescriptorPool,
}

/// Parses .proto `files`, found under `import_paths` as protoc finds them, with their imports
/// (the well-known `google/protobuf/*.proto` are built in). A syntax or type error names the
/// file, line and column (`hello.proto:4:3: ...`).
pub fn parse(
    import_paths: &[PathBuf],
    files: &[String],
) -> Result<Vec<FileDescriptorProto>, String> {
    let mut compiler = protox::Compiler::new(import_paths).map_err(|e| describe(&e))?;
    compiler.include_imports(true);
    compiler.open_files(files).map_err(|e| describe(&e))?;
    Ok(compiler.file_descriptor_set().file)
}

/// The files of a protoset (`protoc --descriptor_set_out --include_imports`).
pub fn decode_protoset(bytes: &[u8]) -> Result<Vec<FileDescriptorProto>, String> {
    FileDescriptorSet::decode(bytes)
        .map(|set| set.file)
        .map_err(|e| e.to_string())
}

/// protox's error with the place it points at, as protoc and k6's compiler print it.
fn describe(e: &protox::Error) -> String {
    use miette::Diagnostic;
    let msg = e.to_string();
    let at = e.source_code().and_then(|src| {
        let label = e.labels()?.next()?;
        let span = src.read_span(label.inner(), 0, 0).ok()?;
        let name = span
            .name()
            .map(str::to_string)
            .or(e.file().map(str::to_string))?;
        Some(format!("{name}:{}:{}", span.line() + 1, span.column() + 1))
    });
    match (at, e.file()) {
        (Some(at), _) => format!("{at}: {msg}"),
        (None, Some(file)) if !msg.contains(file) => format!("{file}: {msg}"),
        _ => msg,
    }
}

impl Protos {
    /// One .proto file, importing nothing, from its text (brunt's own services).
    pub fn from_source(name: &str, source: &str) -> Result<Protos, String> {
        let file = protox::file::File::from_source(name, source).map_err(|e| describe(&e))?;
        let mut protos = Protos::default();
        protos.add(vec![file.file_descriptor_proto().clone()])?;
        Ok(protos)
    }

    /// Adds `files` (those already known by name are skipped), in any order; returns the methods
    /// of the services they define.
    pub fn add(&mut self, files: Vec<FileDescriptorProto>) -> Result<Vec<MethodInfo>, String> {
        let known: HashSet<String> = self.pool.files().map(|f| f.name().to_string()).collect();
        let fresh: Vec<FileDescriptorProto> = files
            .into_iter()
            .filter(|f| !known.contains(f.name()))
            .collect();
        let names: Vec<String> = fresh.iter().map(|f| f.name().to_string()).collect();
        let mut pool = self.pool.clone();
        pool.add_file_descriptor_protos(dependencies_first(fresh))
            .map_err(|e| e.to_string())?;
        self.pool = pool;
        let mut methods = Vec::new();
        for name in &names {
            let Some(file) = self.pool.get_file_by_name(name) else {
                continue;
            };
            for service in file.services() {
                for m in service.methods() {
                    methods.push(MethodInfo {
                        package: file.package_name().to_string(),
                        service: service.full_name().to_string(),
                        full_method: format!("/{}/{}", service.full_name(), m.name()),
                        client_streaming: m.is_client_streaming(),
                        server_streaming: m.is_server_streaming(),
                    });
                }
            }
        }
        Ok(methods)
    }

    /// A method by k6's name: `package.Service/Method`, with or without the leading slash.
    pub fn method(&self, name: &str) -> Option<MethodDescriptor> {
        let (service, method) = name.strip_prefix('/').unwrap_or(name).split_once('/')?;
        self.pool
            .get_service_by_name(service)?
            .methods()
            .find(|m| m.name() == method)
    }

    pub fn message(&self, name: &str) -> Option<MessageDescriptor> {
        self.pool.get_message_by_name(name)
    }

    /// The descriptors themselves (what reflection serves).
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    pub fn is_empty(&self) -> bool {
        self.pool.files().next().is_none()
    }
}

/// Orders files so that each comes after those it imports (prost-reflect wants them so).
fn dependencies_first(files: Vec<FileDescriptorProto>) -> Vec<FileDescriptorProto> {
    let mut left = files;
    let mut out: Vec<FileDescriptorProto> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let names: HashSet<String> = left.iter().map(|f| f.name().to_string()).collect();
        let (ready, waiting): (Vec<_>, Vec<_>) = left.into_iter().partition(|f| {
            f.dependency
                .iter()
                .all(|d| !names.contains(d) || d == f.name())
        });
        if ready.is_empty() {
            // An import cycle: let prost-reflect name it.
            out.extend(waiting);
            break;
        }
        out.extend(ready);
        left = waiting;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[(&str, &str)]) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "brunt-grpc-protos-{}-{}",
            std::process::id(),
            files[0].0
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for (name, text) in files {
            std::fs::write(d.join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn files_load_with_their_imports_and_list_their_methods() {
        let d = dir(&[
            (
                "svc.proto",
                "syntax = \"proto3\"; package p; import \"msg.proto\";\n\
                 import \"google/protobuf/empty.proto\";\n\
                 service S { rpc Get(M) returns (google.protobuf.Empty); rpc Watch(M) returns (stream M); }",
            ),
            ("msg.proto", "syntax = \"proto3\"; package p; message M { string a = 1; }"),
        ]);
        let mut protos = Protos::default();
        let methods = protos
            .add(parse(std::slice::from_ref(&d), &["svc.proto".into()]).unwrap())
            .unwrap();
        assert_eq!(methods.len(), 2);
        assert_eq!(methods[0].full_method, "/p.S/Get");
        assert_eq!(methods[0].package, "p");
        assert!(methods[1].server_streaming && !methods[1].client_streaming);
        assert!(protos.method("p.S/Watch").is_some());
        assert!(protos.method("/p.S/Watch").is_some());
        assert!(protos.method("p.S/Nope").is_none());
        // Loading again adds nothing twice.
        let again = protos
            .add(parse(std::slice::from_ref(&d), &["svc.proto".into()]).unwrap())
            .unwrap();
        assert!(again.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let d = dir(&[(
            "bad.proto",
            "syntax = \"proto3\";\nmessage M {\n  string a = ;\n}\n",
        )]);
        let err = parse(std::slice::from_ref(&d), &["bad.proto".into()]).unwrap_err();
        assert!(err.starts_with("bad.proto:3:"), "{err}");
        let err = parse(std::slice::from_ref(&d), &["missing.proto".into()]).unwrap_err();
        assert!(err.contains("missing.proto"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
