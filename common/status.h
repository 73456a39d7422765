// Small helpers around absl::Status that Debian's abseil (20220623) lacks.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KRING_CONCAT_INNER_(a, b) a##b
#define KRING_CONCAT_(a, b) KRING_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status kring_status_ = (expr);         \
    if (!kring_status_.ok()) return kring_status_; \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr())`.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL_(KRING_CONCAT_(kring_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()
