// RocksDB's info log (the LOG file in a database folder) written with plain
// stdio, whose write errors are ignored. RocksDB's own file logger writes
// through a WritableFileWriter; once a write of it fails (a full disk), the
// next log line hits the assertion `sync_without_flush_called_` in Debian's
// librocksdb 7.8 and aborts the process — the disk-full crash of issue 12. A
// lost info-log line costs nothing; a crash costs every connection.
//
// Use: UseFailSafeErrorHandling(&options, path) before DB::Open, in every
// RocksDB database of kringd (a full disk is shared by all of them).
// Threads: the returned logger may be called from any thread.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <memory>
#include <string>

namespace kring::eventstore {

// A logger appending to `<db_path>/LOG` (the previous one kept as
// `LOG.old`), at `level` and above. The folder is created when missing. When
// the file cannot be opened the logger drops every line (never fails).
std::shared_ptr<rocksdb::Logger> NewInfoLog(const std::string& db_path,
                                            rocksdb::InfoLogLevel level = rocksdb::InfoLogLevel::INFO_LEVEL);

// Sets the info log above and switches RocksDB's automatic recovery from
// background errors off: in 7.8 it may reuse the WAL writer that saw the
// error, which aborts on Debian's librocksdb (the same assertion). After a
// failed write the database refuses writes until it is reopened: the event
// store reopens it in-process (EventStore's recovery); the other databases
// stay refusing (fail closed) until kringd restarts.
void UseFailSafeErrorHandling(rocksdb::DBOptions* options, const std::string& db_path);

}  // namespace kring::eventstore
