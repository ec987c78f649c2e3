// File: clients/loadgen/profile_setup.h
//
// `--setup_profiles`: makes sure every profile the load will hit exists
// before the run, by training the missing ones (X-PEFT hard on a handful of
// synthetic examples by default, so that setup stays quick) and waiting for
// their jobs. Jobs are submitted up front (the server queues them) and then
// polled with GetTrainingJob until all are final or the timeout passes.
//
// Thread safety: SetupProfiles() uses only its arguments.
#ifndef MASKSERVE_CLIENTS_LOADGEN_PROFILE_SETUP_H_
#define MASKSERVE_CLIENTS_LOADGEN_PROFILE_SETUP_H_

#include <cstdint>
#include <memory>
#include <ostream>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "clients/loadgen/load_generator.h"
#include "maskserve/v1/maskserve.pb.h"

namespace maskserve {
namespace loadgen {

struct SetupOptions {
  // X-PEFT hard by default: its profiles exercise the per-profile adapter
  // composition that the load is meant to measure (HEAD_ONLY profiles would
  // serve like the bare backbone).
  v1::Method method = v1::XPEFT_HARD;
  // Synthetic examples per profile (half "pos", half "neg").
  int examples = 8;
  uint32_t epochs = 2;
  // Retrain profiles that already exist.
  bool retrain = false;
  // Give up when the jobs are not all done by then.
  absl::Duration timeout = absl::Minutes(10);
};

// Trains the missing profiles of `load` over `channel`; progress goes to
// `log`. Fails when a job fails, an RPC fails (other than a transient
// UNAVAILABLE / RESOURCE_EXHAUSTED while submitting, which is retried) or the
// timeout passes.
absl::Status SetupProfiles(const LoadOptions& load, const SetupOptions& setup,
                           const std::shared_ptr<grpc::Channel>& channel, std::ostream& log);

}  // namespace loadgen
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_LOADGEN_PROFILE_SETUP_H_
