// File: storage/status_macros.h
//
// Early-return helpers for absl::Status / absl::StatusOr, for storage/ and
// every layer above it (Abseil 20220623 has no ABSL_RETURN_IF_ERROR).
//
//   MASKSERVE_RETURN_IF_ERROR(ValidateProfileId(id));
//   MASKSERVE_ASSIGN_OR_RETURN(StoredProfile p, store.GetProfile(t, id));
#ifndef MASKSERVE_STORAGE_STATUS_MACROS_H_
#define MASKSERVE_STORAGE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns early from the enclosing function when `expr` is not OK.
#define MASKSERVE_RETURN_IF_ERROR(expr)                    \
  do {                                                     \
    ::absl::Status _maskserve_status = (expr);             \
    if (!_maskserve_status.ok()) return _maskserve_status; \
  } while (0)

#define MASKSERVE_CONCAT_INNER_(a, b) a##b
#define MASKSERVE_CONCAT_(a, b) MASKSERVE_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK,
// otherwise moves the value into `lhs` (a declaration or an lvalue).
#define MASKSERVE_ASSIGN_OR_RETURN(lhs, rexpr) \
  MASKSERVE_ASSIGN_OR_RETURN_IMPL_(MASKSERVE_CONCAT_(_maskserve_statusor_, __LINE__), lhs, rexpr)

#define MASKSERVE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (!statusor.ok()) return std::move(statusor).status();     \
  lhs = std::move(statusor).value()

#endif  // MASKSERVE_STORAGE_STATUS_MACROS_H_
