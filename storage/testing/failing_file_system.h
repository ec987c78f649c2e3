// File: storage/testing/failing_file_system.h
//
// A RocksDB file system for tests whose writes can be made to fail as a
// full disk does: while fail_writes() is on, every append, flush and sync of
// a file opened for writing returns NoSpace. Hand env() to
// RocksDbStoreOptions::env; it must outlive the store.
//
//   FailingFileSystem disk;
//   options.env = disk.env();
//   disk.set_fail_writes(true);    // the next write fails, health turns bad
//
// Thread safety: set_fail_writes() may be called from any thread.
#ifndef MASKSERVE_STORAGE_TESTING_FAILING_FILE_SYSTEM_H_
#define MASKSERVE_STORAGE_TESTING_FAILING_FILE_SYSTEM_H_

#include <atomic>
#include <memory>
#include <string>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace maskserve {

class FailingFileSystem {
 public:
  FailingFileSystem()
      : fs_(std::make_shared<FileSystem>(rocksdb::FileSystem::Default(), &fail_)),
        env_(rocksdb::NewCompositeEnv(fs_)) {}

  rocksdb::Env* env() const { return env_.get(); }
  void set_fail_writes(bool fail) { fail_.store(fail); }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* fail)
        : FSWritableFileOwnerWrapper(std::move(file)), fail_(fail) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      return fail_->load() ? Full() : FSWritableFileOwnerWrapper::Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      return fail_->load() ? Full() : FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      return fail_->load() ? Full() : FSWritableFileOwnerWrapper::Flush(options, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      return fail_->load() ? Full() : FSWritableFileOwnerWrapper::Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      return fail_->load() ? Full() : FSWritableFileOwnerWrapper::Fsync(options, dbg);
    }

   private:
    static rocksdb::IOStatus Full() { return rocksdb::IOStatus::NoSpace("injected: disk full"); }
    const std::atomic<bool>* fail_;
  };

  class FileSystem : public rocksdb::FileSystemWrapper {
   public:
    FileSystem(const std::shared_ptr<rocksdb::FileSystem>& target, const std::atomic<bool>* fail)
        : FileSystemWrapper(target), fail_(fail) {}
    const char* Name() const override { return "FailingFileSystem"; }
    rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
      std::unique_ptr<rocksdb::FSWritableFile> file;
      rocksdb::IOStatus s = target()->NewWritableFile(name, options, &file, dbg);
      if (s.ok()) *result = std::make_unique<File>(std::move(file), fail_);
      return s;
    }

   private:
    const std::atomic<bool>* fail_;
  };

  std::atomic<bool> fail_{false};
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace maskserve

#endif  // MASKSERVE_STORAGE_TESTING_FAILING_FILE_SYSTEM_H_
