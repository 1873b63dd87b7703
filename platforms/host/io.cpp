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
  FdInput in(fd, true);  // the one read loop (underflow), errors kept
  for (size_t wanted = limit(bytes); bytes.size() < wanted; wanted = limit(bytes)) {
    const size_t had = bytes.size();
    bytes.resize(wanted);
    const std::streamsize got = in.sgetn(reinterpret_cast<char*>(bytes.data() + had),
                                         static_cast<std::streamsize>(wanted - had));
    bytes.resize(had + static_cast<size_t>(got));
    if (bytes.size() < wanted) break;  // the end of the file, or an error
  }
  if (!in.error().empty()) {
    error = "cannot read " + quoted(path) + ": " + in.error();
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
    return size_t{u32_le(b.data() + 8)};
  });
}

bool write_file(const std::string& path, const std::vector<unsigned char>& bytes,
                std::string& error, bool durable) {
  const int fd = open_output(path, error);
  if (fd < 0) return false;
  {
    FdOutput out(fd);  // the one write loop (drain), errors kept; the descriptor is ours
    out.sputn(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (out.pubsync() != 0) {
      error = "cannot write " + quoted(path) + ": " + out.error();
      ::close(fd);
      return false;
    }
  }
  if (durable && ::fsync(fd) != 0) {
    error = "cannot write " + quoted(path) + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (::close(fd) != 0) {  // (a full NFS disk may say so only here)
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
