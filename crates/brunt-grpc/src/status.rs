//! gRPC statuses as grpc-go words them, which is what k6 scripts see: the code names of
//! `codes.Code`, and `rpc error: code = X desc = Y` for a status turned into an error.

use tonic::{Code, Status};

/// grpc-go's name of a status code (`Unimplemented`, `DeadlineExceeded`, ...).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// The text of a failed call as grpc-go's `status.Error` prints it.
pub fn error_text(status: &Status) -> String {
    format!(
        "rpc error: code = {} desc = {}",
        code_name(status.code()),
        status.message()
    )
}

/// Every code with the name k6 exports it under (`grpc.StatusOK`, ...).
pub const K6_STATUS_NAMES: [(&str, Code); 17] = [
    ("StatusOK", Code::Ok),
    ("StatusCanceled", Code::Cancelled),
    ("StatusUnknown", Code::Unknown),
    ("StatusInvalidArgument", Code::InvalidArgument),
    ("StatusDeadlineExceeded", Code::DeadlineExceeded),
    ("StatusNotFound", Code::NotFound),
    ("StatusAlreadyExists", Code::AlreadyExists),
    ("StatusPermissionDenied", Code::PermissionDenied),
    ("StatusResourceExhausted", Code::ResourceExhausted),
    ("StatusFailedPrecondition", Code::FailedPrecondition),
    ("StatusAborted", Code::Aborted),
    ("StatusOutOfRange", Code::OutOfRange),
    ("StatusUnimplemented", Code::Unimplemented),
    ("StatusInternal", Code::Internal),
    ("StatusUnavailable", Code::Unavailable),
    ("StatusDataLoss", Code::DataLoss),
    ("StatusUnauthenticated", Code::Unauthenticated),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_grpc_go_prints_them() {
        let s = Status::unimplemented("unknown service x.Y");
        assert_eq!(
            error_text(&s),
            "rpc error: code = Unimplemented desc = unknown service x.Y"
        );
        assert_eq!(code_name(Code::Cancelled), "Canceled");
    }
}
