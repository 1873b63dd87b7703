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

// Reads path into bytes until the end of the file or until bytes holds limit(bytes) bytes
// (asked again after every read, so that a preamble can set the length). false with error
// for a path that cannot be opened or read, or an empty file.
template <class Limit>
bool read_into(const std::string& path, std::vector<unsigned char>& bytes, std::string& error,
               Limit limit) {
  bytes.clear();
  const int fd = open_input(path, error);
  if (fd < 0) return false;
  unsigned char chunk[1 << 16];
  int read_errno = 0;
  for (size_t wanted = limit(bytes); bytes.size() < wanted; wanted = limit(bytes)) {
    const size_t n = wanted - bytes.size() < sizeof chunk ? wanted - bytes.size() : sizeof chunk;
    const ssize_t got = ::read(fd, chunk, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) read_errno = errno;
    if (got <= 0) break;
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  ::close(fd);
  if (read_errno != 0) {
    error = "cannot read " + quoted(path) + ": " + std::strerror(read_errno);
    return false;
  }
  if (bytes.empty()) {
    error = quoted(path) + " is empty";
    return false;
  }
  return true;
}

}  // namespace

bool read_file(const std::string& path, size_t max_bytes, std::vector<unsigned char>& bytes,
               std::string& error) {
  if (!read_into(path, bytes, error, [max_bytes](const auto&) { return max_bytes + 1; }))
    return false;
  if (bytes.size() > max_bytes) {
    error = quoted(path) + " is larger than " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  return true;
}

bool read_snapshot_file(const std::string& path, std::vector<unsigned char>& bytes,
                        std::string& error) {
  constexpr size_t kPreamble = 12;  // magic, version, length (u32 little-endian at 8)
  return read_into(path, bytes, error, [](const std::vector<unsigned char>& b) {
    if (b.size() < kPreamble) return kPreamble;
    return size_t{b[8]} | size_t{b[9]} << 8 | size_t{b[10]} << 16 | size_t{b[11]} << 24;
  });
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
