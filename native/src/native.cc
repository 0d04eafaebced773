// metallb-ts native addon: the few system calls Node.js cannot make.
//
// - AF_PACKET sockets bound to one interface, with a classic BPF filter attached in the kernel, read through a
//   libuv poll handle so the event loop never blocks (ARP responder, gratuitous ARP, raw frame tests);
// - TCP_MD5SIG (RFC 2385) on a TCP socket, set before connect/listen (BGP passwords);
// - a few socket options and interface facts (index, MAC, flags, MTU) that `os.networkInterfaces()` lacks.
//
// Every failing call throws a JS Error whose `code` is the errno name (ENODEV, EPERM, ...), `errno` the number and
// `syscall` the call, like Node's own system errors. The TypeScript side turns them into tagged errors.

#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <atomic>
#include <mutex>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <thread>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err, const std::string& detail = "") {
  const char* name = strerrorname_np(err);
  std::string message = std::string(syscall) + " failed: " + (name ? name : "E?") + " (" + strerror(err) + ")";
  if (!detail.empty()) message += ": " + detail;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!detail.empty()) error.Set("detail", Napi::String::New(env, detail));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t& out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

// Parses an IPv4 or IPv6 literal into a sockaddr_storage. Returns the family or 0.
int ParseAddress(const std::string& text, uint16_t port, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return AF_INET;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return AF_INET6;
  }
  return 0;
}

// interfaceInfo(name) -> { index, mac: Buffer(6), flags, mtu }
Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "interfaceInfo(name): name must be a string");
  std::string name = info[0].As<Napi::String>();
  if (name.empty() || name.size() >= IFNAMSIZ) return ThrowErrno(env, "if_nametoindex", ENODEV, name);
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return ThrowErrno(env, "if_nametoindex", errno, name);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  Napi::Object result = Napi::Object::New(env);
  result.Set("index", Napi::Number::New(env, index));
  if (ioctl(fd, SIOCGIFHWADDR, &req) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "ioctl(SIOCGIFHWADDR)", err, name);
  }
  result.Set("mac", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(req.ifr_hwaddr.sa_data), 6));
  result.Set("hardwareType", Napi::Number::New(env, req.ifr_hwaddr.sa_family));
  if (ioctl(fd, SIOCGIFFLAGS, &req) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "ioctl(SIOCGIFFLAGS)", err, name);
  }
  result.Set("flags", Napi::Number::New(env, static_cast<uint16_t>(req.ifr_flags)));
  if (ioctl(fd, SIOCGIFMTU, &req) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "ioctl(SIOCGIFMTU)", err, name);
  }
  result.Set("mtu", Napi::Number::New(env, req.ifr_mtu));
  close(fd);
  return result;
}

// openPacket(ifname, ethertype, filter | null) -> { fd, index }
// filter: flat array of [code, jt, jf, k] quadruples (classic BPF), attached before bind so no unfiltered frame
// reaches the queue; frames queued between socket() and bind() (from other interfaces) are drained.
Napi::Value OpenPacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
    return ThrowType(env, "openPacket(ifname, ethertype, filter): bad arguments");
  std::string name = info[0].As<Napi::String>();
  uint16_t ethertype = static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value());
  if (name.empty() || name.size() >= IFNAMSIZ) return ThrowErrno(env, "if_nametoindex", ENODEV, name);
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return ThrowErrno(env, "if_nametoindex", errno, name);

  std::vector<sock_filter> program;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array flat = info[2].As<Napi::Array>();
    if (flat.Length() % 4 != 0 || flat.Length() == 0 || flat.Length() / 4 > BPF_MAXINSNS)
      return ThrowType(env, "openPacket: filter must be a non-empty flat list of [code, jt, jf, k] quadruples");
    for (uint32_t i = 0; i < flat.Length(); i += 4) {
      sock_filter insn{};
      insn.code = static_cast<uint16_t>(flat.Get(i).As<Napi::Number>().Uint32Value());
      insn.jt = static_cast<uint8_t>(flat.Get(i + 1).As<Napi::Number>().Uint32Value());
      insn.jf = static_cast<uint8_t>(flat.Get(i + 2).As<Napi::Number>().Uint32Value());
      insn.k = flat.Get(i + 3).As<Napi::Number>().Uint32Value();
      program.push_back(insn);
    }
  }

  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ethertype));
  if (fd < 0) return ThrowErrno(env, "socket(AF_PACKET)", errno, name);
  if (!program.empty()) {
    sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) {
      int err = errno;
      close(fd);
      return ThrowErrno(env, "setsockopt(SO_ATTACH_FILTER)", err, name);
    }
  }
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ethertype);
  addr.sll_ifindex = static_cast<int>(index);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "bind(AF_PACKET)", err, name);
  }
  uint8_t scratch[64];
  while (recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) >= 0) {
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  result.Set("index", Napi::Number::New(env, index));
  return result;
}

// addPacketMembership(fd, ifindex, mac: Buffer(6)): make the NIC accept a multicast MAC (e.g. 33:33:ff:xx:xx:xx).
Napi::Value AddPacketMembership(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, index;
  if (!ArgInt(info, 0, fd) || !ArgInt(info, 1, index) || info.Length() < 3 || !info[2].IsBuffer())
    return ThrowType(env, "addPacketMembership(fd, ifindex, mac): bad arguments");
  auto mac = info[2].As<Napi::Buffer<uint8_t>>();
  if (mac.Length() != 6) return ThrowType(env, "addPacketMembership: mac must be 6 bytes");
  packet_mreq req{};
  req.mr_ifindex = static_cast<int>(index);
  req.mr_type = PACKET_MR_MULTICAST;
  req.mr_alen = 6;
  std::memcpy(req.mr_address, mac.Data(), 6);
  bool add = info.Length() < 4 || info[3].ToBoolean().Value();
  if (setsockopt(static_cast<int>(fd), SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &req,
                 sizeof req) < 0)
    return ThrowErrno(env, add ? "setsockopt(PACKET_ADD_MEMBERSHIP)" : "setsockopt(PACKET_DROP_MEMBERSHIP)", errno);
  return env.Undefined();
}

// sendFrame(fd, buffer) -> bytes written. The socket is bound to one interface, so send() needs no address.
Napi::Value SendFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, fd) || info.Length() < 2 || !info[1].IsBuffer())
    return ThrowType(env, "sendFrame(fd, frame): bad arguments");
  auto frame = info[1].As<Napi::Buffer<uint8_t>>();
  ssize_t n = send(static_cast<int>(fd), frame.Data(), frame.Length(), MSG_DONTWAIT);
  if (n < 0) return ThrowErrno(env, "send(AF_PACKET)", errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, fd)) return ThrowType(env, "closeFd(fd): fd must be a number");
  if (close(static_cast<int>(fd)) < 0) return ThrowErrno(env, "close", errno);
  return env.Undefined();
}

// ARP requests (Ethernet/IPv4) for an owned address are answered natively, byte for byte the reply the JS responder
// builds. RequestTarget returns the frame's target IP (network order) when it is a request worth answering.
bool RequestTarget(const uint8_t* f, ssize_t n, int pkttype, uint32_t& target) {
  if (n < 42 || pkttype == PACKET_OTHERHOST || pkttype == PACKET_OUTGOING) return false;
  // Ethertype ARP at 12 (the kernel strips 802.1Q tags before the socket sees the frame); Ethernet/IPv4 request.
  static const uint8_t kRequest[10] = {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};
  if (std::memcmp(f + 12, kRequest, sizeof kRequest) != 0) return false;
  if (std::memcmp(f + 28, f + 38, 4) == 0) return false;  // gratuitous: it announces, it does not ask
  std::memcpy(&target, f + 38, 4);
  return true;
}

void BuildReply(const uint8_t* request, const uint8_t mac[6], uint8_t reply[42]) {
  const uint8_t* sha = request + 22;
  const uint8_t* spa = request + 28;
  const uint8_t* tpa = request + 38;
  std::memcpy(reply, sha, 6);
  std::memcpy(reply + 6, mac, 6);
  static const uint8_t kReply[10] = {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02};
  std::memcpy(reply + 12, kReply, sizeof kReply);
  std::memcpy(reply + 22, mac, 6);
  std::memcpy(reply + 28, tpa, 4);
  std::memcpy(reply + 32, sha, 6);
  std::memcpy(reply + 38, spa, 4);
}

// The table of owned IPv4 addresses, and threads of their own that answer ARP requests for them.
//
// One thread per CPU (up to kMaxThreads), each pinned to its CPU and blocked in poll() on a socket of its own (same
// interface, ARP only, a kernel filter that keeps only requests for the owned targets) and on an eventfd that stops
// them all. The sockets form a PACKET_FANOUT_CPU group: the kernel hands a request to the member of the CPU that
// received it, so the wake-up is local (no inter-processor interrupt, no idle CPU to bring out of sleep, the costly
// part of a wake-up on a virtual machine) and the reply waits for neither the event loop nor V8. A short scheduler
// slice lets the woken thread preempt whatever runs on that CPU. The reader's own socket still gets every request,
// for JS to count (flagged answered, so nothing answers twice). If the sockets cannot be opened, the reader answers
// inline, in its poll callback.
class ArpAnswerer {
 public:
  ~ArpAnswerer() { StopThreads(); }

  // Replaces the table; starts the threads for a non-empty one (on the reader's interface), stops them for an empty
  // one.
  void Set(int readerFd, const uint8_t mac[6], std::vector<uint32_t> ips) {
    std::vector<uint32_t> snapshot = ips;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::memcpy(mac_, mac, 6);
      ips_ = std::move(ips);
    }
    if (snapshot.empty()) {
      StopThreads();
      return;
    }
    if (socks_.empty()) StartThreads(readerFd);
    for (int sock : socks_) AttachFilter(sock, snapshot);
  }

  // The MAC to answer `target` with, if it is owned.
  bool Lookup(uint32_t target, uint8_t mac[6]) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint32_t ip : ips_) {
      if (ip == target) {
        std::memcpy(mac, mac_, 6);
        return true;
      }
    }
    return false;
  }

  size_t Threads() const { return threads_.size(); }
  double Answered() const { return static_cast<double>(answered_.load(std::memory_order_relaxed)); }
  double Dropped() {
    for (int sock : socks_) {
      tpacket_stats stats{};  // reading resets the kernel counters: accumulate
      socklen_t len = sizeof stats;
      if (getsockopt(sock, SOL_PACKET, PACKET_STATISTICS, &stats, &len) == 0) dropped_ += stats.tp_drops;
    }
    return static_cast<double>(dropped_);
  }

  void StopThreads() {
    if (wake_ >= 0 && !threads_.empty()) {
      uint64_t one = 1;  // nobody reads the eventfd: it stays readable and wakes every thread
      ssize_t ignored = write(wake_, &one, sizeof one);
      (void)ignored;
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    for (int sock : socks_) close(sock);
    socks_.clear();
    if (wake_ >= 0) close(wake_);
    wake_ = -1;
  }

 private:
  static constexpr int kMaxThreads = 32;

  // ARP requests whose target is one of `ips` (ld [38] reads the target big-endian); with too many addresses for
  // the 8-bit jump offsets, every ARP request (the thread checks the table anyway).
  static void AttachFilter(int fd, const std::vector<uint32_t>& ips) {
    std::vector<sock_filter> p;
    p.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12));
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_ARP, 0, 0));  // jf set to drop below
    p.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20));
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0));  // jf set to drop below
    if (!ips.empty() && ips.size() <= 200) {
      p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 38));
      for (size_t i = 0; i < ips.size(); i++) {
        // Equal: jump to accept, right after the list; otherwise the next comparison; after the last, drop.
        p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(ips[i]), static_cast<uint8_t>(ips.size() - 1 - i), 0));
      }
      p.back().jf = 1;
    }
    p.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffff));
    size_t drop = p.size();
    p.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
    p[1].jf = static_cast<uint8_t>(drop - 2);
    p[3].jf = static_cast<uint8_t>(drop - 4);
    sock_fprog fprog{static_cast<unsigned short>(p.size()), p.data()};
    setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog);
  }

  // A bound ARP socket on `ifindex` that passes nothing until its filter is set; -1 on failure.
  static int OpenSocket(int ifindex) {
    int sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (sock < 0) return -1;
    sock_filter none = BPF_STMT(BPF_RET | BPF_K, 0);
    sock_fprog fprog{1, &none};
    setsockopt(sock, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog);
    // Replies skip the qdisc layer (one frame, nothing to shape); room for a flood in the queue.
    int one = 1;
    setsockopt(sock, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    int size = 16 * 1024 * 1024;
    if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
      setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ARP);
    addr.sll_ifindex = ifindex;
    if (bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
      close(sock);
      return -1;
    }
    return sock;
  }

  void StartThreads(int readerFd) {
    sockaddr_ll bound{};
    socklen_t boundLen = sizeof bound;
    if (getsockname(readerFd, reinterpret_cast<sockaddr*>(&bound), &boundLen) < 0 || bound.sll_ifindex == 0) return;
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    int count = static_cast<int>(cpus < 1 ? 1 : cpus > kMaxThreads ? kMaxThreads : cpus);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    bool ok = wake_ >= 0;
    int group = 0;
    for (int i = 0; ok && i < count; i++) {
      int sock = OpenSocket(bound.sll_ifindex);
      ok = sock >= 0;
      if (!ok) break;
      socks_.push_back(sock);
      if (count == 1) break;
      // Member i gets the frames received on CPU i (modulo the member count); the first asks for a fresh group id.
      int arg = i == 0 ? (PACKET_FANOUT_CPU | PACKET_FANOUT_FLAG_UNIQUEID) << 16 : group | (PACKET_FANOUT_CPU << 16);
      ok = setsockopt(sock, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) == 0;
      if (ok && i == 0) {
        socklen_t len = sizeof group;
        ok = getsockopt(sock, SOL_PACKET, PACKET_FANOUT, &group, &len) == 0;
        group &= 0xffff;
      }
    }
    if (!ok) {
      StopThreads();  // no thread started yet: closes what was opened
      return;
    }
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    sched_getaffinity(0, sizeof allowed, &allowed);
    for (int i = 0; i < static_cast<int>(socks_.size()); i++) {
      int cpu = socks_.size() > 1 && CPU_ISSET(i, &allowed) ? i : -1;
      threads_.emplace_back(&ArpAnswerer::Run, this, socks_[static_cast<size_t>(i)], wake_, cpu);
    }
  }

  // Asks the scheduler for a short time slice (EEVDF custom slice, Linux 6.12+, sched_attr.sched_runtime under
  // SCHED_OTHER; no capability needed, unlike a real-time policy or a lower nice): an earlier virtual deadline, so
  // a woken answerer preempts the task running on its CPU instead of waiting for it to use up its slice. Best
  // effort: older kernels ignore the field, and the thread runs as any other.
  static void ShortSlice() {
    struct {
      uint32_t size, policy;
      uint64_t flags;
      int32_t nice;
      uint32_t priority;
      uint64_t runtime, deadline, period;
    } attr{};
    attr.size = sizeof attr;
    attr.policy = SCHED_OTHER;
    attr.nice = getpriority(PRIO_PROCESS, 0);
    attr.runtime = 100 * 1000;  // 0.1 ms, the kernel's floor
    syscall(SYS_sched_setattr, 0, &attr, 0);
  }

  void Run(int sock, int wake, int cpu) {
    if (cpu >= 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      sched_setaffinity(0, sizeof one, &one);
    }
    ShortSlice();
    pollfd fds[2] = {{sock, POLLIN, 0}, {wake, POLLIN, 0}};
    uint8_t buffer[128];  // an ARP request is 42 bytes (60 padded); longer frames are truncated, which is fine
    for (;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      // A socket error (ENETDOWN while the link is down) is returned, and cleared, by recvfrom.
      for (int i = 0; i < 256; i++) {
        sockaddr_ll from{};
        socklen_t fromLen = sizeof from;
        ssize_t n = recvfrom(sock, buffer, sizeof buffer, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fromLen);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          continue;
        }
        uint32_t target;
        uint8_t mac[6];
        if (!RequestTarget(buffer, n, from.sll_pkttype, target) || !Lookup(target, mac)) continue;
        uint8_t reply[42];
        BuildReply(buffer, mac, reply);
        if (send(sock, reply, sizeof reply, MSG_DONTWAIT) == static_cast<ssize_t>(sizeof reply))
          answered_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  std::mutex mutex_;
  std::vector<uint32_t> ips_;
  uint8_t mac_[6] = {0, 0, 0, 0, 0, 0};
  std::vector<int> socks_;
  std::vector<std::thread> threads_;
  int wake_ = -1;
  std::atomic<uint64_t> answered_{0};
  uint64_t dropped_ = 0;
};

// PacketReader: polls an AF_PACKET fd with libuv and delivers every readable batch as one call
// callback(frames: Buffer[], types: number[]) where types are sll_pkttype values (PACKET_HOST, PACKET_BROADCAST,
// ...). Frames this host sent itself (PACKET_OUTGOING) are skipped. Batching keeps a flood from costing one JS
// call per frame.
class PacketReader : public Napi::ObjectWrap<PacketReader> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "PacketReader", {InstanceMethod("close", &PacketReader::Close),
                                             InstanceMethod("setArpAnswers", &PacketReader::SetArpAnswers),
                                             InstanceMethod("arpStats", &PacketReader::ArpStats)});
  }

  explicit PacketReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketReader>(info) {
    Napi::Env env = info.Env();
    int64_t fd;
    if (!ArgInt(info, 0, fd) || info.Length() < 2 || !info[1].IsFunction()) {
      ThrowType(env, "new PacketReader(fd, callback): bad arguments");
      return;
    }
    fd_ = static_cast<int>(fd);
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "metallb.PacketReader");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "PacketReader: no libuv loop").ThrowAsJavaScriptException();
      return;
    }
    handle_ = new uv_poll_t;
    handle_->data = this;
    int rc = uv_poll_init(loop, handle_, fd_);
    if (rc == 0) rc = uv_poll_start(handle_, UV_READABLE, &PacketReader::OnReadable);
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, "uv_poll_start", -rc);
      return;
    }
    Ref();  // stay alive while polling, even if JS drops the object
  }

  ~PacketReader() override { Stop(); }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<PacketReader*>(handle->data);
    if (self == nullptr || self->handle_ == nullptr) return;
    if (status < 0) {
      // POLLERR (the kernel reports ENETDOWN on the socket when the link goes down): libuv has stopped the handle.
      // Read and clear the socket error, then poll again: the socket receives again once the link is back up.
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      uv_poll_start(handle, UV_READABLE, &PacketReader::OnReadable);
      return;
    }
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::Array frames = Napi::Array::New(env);
    Napi::Array types = Napi::Array::New(env);
    uint32_t count = 0;
    uint8_t buffer[65536];
    // Bounded batch so one busy socket cannot starve the loop.
    for (int i = 0; i < 256; i++) {
      sockaddr_ll from{};
      socklen_t fromLen = sizeof from;
      ssize_t n = recvfrom(self->fd_, buffer, sizeof buffer, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                           &fromLen);
      if (n < 0) break;
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      uint32_t type = from.sll_pkttype;
      if (self->AnswerArp(buffer, n, from.sll_pkttype)) type |= kAnswered;
      frames.Set(count, Napi::Buffer<uint8_t>::Copy(env, buffer, static_cast<size_t>(n)));
      types.Set(count, Napi::Number::New(env, type));
      count++;
    }
    if (count == 0) return;
    std::vector<napi_value> args{frames, types};
    self->callback_.MakeCallback(self->Value(), args, *self->context_);
  }

  // True when the request is for an owned address: the answerer's thread has answered it (from its own copy of the
  // frame), or, without the thread, the reply is sent here, before the frame reaches JavaScript.
  bool AnswerArp(const uint8_t* f, ssize_t n, int pkttype) {
    uint32_t target;
    uint8_t mac[6];
    if (!RequestTarget(f, n, pkttype, target) || !arp_.Lookup(target, mac)) return false;
    if (arp_.Threads() > 0) return true;
    uint8_t reply[42];
    BuildReply(f, mac, reply);
    return send(fd_, reply, sizeof reply, MSG_DONTWAIT) == static_cast<ssize_t>(sizeof reply);
  }

  // setArpAnswers(mac: Buffer(6), ips: Buffer(4 × n)): replaces the table (an empty ips buffer turns it off).
  Napi::Value SetArpAnswers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsBuffer())
      return ThrowType(env, "setArpAnswers(mac, ips): bad arguments");
    auto mac = info[0].As<Napi::Buffer<uint8_t>>();
    auto ips = info[1].As<Napi::Buffer<uint8_t>>();
    if (mac.Length() != 6 || ips.Length() % 4 != 0)
      return ThrowType(env, "setArpAnswers: mac must be 6 bytes and ips a multiple of 4 bytes");
    std::vector<uint32_t> table(ips.Length() / 4, 0);
    for (size_t i = 0; i < table.size(); i++) std::memcpy(&table[i], ips.Data() + 4 * i, 4);
    if (handle_ == nullptr) table.clear();  // a closed reader answers nothing and keeps no thread
    arp_.Set(fd_, mac.Data(), std::move(table));
    return env.Undefined();
  }

  // arpStats() -> { threads, answeredByThreads, droppedByThreads }
  Napi::Value ArpStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object stats = Napi::Object::New(env);
    stats.Set("threads", Napi::Number::New(env, static_cast<double>(arp_.Threads())));
    stats.Set("answeredByThreads", Napi::Number::New(env, arp_.Answered()));
    stats.Set("droppedByThreads", Napi::Number::New(env, arp_.Dropped()));
    return stats;
  }

  void Stop() {
    arp_.StopThreads();
    if (handle_ == nullptr) return;
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      Stop();
      Unref();
    }
    return info.Env().Undefined();
  }

  static constexpr uint32_t kAnswered = 0x100;
  int fd_ = -1;
  uv_poll_t* handle_ = nullptr;
  ArpAnswerer arp_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

// tcpSocket(family: 4 | 6) -> fd: a non-blocking TCP socket to hand to `new net.Socket({ fd })` or
// `server.listen({ fd })` after options that must precede connect/listen (MD5, TTL, source address) are set.
Napi::Value TcpSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t family;
  if (!ArgInt(info, 0, family) || (family != 4 && family != 6))
    return ThrowType(env, "tcpSocket(family): family must be 4 or 6");
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, "socket(SOCK_STREAM)", errno);
  return Napi::Number::New(env, fd);
}

// bindAddress(fd, address, port): bind a socket from tcpSocket to a local address (BGP sourceAddress) or port.
Napi::Value BindAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, port;
  if (!ArgInt(info, 0, fd) || info.Length() < 3 || !info[1].IsString() || !ArgInt(info, 2, port))
    return ThrowType(env, "bindAddress(fd, address, port): bad arguments");
  std::string text = info[1].As<Napi::String>();
  sockaddr_storage addr;
  socklen_t len;
  if (ParseAddress(text, static_cast<uint16_t>(port), addr, len) == 0)
    return ThrowErrno(env, "inet_pton", EINVAL, text);
  int one = 1;
  setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), len) < 0)
    return ThrowErrno(env, "bind", errno, text);
  return env.Undefined();
}

// setTcpMd5(fd, peerAddress, key: Buffer, prefixLength?) -> sets or (empty key) clears the RFC 2385 key for a peer
// or, with a prefix length, for a whole peer prefix (TCP_MD5SIG_EXT), e.g. a listening socket for dynamic peers.
Napi::Value SetTcpMd5(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, fd) || info.Length() < 3 || !info[1].IsString() || !info[2].IsBuffer())
    return ThrowType(env, "setTcpMd5(fd, peerAddress, key, prefixLength?): bad arguments");
  std::string peer = info[1].As<Napi::String>();
  auto key = info[2].As<Napi::Buffer<uint8_t>>();
  if (key.Length() > TCP_MD5SIG_MAXKEYLEN)
    return ThrowErrno(env, "setsockopt(TCP_MD5SIG)", EINVAL, "key longer than 80 bytes");
  tcp_md5sig sig{};
  socklen_t len;
  if (ParseAddress(peer, 0, sig.tcpm_addr, len) == 0) return ThrowErrno(env, "inet_pton", EINVAL, peer);
  sig.tcpm_keylen = static_cast<uint16_t>(key.Length());
  std::memcpy(sig.tcpm_key, key.Data(), key.Length());
  int option = TCP_MD5SIG;
  int64_t prefix;
  if (ArgInt(info, 3, prefix)) {
    sig.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
    sig.tcpm_prefixlen = static_cast<uint8_t>(prefix);
    option = TCP_MD5SIG_EXT;
  }
  if (setsockopt(static_cast<int>(fd), IPPROTO_TCP, option, &sig, sizeof sig) < 0)
    return ThrowErrno(env, "setsockopt(TCP_MD5SIG)", errno, peer);
  return env.Undefined();
}

// setSockOptInt(fd, level, name, value) / getSockOptInt(fd, level, name): integer socket options (IP_TTL,
// IPV6_UNICAST_HOPS, IP_MINTTL, SO_RCVBUF, ...).
Napi::Value SetSockOptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, level, name, value;
  if (!ArgInt(info, 0, fd) || !ArgInt(info, 1, level) || !ArgInt(info, 2, name) || !ArgInt(info, 3, value))
    return ThrowType(env, "setSockOptInt(fd, level, name, value): bad arguments");
  int v = static_cast<int>(value);
  if (setsockopt(static_cast<int>(fd), static_cast<int>(level), static_cast<int>(name), &v, sizeof v) < 0)
    return ThrowErrno(env, "setsockopt", errno);
  return env.Undefined();
}

Napi::Value GetSockOptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, level, name;
  if (!ArgInt(info, 0, fd) || !ArgInt(info, 1, level) || !ArgInt(info, 2, name))
    return ThrowType(env, "getSockOptInt(fd, level, name): bad arguments");
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(static_cast<int>(fd), static_cast<int>(level), static_cast<int>(name), &v, &len) < 0)
    return ThrowErrno(env, "getsockopt", errno);
  return Napi::Number::New(env, v);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("interfaceInfo", Napi::Function::New(env, InterfaceInfo));
  exports.Set("openPacket", Napi::Function::New(env, OpenPacket));
  exports.Set("addPacketMembership", Napi::Function::New(env, AddPacketMembership));
  exports.Set("sendFrame", Napi::Function::New(env, SendFrame));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("PacketReader", PacketReader::Init(env));
  exports.Set("tcpSocket", Napi::Function::New(env, TcpSocket));
  exports.Set("bindAddress", Napi::Function::New(env, BindAddress));
  exports.Set("setTcpMd5", Napi::Function::New(env, SetTcpMd5));
  exports.Set("setSockOptInt", Napi::Function::New(env, SetSockOptInt));
  exports.Set("getSockOptInt", Napi::Function::New(env, GetSockOptInt));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("IPPROTO_IP", Napi::Number::New(env, static_cast<double>(IPPROTO_IP)));
  constants.Set("IPPROTO_IPV6", Napi::Number::New(env, static_cast<double>(IPPROTO_IPV6)));
  constants.Set("IPPROTO_TCP", Napi::Number::New(env, static_cast<double>(IPPROTO_TCP)));
  constants.Set("SOL_SOCKET", Napi::Number::New(env, static_cast<double>(SOL_SOCKET)));
  constants.Set("IP_TTL", Napi::Number::New(env, static_cast<double>(IP_TTL)));
  constants.Set("IP_MINTTL", Napi::Number::New(env, static_cast<double>(IP_MINTTL)));
  constants.Set("IPV6_UNICAST_HOPS", Napi::Number::New(env, static_cast<double>(IPV6_UNICAST_HOPS)));
  constants.Set("IPV6_MINHOPCOUNT", Napi::Number::New(env, static_cast<double>(73)));
  constants.Set("SO_RCVBUF", Napi::Number::New(env, static_cast<double>(SO_RCVBUF)));
  constants.Set("SO_RCVBUFFORCE", Napi::Number::New(env, static_cast<double>(SO_RCVBUFFORCE)));
  constants.Set("IFF_UP", Napi::Number::New(env, static_cast<double>(IFF_UP)));
  constants.Set("IFF_BROADCAST", Napi::Number::New(env, static_cast<double>(IFF_BROADCAST)));
  constants.Set("IFF_LOOPBACK", Napi::Number::New(env, static_cast<double>(IFF_LOOPBACK)));
  constants.Set("IFF_NOARP", Napi::Number::New(env, static_cast<double>(IFF_NOARP)));
  constants.Set("IFF_RUNNING", Napi::Number::New(env, static_cast<double>(IFF_RUNNING)));
  constants.Set("PACKET_HOST", Napi::Number::New(env, static_cast<double>(PACKET_HOST)));
  constants.Set("PACKET_BROADCAST", Napi::Number::New(env, static_cast<double>(PACKET_BROADCAST)));
  constants.Set("PACKET_MULTICAST", Napi::Number::New(env, static_cast<double>(PACKET_MULTICAST)));
  constants.Set("PACKET_OTHERHOST", Napi::Number::New(env, static_cast<double>(PACKET_OTHERHOST)));
  constants.Set("PACKET_ANSWERED", Napi::Number::New(env, 0x100));
  exports.Set("constants", constants);
  return exports;
}

}  // namespace

NODE_API_MODULE(metallb_native, Init)
