// File: server/metrics/labels.h
//
// A label set: label name -> label value, kept sorted by name so that
// exposition order is stable. Label names follow Prometheus rules (see
// names.h); values are any UTF-8 text and are escaped on output.
//
// Never put an unbounded value (a profile or user id) in a label: every
// distinct label set is a separate time series.
//
// Example:
//   Labels labels{{"rpc", "Predict"}, {"code", "OK"}};
#ifndef MASKSERVE_SERVER_METRICS_LABELS_H_
#define MASKSERVE_SERVER_METRICS_LABELS_H_

#include <map>
#include <string>

namespace maskserve {
namespace metrics {

using Labels = std::map<std::string, std::string>;

}  // namespace metrics
}  // namespace maskserve

#endif  // MASKSERVE_SERVER_METRICS_LABELS_H_
