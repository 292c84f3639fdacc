#include "daemon/wire/json.hpp"

#include <google/protobuf/util/json_util.h>

namespace vigil::wire {

bool to_json(const google::protobuf::Message& m, std::string& out) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(m, &text, options).ok()) return false;
  out = std::move(text);
  return true;
}

std::string to_json(const google::protobuf::Message& m) {
  std::string out;
  if (!to_json(m, out)) out = "{}";
  return out;
}

}  // namespace vigil::wire
