#include "services/feedback/store.h"

#include "absl/strings/str_cat.h"

namespace jalon::feedback {

std::string Keys::Prefix() { return "jalon:feedback:"; }
std::string Keys::Stream() { return Prefix() + "events"; }
std::string Keys::WakeupChannel() { return Prefix() + "wakeup"; }
std::string Keys::DeadLetters() { return Prefix() + "dead:roadmap_events"; }
std::string Keys::Endorsers(std::string_view id) {
  return absl::StrCat(Prefix(), "endorsers:", std::string(id));
}
std::string Keys::ActionItems(std::string_view id) {
  return absl::StrCat(Prefix(), "action_items:", std::string(id));
}
std::string Keys::InterestGuard(std::string_view feedback_id,
                                std::string_view organization_id) {
  return absl::StrCat(Prefix(), "interest_guard:", std::string(feedback_id),
                      ":", std::string(organization_id));
}

}  // namespace jalon::feedback
