// The feedback service's use cases, one method per RPC, plus the consumer
// of the roadmap service's action events that closes the loop. Each use
// case authorises, validates, reads what it needs, applies the domain rules
// and commits the change with its event. Thread-safe.
#ifndef JALON_SERVICES_FEEDBACK_SERVICE_H_
#define JALON_SERVICES_FEEDBACK_SERVICE_H_

#include <functional>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "jalon/feedback/v1/feedback.pb.h"
#include "services/common/clock.h"
#include "services/common/roadmap_client.h"
#include "services/common/rpc.h"
#include "services/common/stream_consumer.h"
#include "services/feedback/store.h"

namespace jalon::feedback {

namespace pb = ::jalon::feedback::v1;

struct FeedbackOptions {
  // Distinct organisations whose reports hide an item pending review.
  int report_threshold = 3;
};

class FeedbackService {
 public:
  FeedbackService(FeedbackStore* store, RoadmapClient* roadmap,
                  const Clock* clock, FeedbackOptions options);

#define JALON_FEEDBACK_RPC(Name, Roles)                                 \
  absl::Status Name(const CallContext& c, const pb::Name##Request& req, \
                    pb::Name##Response* resp);
#include "services/feedback/rpcs.inc"
#undef JALON_FEEDBACK_RPC

  // Applies one entry of the roadmap service's event stream: records the
  // state of an action (if newer than what is known) and re-evaluates the
  // items linked to it. Idempotent; other events are ignored.
  absl::Status ApplyRoadmapEvent(const StreamEntry& entry);

  // Called by the loop between its look at an item and its update (tests
  // race a change of an action there).
  void SetReevaluateHookForTest(
      std::function<void(const std::string& feedback_id)> hook) {
    std::lock_guard<std::mutex> lock(hook_mu_);
    reevaluate_hook_ = std::move(hook);
  }

  // Called by SubmitFeedback between its look at the item's consultation
  // and its commit (tests close the consultation there).
  void SetSubmitHookForTest(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(hook_mu_);
    submit_hook_ = std::move(hook);
  }

 private:
  std::function<void()> SubmitHook() {
    std::lock_guard<std::mutex> lock(hook_mu_);
    return submit_hook_;
  }
  // Re-evaluates CloseLoop for one item; commits when it changes.
  absl::Status Reevaluate(const std::string& feedback_id);
  std::function<void(const std::string&)> ReevaluateHook() {
    std::lock_guard<std::mutex> lock(hook_mu_);
    return reevaluate_hook_;
  }
  // SubmitFeedback's answer: `item` as the caller may see it, with its
  // endorsements so far when it was created by an earlier attempt.
  absl::Status AnswerSubmit(const CallContext& c, pb::FeedbackItem item,
                            bool duplicate, pb::SubmitFeedbackResponse* resp);

  FeedbackStore* store_;
  RoadmapClient* roadmap_;
  const Clock* clock_;
  FeedbackOptions options_;
  std::mutex hook_mu_;
  std::function<void(const std::string&)> reevaluate_hook_;  // hook_mu_
  std::function<void()> submit_hook_;                        // hook_mu_
};

}  // namespace jalon::feedback

#endif  // JALON_SERVICES_FEEDBACK_SERVICE_H_
