// File: proto/job_state.h
//
// Facts about v1::JobState that every layer shares (store, server, fake
// server, maskctl): a job is final once SUCCEEDED, FAILED or CANCELLED, and
// never changes state again.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_PROTO_JOB_STATE_H_
#define MASKSERVE_PROTO_JOB_STATE_H_

#include "maskserve/v1/maskserve.pb.h"

namespace maskserve {

inline bool IsFinalJobState(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

}  // namespace maskserve

#endif  // MASKSERVE_PROTO_JOB_STATE_H_
