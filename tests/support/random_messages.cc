#include "tests/support/random_messages.h"

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <cmath>
#include <limits>

#include "jalon/common/v1/common.pb.h"

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
  if (d->full_name().rfind("google.protobuf.", 0) == 0) {
    m->Clear();
    FillWellKnown(m);  // as a whole: its fields have rules of their own
    return;
  }
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
    if (valid_timestamps_) {
      t->set_seconds(Pick<int64_t>(
          *this, {0, 1'700'000'000, 1'462'147'200, 253'402'300'799}));
      t->set_nanos(Pick<int32_t>(*this, {0, 999'999'999}));
      return;
    }
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
  // Now and then a long list, near the top only (nested long lists would
  // multiply).
  if (f->is_repeated()) count = depth <= 1 && Chance(0.03) ? 200 : Below(4);
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
          // Beyond float's range, a cast would be undefined: saturate.
          const float fv =
              std::isnan(v)   ? std::numeric_limits<float>::quiet_NaN()
              : std::isinf(v) ? static_cast<float>(v)
              : std::fabs(v) > std::numeric_limits<float>::max()
                  ? std::copysign(std::numeric_limits<float>::max(),
                                  static_cast<float>(v > 0 ? 1 : -1))
                  : static_cast<float>(v);
          rep ? r->AddFloat(m, f, fv) : r->SetFloat(m, f, fv);
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
            date->set_year(Pick<int>(*this, {2016, 2020, 2024, 2099}));
            date->set_month(1 + static_cast<int>(Below(12)));
            date->set_day(1 + static_cast<int>(Below(28)));
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

}  // namespace jalon::testing
