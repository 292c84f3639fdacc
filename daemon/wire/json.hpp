#pragma once

// Wire messages as JSON: protobuf's JSON mapping with the field names of the .proto files, as
// the REST API, the WebSocket feed and the exports write them (docs/api.md, docs/feeds.md).

#include <google/protobuf/message.h>

#include <string>

namespace vigil::wire {

/// The message as JSON on one line; false (and `out` untouched) if protobuf refuses it.
bool to_json(const google::protobuf::Message& m, std::string& out);
/// The message as JSON on one line; "{}" if protobuf refuses it (no message of Vigil's does).
std::string to_json(const google::protobuf::Message& m);

}  // namespace vigil::wire
