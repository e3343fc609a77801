#!/usr/bin/env python3
"""Prints tools/run's summary of a roadmap's status.

Reads `jalonctl report status -o json` (a GetRoadmapStatusResponse in the
protobuf JSON mapping) on stdin; prints per ecosystem each indicator's
rating and attainment, and the actions by status. With --caught-up, prints
nothing and exits 0 only if the reporting read models have applied every
event of both source streams (nothing pending, nothing undelivered).
"""
import json
import sys


def caught_up(status):
    positions = status.get("positions", [])
    return bool(positions) and all(
        int(p.get("pending", 0)) == 0 and int(p.get("lag", 0)) == 0
        for p in positions)


def main():
    status = json.load(sys.stdin)
    if sys.argv[1:] == ["--caught-up"]:
        sys.exit(0 if caught_up(status) else 1)
    content = status["content"]
    as_of = content["as_of"]
    print(f"  {content['roadmap_title']}, as of "
          f"{as_of['year']}-{as_of['month']:02d}-{as_of['day']:02d}")
    groups = [(e["name"], e.get("indicators", []), e.get("actions", {}))
              for e in content.get("ecosystems", [])]
    groups.append(("Roadmap-wide", content.get("roadmap_indicators", []),
                   None))
    for name, indicators, actions in groups:
        print(f"  {name}")
        for indicator in indicators:
            attainment = indicator.get("attainment_target")
            attainment = (f"{100 * float(attainment):.0f}% of target"
                          if attainment is not None else "no verified figure")
            rating = indicator.get("rating", "RATING_NO_DATA")
            rating = rating.replace("RATING_", "")
            print(f"    {rating:8} {indicator['name'][:52]:52} {attainment}")
        if actions is not None:
            counts = ", ".join(
                f"{s['status'].replace('ACTION_STATUS_', '').lower()} "
                f"{s['count']}" for s in actions.get("by_status", []))
            print(f"    actions: {counts or 'none'}")


if __name__ == "__main__":
    main()
