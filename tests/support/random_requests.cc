#include "tests/support/random_requests.h"

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <future>
#include <iostream>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/support/roadmap_harness.h"

namespace jalon::testing {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

template <typename T>
T Pick(RandomMessages& r, const std::vector<T>& values) {
  return values[r.Below(values.size())];
}

}  // namespace

RandomMessages::RandomMessages(uint64_t seed) : rng_(seed) {}

void RandomMessages::AddKnownString(std::string value) {
  known_.push_back(std::move(value));
}

bool RandomMessages::Chance(double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
}

size_t RandomMessages::Below(size_t n) {
  return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
}

void RandomMessages::Fill(Message* message) {
  message->Clear();
  FillMessage(message, 0);
}

std::string RandomMessages::RandomString() {
  if (!known_.empty() && Chance(0.35)) return Pick(*this, known_);
  switch (Below(12)) {
    case 0:
      return "";
    case 1:
      return " \t ";
    case 2:
      return std::string(1 + Below(3000), 'x');
    case 3:
      return "Réalisé à 95 % — données vérifiées";
    case 4:
      return "<script>alert(\"x\")</script> | `code` **b** [l](u) &amp;";
    case 5:
      return "\xF0\x9F\x8F\xAD usine";  // a factory emoji
    case 6:
      return "01J0000000000000000000000Z";  // an id no one has
    case 7:
      return "line one\nline two\r\n";
    case 8:
      return Pick<std::string>(*this, {"copilot", "admin", "member", "reader",
                                       "jobs", "mad", "in-progress", "DONE"});
    case 9:
      return FieldPath();
    case 10: {
      // Something like a page token, or not.
      return Pick<std::string>(
          *this, {"0", "-1", "abc", "999999999999999", "eyJvIjoxfQ"});
    }
    default:
      return "Fonderie";
  }
}

std::string RandomMessages::FieldPath() {
  if (names_.empty() || Chance(0.15)) {
    return Pick<std::string>(*this, {"", "*", "no_such_field", "a.b", "id",
                                     "etag", "audit.create_time"});
  }
  auto it = names_.begin();
  std::advance(it, Below(names_.size()));
  return *it;
}

void RandomMessages::Mutate(Message* message) {
  for (size_t n = 1 + Below(3); n > 0; --n) MutateOnce(message, 0);
}

void RandomMessages::MutateOnce(Message* m, int depth) {
  const Descriptor* d = m->GetDescriptor();
  if (d->field_count() == 0) return;
  const FieldDescriptor* f =
      d->field(static_cast<int>(Below(d->field_count())));
  const Reflection* r = m->GetReflection();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && Chance(0.6)) {
    if (f->is_repeated() && r->FieldSize(*m, f) > 0) {
      MutateOnce(r->MutableRepeatedMessage(
                     m, f, static_cast<int>(Below(r->FieldSize(*m, f)))),
                 depth + 1);
      return;
    }
    if (!f->is_repeated() && r->HasField(*m, f)) {
      MutateOnce(r->MutableMessage(m, f), depth + 1);
      return;
    }
  }
  r->ClearField(m, f);
  if (Chance(0.7)) FillField(m, f, depth);
}

void RandomMessages::FillWellKnown(Message* message) {
  const std::string& type = message->GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") {
    auto* t = static_cast<google::protobuf::Timestamp*>(message);
    t->set_seconds(Pick<int64_t>(
        *this, {0, -1, 1'700'000'000, 253'402'300'799, 253'402'300'800,
                std::numeric_limits<int64_t>::min(),
                std::numeric_limits<int64_t>::max()}));
    t->set_nanos(Pick<int32_t>(*this, {0, 999'999'999, 1'000'000'000, -1}));
  } else if (type == "google.protobuf.FieldMask") {
    auto* m = static_cast<google::protobuf::FieldMask*>(message);
    for (size_t n = Below(4); n > 0; --n) m->add_paths(FieldPath());
  }
}

void RandomMessages::FillMessage(Message* message, int depth) {
  const Descriptor* d = message->GetDescriptor();
  if (d->full_name().rfind("google.protobuf.", 0) == 0) {
    FillWellKnown(message);  // Any, Struct...: left empty
    return;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    names_.insert(d->field(i)->name());
  }
  for (int i = 0; i < d->field_count(); ++i) {
    if (Chance(depth == 0 ? 0.75 : 0.5)) FillField(message, d->field(i), depth);
  }
}

void RandomMessages::FillField(Message* m, const FieldDescriptor* f,
                               int depth) {
  const Reflection* r = m->GetReflection();
  size_t count = 1;
  if (f->is_repeated()) count = Chance(0.03) ? 200 : Below(4);
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth >= 4) return;
  for (size_t k = 0; k < count; ++k) {
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string v = f->type() == FieldDescriptor::TYPE_BYTES && Chance(0.5)
                            ? std::string("\x00\xff\x0a\x80", 4)
                            : RandomString();
        rep ? r->AddString(m, f, std::move(v))
            : r->SetString(m, f, std::move(v));
        break;
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v =
            Pick<int32_t>(*this, {0, 1, -1, 3, 12, 29, 100, 101, 2016, 2099,
                                  10000, std::numeric_limits<int32_t>::max(),
                                  std::numeric_limits<int32_t>::min()});
        rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v = Pick<int64_t>(*this, {0, 1, -1, 50, 1000, 1'000'000,
                                          std::numeric_limits<int64_t>::max(),
                                          std::numeric_limits<int64_t>::min()});
        rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v = Pick<uint32_t>(*this, {0, 1, 100, 0xffffffffu});
        rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = Pick<uint64_t>(*this, {0, 1, 100, ~uint64_t{0}});
        rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const double inf = std::numeric_limits<double>::infinity();
        double v = Pick<double>(
            *this, {0.0, -0.0, 1.0, -1.0, 0.5, 100.0, 13340.0, 1e308, -1e308,
                    std::nan(""), inf, -inf, 4.9e-324});
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          rep ? r->AddFloat(m, f, static_cast<float>(v))
              : r->SetFloat(m, f, static_cast<float>(v));
        } else {
          rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v = Chance(0.5);
        rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* e = f->enum_type();
        // Mostly a value of the enum; sometimes one it does not have
        // (proto3 enums are open: any client can send one).
        int v =
            Chance(0.85)
                ? e->value(static_cast<int>(Below(e->value_count())))->number()
                : Pick<int>(*this, {-1, 99, 1 << 20});
        rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
        if (sub->GetDescriptor()->full_name() == "jalon.common.v1.Date") {
          auto* date = static_cast<common::v1::Date*>(sub);
          if (Chance(0.5)) {
            *date = D(Pick<int>(*this, {2016, 2020, 2024, 2099}),
                      1 + static_cast<int>(Below(12)),
                      1 + static_cast<int>(Below(28)));
          } else {
            date->set_year(Pick<int>(*this, {0, -1, 1, 1900, 9999, 10000,
                                             std::numeric_limits<int>::max()}));
            date->set_month(Pick<int>(*this, {0, 1, 2, 12, 13, -1}));
            date->set_day(Pick<int>(*this, {0, 1, 29, 30, 31, 32, -1}));
          }
        } else {
          FillMessage(sub, depth + 1);
        }
        break;
      }
    }
  }
}

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
    std::string filled = text;
    for (const auto& [var, value] : options.vars) {
      filled = absl::StrReplaceAll(filled, {{var, value}});
    }
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
    const std::string before = options.fingerprint();

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
    if (options.fingerprint() != before) {
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

}  // namespace jalon::testing
