// The response header WatchStatus sends before any update: the cursor the
// watch starts from, so that a client that asked for "from now on" and is
// cut off before its first update can resume without a gap. Shared by the
// server and its clients (jalonctl). Header-only.
#ifndef JALON_SERVICES_REPORTING_WATCH_HEADER_H_
#define JALON_SERVICES_REPORTING_WATCH_HEADER_H_

namespace jalon::reporting {

inline constexpr char kWatchCursorHeader[] = "x-jalon-cursor";

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_WATCH_HEADER_H_
