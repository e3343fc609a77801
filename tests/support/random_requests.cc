#include "tests/support/random_requests.h"

#include <google/protobuf/text_format.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/support/roadmap_harness.h"

namespace jalon::testing {

using google::protobuf::Message;

namespace {

// What is wrong with a failed call's answer; empty when nothing is.
std::string CheckErrorAnswer(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) {
    return "error details are not a google.rpc.Status";
  }
  if (details.code() != status.error_code()) {
    return "google.rpc.Status has another code";
  }
  bool has_info = false, names_field = false;
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&info)) has_info = !info.reason().empty();
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) {
        names_field |= !v.field().empty() && !v.description().empty();
      }
    }
  }
  if (!has_info) return "no ErrorInfo with a reason";
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
      !names_field) {
    return "INVALID_ARGUMENT without a BadRequest field violation";
  }
  return "";
}

}  // namespace

std::string DataDigest(RedisClient& redis) {
  // Content read in a fixed order (sorted members and fields), not DUMP:
  // a hash table's internal order can change on a mere read (incremental
  // rehashing).
  static const char kScript[] = R"lua(
    local function sorted(list)
      table.sort(list)
      return table.concat(list, "\1")
    end
    local function pairs_sorted(flat)
      local items = {}
      for i = 1, #flat, 2 do items[#items + 1] = flat[i] .. "\2" .. flat[i + 1] end
      return sorted(items)
    end
    local parts = {}
    local cursor = "0"
    repeat
      local page = redis.call("SCAN", cursor, "COUNT", 1000)
      cursor = page[1]
      for _, key in ipairs(page[2]) do
        local kind = redis.call("TYPE", key)["ok"]
        local content
        if kind == "string" then
          content = redis.call("GET", key)
        elseif kind == "hash" then
          content = pairs_sorted(redis.call("HGETALL", key))
        elseif kind == "set" then
          content = sorted(redis.call("SMEMBERS", key))
        elseif kind == "zset" then
          content = table.concat(redis.call("ZRANGE", key, 0, -1, "WITHSCORES"), "\1")
        elseif kind == "list" then
          content = table.concat(redis.call("LRANGE", key, 0, -1), "\1")
        elseif kind == "stream" then
          local last = redis.call("XREVRANGE", key, "+", "-", "COUNT", 1)
          content = redis.call("XLEN", key) .. "@" .. (last[1] and last[1][1] or "")
        else
          content = kind
        end
        parts[#parts + 1] = key .. "\3" .. kind .. "\3" .. redis.sha1hex(content)
      end
    until cursor == "0"
    return redis.sha1hex(sorted(parts))
  )lua";
  auto digest = redis.Command({"EVAL", kScript, "0"});
  if (!digest.ok() || digest->type() != RedisReply::Type::kString) {
    ADD_FAILURE() << "DataDigest: "
                  << (digest.ok() ? "not a string"
                                  : digest.status().ToString());
    return "";
  }
  return digest->str();
}

int ProbeRandomRequests(const std::shared_ptr<grpc::Channel>& channel,
                        const ProbeOptions& options) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* service = pool->FindServiceByName(options.service);
  if (service == nullptr) {
    ADD_FAILURE() << "no service " << options.service;
    return 0;
  }
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::map<std::string, std::unique_ptr<Message>> valid;
  for (const auto& [name, text] : options.valid_requests) {
    const auto* m = service->FindMethodByName(name);
    if (m == nullptr) {
      ADD_FAILURE() << options.service << " has no method " << name;
      continue;
    }
    std::unique_ptr<Message> request(
        factory->GetPrototype(m->input_type())->New());
    const std::string filled = absl::StrReplaceAll(text, options.vars);
    if (!google::protobuf::TextFormat::ParseFromString(filled, request.get())) {
      ADD_FAILURE() << "the valid " << name << " does not parse: " << filled;
      continue;
    }
    valid[name] = std::move(request);
  }
  std::vector<const google::protobuf::MethodDescriptor*> methods;
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* m = service->method(i);
    if (m->client_streaming() || m->server_streaming()) continue;
    if (options.skip.count(m->name()) > 0) continue;
    methods.push_back(m);
  }
  // JALON_PROBE_CALLS and JALON_PROBE_SEED override the test's choice, to
  // explore further than a test run can afford.
  int calls = options.calls;
  uint64_t seed = options.seed;
  if (const char* v = std::getenv("JALON_PROBE_CALLS")) calls = std::atoi(v);
  if (const char* v = std::getenv("JALON_PROBE_SEED")) {
    seed = std::strtoull(v, nullptr, 10);
  }
  RandomMessages random(seed);
  for (const auto& s : options.known_strings) random.AddKnownString(s);
  grpc::GenericStub stub(channel);
  int succeeded = 0;
  std::map<std::string, int> outcomes;  // per method and code
  for (int call = 0; call < calls; ++call) {
    const auto* method = methods[random.Below(methods.size())];
    std::unique_ptr<Message> request(
        factory->GetPrototype(method->input_type())->New());
    auto template_request = valid.find(method->name());
    if (template_request != valid.end() && random.Chance(0.8)) {
      request->CopyFrom(*template_request->second);
      if (random.Chance(0.85)) random.Mutate(request.get());
    } else {
      random.Fill(request.get());
    }
    std::string bytes = request->SerializeAsString();
    if (bytes.size() > (3 << 20)) continue;  // over gRPC's message limit
    const std::string token =
        options.tokens[random.Below(options.tokens.size())];
    const std::string before = DataDigest(*options.redis);

    grpc::Slice slice(bytes.data(), bytes.size());
    grpc::ByteBuffer request_bytes(&slice, 1), response_bytes;
    auto ctx = Ctx(token);
    std::promise<grpc::Status> finished;
    stub.UnaryCall(ctx.get(),
                   absl::StrCat("/", service->full_name(), "/", method->name()),
                   grpc::StubOptions(), &request_bytes, &response_bytes,
                   [&](grpc::Status s) { finished.set_value(std::move(s)); });
    const grpc::Status status = finished.get_future().get();
    const std::string what =
        absl::StrCat(method->name(), " (call ", call, ", seed ", seed,
                     "): ", request->ShortDebugString().substr(0, 2000));
    ++outcomes[absl::StrCat(method->name(), " ", status.error_code())];
    if (status.ok()) {
      ++succeeded;
      continue;
    }
    switch (status.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::NOT_FOUND:
      case grpc::StatusCode::ALREADY_EXISTS:
      case grpc::StatusCode::ABORTED:
      case grpc::StatusCode::FAILED_PRECONDITION:
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::OUT_OF_RANGE:
        break;
      default:
        ADD_FAILURE() << "answered " << status.error_code() << " "
                      << status.error_message() << " to " << what;
        continue;
    }
    if (std::string wrong = CheckErrorAnswer(status); !wrong.empty()) {
      ADD_FAILURE() << wrong << " (" << status.error_code() << " "
                    << status.error_message() << ") for " << what;
    }
    if (DataDigest(*options.redis) != before) {
      ADD_FAILURE() << "a failed call changed the data ("
                    << status.error_message() << "): " << what;
    }
  }
  std::string summary;
  for (const auto& [outcome, n] : outcomes) {
    absl::StrAppend(&summary, " ", outcome, ":", n);
  }
  std::cout << "probe of " << options.service << ", seed " << seed << ", "
            << calls << " calls (method code:count):" << summary << std::endl;
  return succeeded;
}

namespace {

// Calls a server-streaming method with raw request bytes and returns how it
// ended (the messages, if any, are read and dropped).
grpc::Status CallStreaming(grpc::GenericStub& stub, grpc::ClientContext* ctx,
                           const std::string& method,
                           const grpc::ByteBuffer& request) {
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(ctx, method, &cq);
  // One operation in flight at a time: each Next is its completion.
  auto wait = [&cq] {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) return false;
    return ok;
  };
  grpc::Status status;
  call->StartCall(nullptr);
  if (wait()) {
    call->Write(request, nullptr);
    if (wait()) {
      call->WritesDone(nullptr);
      if (wait()) {
        grpc::ByteBuffer message;
        do {
          call->Read(&message, nullptr);
        } while (wait());
      }
    }
  }
  call->Finish(&status, nullptr);
  wait();
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

}  // namespace

int ProbeUnparsableRequests(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& service,
                            const std::string& token, RedisClient& redis) {
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          service);
  if (descriptor == nullptr) {
    ADD_FAILURE() << "no service " << service;
    return 0;
  }
  // A length past the end, a truncated varint, a field number 0.
  const std::vector<std::string> garbage = {"\x0a\xff\xff", "\x08\x80",
                                            std::string("\x00\x01", 2)};
  grpc::GenericStub stub(channel);
  int called = 0;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const auto* m = descriptor->method(i);
    if (m->client_streaming()) continue;
    const std::string path = absl::StrCat("/", service, "/", m->name());
    for (const std::string& bytes : garbage) {
      const std::string before = DataDigest(redis);
      grpc::Slice slice(bytes.data(), bytes.size());
      grpc::ByteBuffer request(&slice, 1), response;
      auto ctx = Ctx(token);
      grpc::Status status;
      if (m->server_streaming()) {
        status = CallStreaming(stub, ctx.get(), path, request);
      } else {
        std::promise<grpc::Status> finished;
        stub.UnaryCall(
            ctx.get(), path, grpc::StubOptions(), &request, &response,
            [&](grpc::Status s) { finished.set_value(std::move(s)); });
        status = finished.get_future().get();
      }
      const std::string what =
          absl::StrCat(m->name(), " with ", bytes.size(),
                       " bytes of garbage: ", status.error_code(), " \"",
                       status.error_message(), "\"");
      if (status.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
        ADD_FAILURE() << what;
        continue;
      }
      if (std::string wrong = CheckErrorAnswer(status); !wrong.empty()) {
        ADD_FAILURE() << wrong << ": " << what;
      }
      google::rpc::Status details;
      details.ParseFromString(status.error_details());
      bool names_request = false;
      for (const auto& any : details.details()) {
        google::rpc::BadRequest bad;
        if (!any.UnpackTo(&bad)) continue;
        for (const auto& v : bad.field_violations()) {
          names_request |= v.field() == "request";
        }
      }
      if (!names_request)
        ADD_FAILURE() << "no violation of `request`: " << what;
      if (status.error_message().find(m->input_type()->full_name()) ==
          std::string::npos) {
        ADD_FAILURE() << "the message does not name "
                      << m->input_type()->full_name() << ": " << what;
      }
      if (DataDigest(redis) != before) {
        ADD_FAILURE() << "the call changed the data: " << what;
      }
    }
    ++called;
  }
  return called;
}

}  // namespace jalon::testing
