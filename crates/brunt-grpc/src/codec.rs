//! The protobuf codec of every call: messages described at run time (prost-reflect's
//! `DynamicMessage`) and the few compiled ones brunt speaks itself (reflection, health). The
//! receive limit is checked here, with grpc-go's status and words, so that a script sees what k6
//! reports (`grpc: received message larger than max (N vs. M)`).

use prost::bytes::Buf;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use std::marker::PhantomData;
use tonic::codec::{DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// grpc-go's default limit on a received message (4 MiB), which k6 keeps unless `maxReceiveSize`.
pub const DEFAULT_MAX_RECEIVE: usize = 4 * 1024 * 1024;

/// How a received message is built.
pub trait MessageType: Clone + Send + 'static {
    type Message: prost::Message + Send + 'static;
    fn decode(&self, buf: &mut DecodeBuf<'_>) -> Result<Self::Message, prost::DecodeError>;
}

/// A message described at run time.
#[derive(Clone)]
pub struct Dynamic(pub MessageDescriptor);

impl MessageType for Dynamic {
    type Message = DynamicMessage;
    fn decode(&self, buf: &mut DecodeBuf<'_>) -> Result<DynamicMessage, prost::DecodeError> {
        DynamicMessage::decode(self.0.clone(), buf)
    }
}

/// A compiled message type.
pub struct Typed<T>(PhantomData<fn() -> T>);

impl<T> Clone for Typed<T> {
    fn clone(&self) -> Self {
        Typed(PhantomData)
    }
}

impl<T> Default for Typed<T> {
    fn default() -> Self {
        Typed(PhantomData)
    }
}

impl<T: prost::Message + Default + Send + 'static> MessageType for Typed<T> {
    type Message = T;
    fn decode(&self, buf: &mut DecodeBuf<'_>) -> Result<T, prost::DecodeError> {
        T::decode(buf)
    }
}

/// Encodes `E`, decodes what `D` describes, refusing received messages over `max_receive` bytes.
pub struct Codec<E, D> {
    decode: D,
    max_receive: usize,
    _encode: PhantomData<fn(E)>,
}

impl<E, D> Codec<E, D> {
    pub fn new(decode: D, max_receive: usize) -> Self {
        Codec {
            decode,
            max_receive,
            _encode: PhantomData,
        }
    }
}

impl<E: prost::Message + Send + 'static, D: MessageType> tonic::codec::Codec for Codec<E, D> {
    type Encode = E;
    type Decode = D::Message;
    type Encoder = Encode<E>;
    type Decoder = Decode<D>;

    fn encoder(&mut self) -> Encode<E> {
        Encode(PhantomData)
    }

    fn decoder(&mut self) -> Decode<D> {
        Decode {
            kind: self.decode.clone(),
            max: self.max_receive,
        }
    }
}

pub struct Encode<E>(PhantomData<fn(E)>);

impl<E: prost::Message> Encoder for Encode<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("grpc: error while marshaling: {e}")))
    }
}

pub struct Decode<D> {
    kind: D,
    max: usize,
}

impl<D: MessageType> Decoder for Decode<D> {
    type Item = D::Message;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D::Message>, Status> {
        let len = src.remaining();
        if len > self.max {
            return Err(Status::resource_exhausted(format!(
                "grpc: received message larger than max ({len} vs. {})",
                self.max
            )));
        }
        self.kind.decode(src).map(Some).map_err(|e| {
            Status::internal(format!(
                "grpc: failed to unmarshal the received message: {e}"
            ))
        })
    }
}
