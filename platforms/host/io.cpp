#include "io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace streamix::host {

FdInput::~FdInput() {
  if (owns_ && fd_ >= 0) ::close(fd_);
}

FdInput::int_type FdInput::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  while (true) {
    const ssize_t n = ::read(fd_, buffer_, sizeof buffer_);
    if (n > 0) {
      setg(buffer_, buffer_, buffer_ + n);
      return traits_type::to_int_type(*gptr());
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error_ = std::strerror(errno);
    return traits_type::eof();
  }
}

FdOutput::~FdOutput() {
  drain();
  if (owns_ && fd_ >= 0) ::close(fd_);
}

bool FdOutput::drain() {
  const char* p = pbase();
  while (p < pptr()) {
    const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (error_.empty()) error_ = std::strerror(n < 0 ? errno : EIO);
      setp(buffer_, buffer_ + sizeof buffer_);  // drop what cannot be written
      return false;
    }
    p += n;
  }
  setp(buffer_, buffer_ + sizeof buffer_);
  return true;
}

FdOutput::int_type FdOutput::overflow(int_type c) {
  if (!drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int FdOutput::sync() { return drain() ? 0 : -1; }

namespace {

std::string quoted(const std::string& path) { return "'" + printable(path, kShownPath) + "'"; }

}  // namespace

int open_input(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + quoted(path) + ": " + std::strerror(errno);
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    error = quoted(path) + " is a directory";
    ::close(fd);
    return -1;
  }
  return fd;
}

int open_output(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) error = "cannot write " + quoted(path) + ": " + std::strerror(errno);
  return fd;
}

namespace {

// Appends up to `limit` bytes from fd to bytes (stops at the end of the file). false with
// errno set on a read error.
bool read_up_to(int fd, size_t limit, std::vector<unsigned char>& bytes) {
  unsigned char chunk[1 << 16];
  while (bytes.size() < limit) {
    const size_t want = limit - bytes.size() < sizeof chunk ? limit - bytes.size() : sizeof chunk;
    const ssize_t n = ::read(fd, chunk, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  return true;
}

}  // namespace

bool read_file(const std::string& path, size_t max_bytes, std::vector<unsigned char>& bytes,
               std::string& error) {
  bytes.clear();
  const int fd = open_input(path, error);
  if (fd < 0) return false;
  const bool ok = read_up_to(fd, max_bytes + 1, bytes);
  const int read_errno = errno;
  ::close(fd);
  if (!ok) {
    error = "cannot read " + quoted(path) + ": " + std::strerror(read_errno);
    return false;
  }
  if (bytes.empty()) {
    error = quoted(path) + " is empty";
    return false;
  }
  if (bytes.size() > max_bytes) {
    error = quoted(path) + " is larger than " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  return true;
}

bool read_snapshot_file(const std::string& path, std::vector<unsigned char>& bytes,
                        std::string& error) {
  bytes.clear();
  const int fd = open_input(path, error);
  if (fd < 0) return false;
  constexpr size_t kPreamble = 12;
  bool ok = read_up_to(fd, kPreamble, bytes);
  if (ok && bytes.size() == kPreamble) {
    const size_t length = bytes[8] | size_t{bytes[9]} << 8 | size_t{bytes[10]} << 16 |
                          size_t{bytes[11]} << 24;
    ok = read_up_to(fd, length, bytes);
  }
  const int read_errno = errno;
  ::close(fd);
  if (!ok) {
    error = "cannot read " + quoted(path) + ": " + std::strerror(read_errno);
    return false;
  }
  if (bytes.empty()) {
    error = quoted(path) + " is empty";
    return false;
  }
  return true;
}

bool write_file(const std::string& path, const std::vector<unsigned char>& bytes,
                std::string& error) {
  const int fd = open_output(path, error);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + quoted(path) + ": " + std::strerror(n < 0 ? errno : EIO);
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    error = "cannot write " + quoted(path) + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string printable(const std::string& text, size_t shown) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > shown) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace streamix::host
