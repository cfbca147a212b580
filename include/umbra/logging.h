// Errors and checks: the one error mechanism of umbra.
// UMBRA_CHECK* throw umbra::Error carrying file:line and a sentence built from the arguments; the
// library never exits or aborts. Only front ends (CLI, C API) catch. CUDA-family status checks live
// next to their libraries (tensor/cuda/check.h) so that this header needs no CUDA.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace umbra {

/// The single exception type of umbra. what() is "file:line: [check failed: cond.] message" for
/// developers; message() is the sentence alone, what a command-line user is shown.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg), message_(msg) {}
  Error(const std::string& where, const std::string& msg) : std::runtime_error(where + msg), message_(msg) {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

namespace detail {
template <typename... Args>
[[noreturn]] inline void Throw(const char* file, int line, const Args&... args) {
  std::ostringstream where, msg;
  where << file << ":" << line << ": ";
  (msg << ... << args);
  throw Error(where.str(), msg.str());
}
template <typename... Args>
[[noreturn]] inline void ThrowCheck(const char* file, int line, const char* cond, const Args&... args) {
  std::ostringstream where, msg;
  where << file << ":" << line << ": check failed: " << cond << ". ";
  (msg << ... << args);
  if (sizeof...(Args) == 0) msg << "check failed: " << cond;
  throw Error(where.str(), msg.str());
}
}  // namespace detail

}  // namespace umbra

/// UMBRA_CHECK(cond, parts...): throws umbra::Error with the parts streamed after file:line.
#define UMBRA_CHECK(cond, ...)                                                          \
  do {                                                                                  \
    if (!(cond)) [[unlikely]]                                                           \
      ::umbra::detail::ThrowCheck(__FILE__, __LINE__, #cond __VA_OPT__(, ) __VA_ARGS__);  \
  } while (0)

#define UMBRA_CHECK_OP_(a, b, op, ...)                                                     \
  do {                                                                                     \
    const auto& umbra_a_ = (a);                                                            \
    const auto& umbra_b_ = (b);                                                            \
    if (!(umbra_a_ op umbra_b_)) [[unlikely]]                                              \
      ::umbra::detail::ThrowCheck(__FILE__, __LINE__, #a " " #op " " #b, "(", umbra_a_, " vs ", \
                                  umbra_b_, ") " __VA_OPT__(, ) __VA_ARGS__);              \
  } while (0)

#define UMBRA_CHECK_EQ(a, b, ...) UMBRA_CHECK_OP_(a, b, ==, __VA_ARGS__)
#define UMBRA_CHECK_NE(a, b, ...) UMBRA_CHECK_OP_(a, b, !=, __VA_ARGS__)
#define UMBRA_CHECK_LT(a, b, ...) UMBRA_CHECK_OP_(a, b, <, __VA_ARGS__)
#define UMBRA_CHECK_LE(a, b, ...) UMBRA_CHECK_OP_(a, b, <=, __VA_ARGS__)
#define UMBRA_CHECK_GT(a, b, ...) UMBRA_CHECK_OP_(a, b, >, __VA_ARGS__)
#define UMBRA_CHECK_GE(a, b, ...) UMBRA_CHECK_OP_(a, b, >=, __VA_ARGS__)

/// Throws unconditionally; for "cannot happen here" branches that depend on user input.
#define UMBRA_THROW(...) ::umbra::detail::Throw(__FILE__, __LINE__, __VA_ARGS__)
