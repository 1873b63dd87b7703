// File I/O for the host tools that never throws and says what went wrong: POSIX calls, with
// errno turned into a message. (std::ifstream's buffer throws std::ios_failure when read(2)
// fails, e.g. on a directory, and loses errno everywhere else.)
#ifndef STREAMIX_HOST_IO_H
#define STREAMIX_HOST_IO_H

#include <cstddef>
#include <cstdint>
#include <streambuf>
#include <string>
#include <vector>

namespace streamix::host {

// An input stream buffer over a file descriptor: underflow() reads with read(2) and gives
// end of input on an error, which error() then describes. Owns the descriptor if asked to.
class FdInput : public std::streambuf {
 public:
  explicit FdInput(int fd, bool owns = false) : fd_(fd), owns_(owns) {}
  ~FdInput() override;
  FdInput(const FdInput&) = delete;
  FdInput& operator=(const FdInput&) = delete;
  // Empty, or why reading stopped before the end (e.g. "Is a directory").
  const std::string& error() const { return error_; }

 protected:
  int_type underflow() override;

 private:
  int fd_;
  bool owns_;
  std::string error_;
  char buffer_[1 << 16];
};

// An output stream buffer over a file descriptor: writes with write(2); a failed write makes
// the stream bad, and error() says why. Flushes on destruction; owns the descriptor if asked.
class FdOutput : public std::streambuf {
 public:
  explicit FdOutput(int fd, bool owns = false) : fd_(fd), owns_(owns) {
    setp(buffer_, buffer_ + sizeof buffer_);
  }
  ~FdOutput() override;
  FdOutput(const FdOutput&) = delete;
  FdOutput& operator=(const FdOutput&) = delete;
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }

 protected:
  int_type overflow(int_type c) override;
  int sync() override;

 private:
  bool drain();
  int fd_;
  bool owns_;
  std::string error_;
  char buffer_[1 << 16];
};

// Opens (creates or truncates) path for writing. The descriptor, or -1 with error set.
int open_output(const std::string& path, std::string& error);

// Opens path for reading: a regular file, a FIFO or a character device, not a directory.
// The descriptor (>= 0), or -1 with error set ("'x' is a directory", "cannot open 'x': ...").
int open_input(const std::string& path, std::string& error);

// Reads all of path, at most max_bytes (more is an error, so that /dev/zero cannot exhaust
// memory). false with error ("... is empty", "... is larger than N bytes", ...).
bool read_file(const std::string& path, size_t max_bytes, std::vector<unsigned char>& bytes,
               std::string& error);

// The little-endian u32 at p (the snapshot formats' and the keyed detector file's integers).
inline uint32_t u32_le(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Appends v as 4 little-endian bytes (the inverse of u32_le).
inline void put_u32_le(std::vector<unsigned char>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

// Reads a snapshot file: its first 12 bytes declare its length (magic, version, length), and
// no more than that is read. false with error for an unreadable, empty or short file.
bool read_snapshot_file(const std::string& path, std::vector<unsigned char>& bytes,
                        std::string& error);

// Writes bytes to path (created or truncated) and closes it, checking every step; false with
// error ("cannot write 'x': No space left on device"). durable: fsync before closing (for a
// file that is renamed into place afterwards).
bool write_file(const std::string& path, const std::vector<unsigned char>& bytes,
                std::string& error, bool durable = false);

// Text as it may be echoed in a message: control bytes as \xNN, at most `shown` bytes of it
// and the full length said when cut ('1234567... (100000000 bytes)'). 40 suits a field;
// paths and names get kShownPath.
inline constexpr size_t kShownPath = 1024;
std::string printable(const std::string& text, size_t shown = 40);

}  // namespace streamix::host

#endif  // STREAMIX_HOST_IO_H
