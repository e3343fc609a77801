// The feedback service's storage: the only code that knows its Redis keys
// (all under "jalon:feedback:"; entities as in EntityStore). Thread-safe.
#ifndef JALON_SERVICES_FEEDBACK_STORE_H_
#define JALON_SERVICES_FEEDBACK_STORE_H_

#include <string>
#include <string_view>

#include "services/common/entity_store.h"

namespace jalon::feedback {

inline constexpr char kConsultation[] = "consultation";
inline constexpr char kFeedback[] = "feedback";
inline constexpr char kInterest[] = "interest";
inline constexpr char kEndorsement[] = "endorsement";
inline constexpr char kActionState[] = "action_state";

struct Keys {
  static std::string Prefix();  // "jalon:feedback:"
  static std::string Stream();
  static std::string WakeupChannel();
  // Roadmap events this service failed to apply max_deliveries times.
  static std::string DeadLetters();
  // Organisations endorsing an item (a set: its size is the count).
  static std::string Endorsers(std::string_view feedback_id);
  // Items linked to a roadmap action.
  static std::string ActionItems(std::string_view action_id);
  // One interest per organisation and offer.
  static std::string InterestGuard(std::string_view feedback_id,
                                   std::string_view organization_id);
};

class FeedbackStore : public EntityStore {
 public:
  FeedbackStore(RedisClient* redis, EventLog log)
      : EntityStore(redis, std::move(log), Keys::Prefix()) {}
};

}  // namespace jalon::feedback

#endif  // JALON_SERVICES_FEEDBACK_STORE_H_
