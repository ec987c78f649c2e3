// File: storage/rocksdb_status.h
//
// The storage edge: the one place a rocksdb::Status becomes an absl::Status.
// Every RocksDB call in storage/ goes through FromRocksDbStatus() once; no
// rocksdb::Status leaves storage/.
//
//   MASKSERVE_RETURN_IF_ERROR(
//       FromRocksDbStatus(db->Write(opts, &batch), "publish acme/p1"));
//
// Mapping: NotFound -> NOT_FOUND, Corruption -> DATA_LOSS, InvalidArgument ->
// INVALID_ARGUMENT, NotSupported -> UNIMPLEMENTED, IOError -> UNAVAILABLE
// (RESOURCE_EXHAUSTED when the disk is full), Busy/TryAgain/Aborted ->
// ABORTED, TimedOut -> DEADLINE_EXCEEDED, ShutdownInProgress -> UNAVAILABLE,
// anything else -> INTERNAL. The message is "<context>: <kind of failure>"
// (safe to show clients: no file paths); RocksDB's own message is attached
// with WithDetail() (storage/status_detail.h) for the log.
//
// Thread safety: pure function.
#ifndef MASKSERVE_STORAGE_ROCKSDB_STATUS_H_
#define MASKSERVE_STORAGE_ROCKSDB_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace maskserve {

absl::Status FromRocksDbStatus(const rocksdb::Status& status, std::string_view context);

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_ROCKSDB_STATUS_H_
