//! Messages to and from JSON as k6 maps them: protojson (camelCase names, 64-bit integers as
//! strings, enums by name, bytes in base64), with every field shown (protojson's
//! `EmitUnpopulated`: scalars at their default, unset message fields as `null`, unset oneofs and
//! proto3 `optional` fields left out).

use prost_reflect::{
    DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage, SerializeOptions, Value,
};
use serde_json::Value as Json;

/// Builds a message of type `desc` from JSON text (protojson names or the .proto's).
pub fn from_json(desc: &MessageDescriptor, json: &str) -> Result<DynamicMessage, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let msg = DynamicMessage::deserialize(desc.clone(), &mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(msg)
}

/// The message as k6 hands it to a script.
pub fn to_json(msg: &DynamicMessage) -> Json {
    let options = SerializeOptions::new().skip_default_fields(false);
    let mut json = msg
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(Json::Null);
    add_nulls(msg, &mut json);
    json
}

/// protojson writes unset singular message fields as `null`; prost-reflect leaves them out.
fn add_nulls(msg: &DynamicMessage, json: &mut Json) {
    let desc = msg.descriptor();
    // Well-known types have JSON forms of their own (a Timestamp is a string).
    if desc.full_name().starts_with("google.protobuf.") {
        return;
    }
    let Json::Object(obj) = json else { return };
    for field in desc.fields() {
        let name = field.json_name();
        if field.containing_oneof().is_some() {
            if let (Some(Value::Message(m)), Some(j)) = (
                msg.get_field_by_number(field.number()).as_deref(),
                obj.get_mut(name),
            ) {
                add_nulls(m, j);
            }
            continue;
        }
        let Kind::Message(_) = field.kind() else {
            continue;
        };
        if field.is_list() {
            if let (Value::List(items), Some(Json::Array(js))) =
                (&*msg.get_field(&field), obj.get_mut(name))
            {
                for (item, j) in items.iter().zip(js.iter_mut()) {
                    if let Value::Message(m) = item {
                        add_nulls(m, j);
                    }
                }
            }
        } else if field.is_map() {
            if let (Value::Map(entries), Some(Json::Object(js))) =
                (&*msg.get_field(&field), obj.get_mut(name))
            {
                for (key, value) in entries {
                    if let (Value::Message(m), Some(j)) = (value, js.get_mut(&key_text(key))) {
                        add_nulls(m, j);
                    }
                }
            }
        } else if msg.has_field(&field) {
            if let (Value::Message(m), Some(j)) = (&*msg.get_field(&field), obj.get_mut(name)) {
                add_nulls(m, j);
            }
        } else {
            obj.insert(name.to_string(), Json::Null);
        }
    }
}

/// A map key as protojson writes it (JSON object keys are strings).
fn key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protos::Protos;

    const PROTO: &str = r#"
        syntax = "proto3";
        package t;
        message Point { int32 x = 1; int64 big = 2; }
        message Shape {
          string shape_name = 1;
          Point center = 2;
          repeated Point corners = 3;
          oneof pick { string a = 4; Point b = 5; }
          optional int32 maybe = 6;
          enum Kind { ROUND = 0; SQUARE = 1; }
          Kind kind = 7;
          bytes data = 8;
        }
    "#;

    fn shape() -> MessageDescriptor {
        let protos = Protos::from_source("t.proto", PROTO).unwrap();
        protos.message("t.Shape").unwrap()
    }

    #[test]
    fn messages_read_as_protojson_with_every_field_shown() {
        let desc = shape();
        let msg = from_json(&desc, r#"{"shapeName":"sq","corners":[{"x":1,"big":"5"}]}"#).unwrap();
        let json = to_json(&msg);
        assert_eq!(
            json,
            serde_json::json!({
                "shapeName": "sq",
                "center": null,
                "corners": [{"x": 1, "big": "5"}],
                "kind": "ROUND",
                "data": "",
            })
        );
    }

    #[test]
    fn proto_field_names_are_accepted_and_bad_fields_named() {
        let desc = shape();
        let msg = from_json(&desc, r#"{"shape_name":"x","b":{"x":2}}"#).unwrap();
        let json = to_json(&msg);
        assert_eq!(json["shapeName"], "x");
        assert_eq!(json["b"], serde_json::json!({"x": 2, "big": "0"}));
        let err = from_json(&desc, r#"{"nope":1}"#).unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }
}
